"""A fixed-size hash table of keyed slots in a file that several processes map, locked with
`fcntl.lockf` on that file.

The layout (native byte order, all offsets fixed by the geometry in the header):

- header: magic, geometry (slots, slot size, key bytes, value bytes), the bytes the owner
  accounts as used, the number of slots in use, the least/most recently used slots, the free
  list and how many slots were ever handed out;
- bucket heads, one per slot;
- slots: hash, bucket chain link, LRU links, the key's real length, the stored key's length,
  `value_bytes` for the owner's fields, then the key (up to `key_bytes`; a longer key is
  stored as its 32-byte blake2b digest, told apart by its real length).

Every link is a slot number plus one, so a file of zeros past the header is an empty table:
creating a zone writes the header only, and pages of slots never used are never touched.

The table does not lock by itself: its owner calls `lock()` / `unlock()` around each operation
on the zone (two system calls). lockf locks belong to the process and the kernel drops them
when it dies, so a worker killed inside an operation blocks nobody. They do not exclude the
same process, which is single-threaded here.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import zlib
from collections.abc import Iterator

MAGIC = b"hdslots1"
DIGEST_BYTES = 32
_HEADER = struct.Struct("=8sIIII q IIIII")  # magic, geometry, used, count, lru, free, fresh
HEADER_BYTES = 64
_SLOT = struct.Struct("=IIIIII")  # hash, chain, prev, next, key length, stored length
_U32 = struct.Struct("=I")
_I64 = struct.Struct("=q")
_USED, _COUNT, _HEAD, _TAIL, _FREE, _FRESH = 24, 32, 36, 40, 44, 48
_HASH, _CHAIN, _PREV, _NEXT, _KEY_LEN, _STORED_LEN = 0, 4, 8, 12, 16, 20
SLOT_HEADER = _SLOT.size


class TableFull(Exception):
    """No slot left: the owner's byte accounting should have refused first."""


def _align8(n: int) -> int:
    return (n + 7) & ~7


class SlotTable:
    def __init__(self, path: str, slots: int, key_bytes: int, value_bytes: int) -> None:
        """Open the table at `path`, creating it (or finding it created by another process)."""
        if key_bytes < DIGEST_BYTES:
            raise ValueError("key_bytes must hold a digest")
        self.path = path
        self.slots = slots
        self.key_bytes = key_bytes
        self.value_bytes = _align8(value_bytes)
        self.slot_size = _align8(SLOT_HEADER + self.value_bytes + key_bytes)
        self.buckets = slots
        self.first_slot = _align8(HEADER_BYTES + 4 * self.buckets)
        length = self.first_slot + self.slot_size * slots
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self.lock()
            try:
                if os.fstat(self.fd).st_size < length:
                    os.ftruncate(self.fd, length)
                self.memory = mmap.mmap(self.fd, length)
                self._check_or_write_header()
            finally:
                self.unlock()
        except BaseException:
            os.close(self.fd)
            raise

    @classmethod
    def open_existing(cls, path: str) -> SlotTable | None:
        """Open a table another process created, with the geometry its header gives; None if
        its creator has not written the header yet (the table is empty)."""
        with open(path, "rb") as fh:
            header = fh.read(_HEADER.size)
        if len(header) < _HEADER.size or header[:len(MAGIC)] != MAGIC:
            return None
        _, slots, _, key_bytes, value_bytes, *_ = _HEADER.unpack(header)
        return cls(path, slots, key_bytes, value_bytes)

    def _check_or_write_header(self) -> None:
        geometry = (self.slots, self.slot_size, self.key_bytes, self.value_bytes)
        magic, *found = _HEADER.unpack_from(self.memory, 0)[:5]
        if magic == MAGIC:
            if tuple(found) != geometry:
                raise ValueError(f"{self.path}: geometry {found} is not {geometry}")
            return
        _HEADER.pack_into(self.memory, 0, b"\0" * 8, *geometry, 0, 0, 0, 0, 0, 0)
        self.memory[:8] = MAGIC  # last: a reader never sees a magic before the geometry

    def close(self) -> None:
        self.memory.close()
        os.close(self.fd)

    # ------------------------------------------------------------------ locking
    def lock(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ header fields
    def _u32(self, offset: int) -> int:
        return _U32.unpack_from(self.memory, offset)[0]

    def _set_u32(self, offset: int, value: int) -> None:
        _U32.pack_into(self.memory, offset, value)

    @property
    def used(self) -> int:
        return _I64.unpack_from(self.memory, _USED)[0]

    @used.setter
    def used(self, value: int) -> None:
        _I64.pack_into(self.memory, _USED, value)

    @property
    def count(self) -> int:
        return self._u32(_COUNT)

    # ------------------------------------------------------------------ slots
    def slot_offset(self, slot: int) -> int:
        return self.first_slot + slot * self.slot_size

    def value_offset(self, slot: int) -> int:
        """Where the owner's `value_bytes` of `slot` start in `memory`."""
        return self.first_slot + slot * self.slot_size + SLOT_HEADER

    def _stored(self, key: bytes) -> bytes:
        if len(key) <= self.key_bytes:
            return key
        return hashlib.blake2b(key, digest_size=DIGEST_BYTES).digest()

    def find(self, key: bytes) -> int:
        """The slot holding `key`, or -1."""
        stored = self._stored(key)
        hashed = zlib.crc32(stored)
        memory = self.memory
        link = self._u32(HEADER_BYTES + 4 * (hashed % self.buckets))
        while link:
            base = self.slot_offset(link - 1)
            slot_hash, chain, _, _, key_len, stored_len = _SLOT.unpack_from(memory, base)
            if (slot_hash == hashed and key_len == len(key) and stored_len == len(stored)
                    and memory[base + SLOT_HEADER + self.value_bytes:
                               base + SLOT_HEADER + self.value_bytes + stored_len] == stored):
                return link - 1
            link = chain
        return -1

    def stored_key(self, slot: int) -> bytes:
        """The key as stored (the key itself unless it was longer than `key_bytes`)."""
        base = self.slot_offset(slot)
        stored_len = self._u32(base + _STORED_LEN)
        start = base + SLOT_HEADER + self.value_bytes
        return bytes(self.memory[start:start + stored_len])

    def insert(self, key: bytes) -> int:
        """A new slot for `key` (not present), most recently used, its values zero."""
        slot = self._take_free()
        stored = self._stored(key)
        hashed = zlib.crc32(stored)
        bucket = HEADER_BYTES + 4 * (hashed % self.buckets)
        base = self.slot_offset(slot)
        tail = self._u32(_TAIL)
        _SLOT.pack_into(self.memory, base, hashed, self._u32(bucket), tail, 0, len(key),
                        len(stored))
        start = base + SLOT_HEADER
        self.memory[start:start + self.value_bytes] = bytes(self.value_bytes)
        start += self.value_bytes
        self.memory[start:start + len(stored)] = stored
        self._set_u32(bucket, slot + 1)
        if tail:
            self._set_u32(self.slot_offset(tail - 1) + _NEXT, slot + 1)
        else:
            self._set_u32(_HEAD, slot + 1)
        self._set_u32(_TAIL, slot + 1)
        self._set_u32(_COUNT, self.count + 1)
        return slot

    def _take_free(self) -> int:
        free = self._u32(_FREE)
        if free:
            self._set_u32(_FREE, self._u32(self.slot_offset(free - 1) + _CHAIN))
            return free - 1
        fresh = self._u32(_FRESH)
        if fresh >= self.slots:
            raise TableFull(self.path)
        self._set_u32(_FRESH, fresh + 1)
        return fresh

    def remove(self, slot: int) -> None:
        base = self.slot_offset(slot)
        slot_hash, chain, prev, following, _, _ = _SLOT.unpack_from(self.memory, base)
        # Out of the bucket chain (singly linked: find the link that points here).
        at = HEADER_BYTES + 4 * (slot_hash % self.buckets)
        while self._u32(at) != slot + 1:
            at = self.slot_offset(self._u32(at) - 1) + _CHAIN
        self._set_u32(at, chain)
        self._unlink_lru(prev, following)
        self._set_u32(base + _CHAIN, self._u32(_FREE))
        self._set_u32(_FREE, slot + 1)
        self._set_u32(_COUNT, self.count - 1)

    def _unlink_lru(self, prev: int, following: int) -> None:
        if prev:
            self._set_u32(self.slot_offset(prev - 1) + _NEXT, following)
        else:
            self._set_u32(_HEAD, following)
        if following:
            self._set_u32(self.slot_offset(following - 1) + _PREV, prev)
        else:
            self._set_u32(_TAIL, prev)

    def touch(self, slot: int) -> None:
        """Make `slot` the most recently used."""
        tail = self._u32(_TAIL)
        if tail == slot + 1:
            return
        base = self.slot_offset(slot)
        self._unlink_lru(self._u32(base + _PREV), self._u32(base + _NEXT))
        tail = self._u32(_TAIL)
        self._set_u32(base + _PREV, tail)
        self._set_u32(base + _NEXT, 0)
        if tail:
            self._set_u32(self.slot_offset(tail - 1) + _NEXT, slot + 1)
        else:
            self._set_u32(_HEAD, slot + 1)
        self._set_u32(_TAIL, slot + 1)

    def oldest(self) -> int:
        """The least recently used slot, or -1."""
        return self._u32(_HEAD) - 1

    def in_lru_order(self) -> Iterator[int]:
        """Every slot in use, least recently used first (do not remove while iterating)."""
        link = self._u32(_HEAD)
        while link:
            yield link - 1
            link = self._u32(self.slot_offset(link - 1) + _NEXT)
