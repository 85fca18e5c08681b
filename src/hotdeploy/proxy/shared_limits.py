"""limit_req / limit_conn zones that all worker processes of `worker_processes N` share, as
nginx's zones live in shared memory.

Each zone is a file in the master's run directory, named by kind, name and size
(`limit_req.NAME.SIZE`), holding a proxy/slot_table.py table that every worker maps. A file, not
an anonymous mapping made before the fork: a zone that a reload adds is opened by the running
workers, and a reload that keeps a zone's kind and size opens the same file (its states stay);
a new size is a new file (an empty zone).

The algorithm is not here: `SharedReqZone` and `SharedConnZone` are the pure classes of
limit_req.py / limit_conn.py run on a store whose nodes are fields of a slot, each operation
between one `lockf` lock and unlock of the zone file. The table has a slot for the smallest
node the zone's size can hold, so only the byte accounting of the pure classes ever says
"full".

limit_conn counts are also kept per worker in each slot: when a worker dies, the master gives
back the counts of the requests it had in flight (`release_worker`); nginx keeps them until the
zone is recreated.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from urllib.parse import quote

from hotdeploy.proxy import limit_conn, limit_req
from hotdeploy.proxy.limiting import MAX_CONN_KEY
from hotdeploy.proxy.slot_table import SlotTable
from hotdeploy.upstream.zone import MAX_WORKERS

# Keys stored whole up to this; longer limit_req keys are stored as a digest (the byte
# accounting still uses their real length). limit_conn keys are at most 255 bytes
# (proxy/limiting.py refuses longer), so they are always stored whole: the master can give back
# a dead worker's counts key by key.
REQ_KEY_BYTES = 64
CONN_KEY_BYTES = MAX_CONN_KEY

_I64 = struct.Struct("=q")
_I32 = struct.Struct("=i")
_U32 = struct.Struct("=I")


def zone_file(rundir: str, kind: str, name: str, size: int) -> str:
    return os.path.join(rundir, f"limit_{kind}.{quote(name, safe='')}.{size}")


# ---------------------------------------------------------------------- limit_req


def _field(codec: struct.Struct, offset: int) -> property:
    def get(node: SlotNode) -> int:
        return codec.unpack_from(node.memory, node.base + offset)[0]

    def put(node: SlotNode, value: int) -> None:
        codec.pack_into(node.memory, node.base + offset, value)

    return property(get, put)


class SlotNode:
    """A limit_req node whose fields live in a slot of the zone file."""

    __slots__ = ("base", "memory")

    def __init__(self, table: SlotTable, slot: int) -> None:
        self.memory = table.memory
        self.base = table.value_offset(slot)

    excess = _field(_I64, 0)
    last = _field(_I64, 8)
    count = _field(_I32, 16)
    size = _field(_U32, 20)


REQ_VALUE_BYTES = 24


class SharedNodes:
    """limit_req.Nodes on a slot table (the caller holds the lock)."""

    def __init__(self, table: SlotTable) -> None:
        self.table = table
        self._found_key: bytes | None = None  # the key `get` found last, and its slot
        self._found_slot = -1

    def forget(self) -> None:
        """At each lock: what `get` found may have changed in another process since."""
        self._found_key = None

    def get(self, key: bytes) -> SlotNode | None:
        slot = self.table.find(key)
        if slot < 0:
            return None
        self._found_key, self._found_slot = key, slot
        return SlotNode(self.table, slot)

    def move_to_end(self, key: bytes) -> None:
        slot = self._found_slot if key is self._found_key else self.table.find(key)
        self.table.touch(slot)

    def values(self) -> Iterator[SlotNode]:
        for slot in self.table.in_lru_order():
            yield SlotNode(self.table, slot)

    def popitem(self, last: bool) -> tuple[bytes, None]:
        assert not last
        slot = self.table.oldest()
        key = self.table.stored_key(slot)
        self.table.remove(slot)
        self._found_key = None
        return key, None

    def add(self, key: bytes, size: int) -> SlotNode:
        node = SlotNode(self.table, self.table.insert(key))
        node.size = size
        return node

    def __len__(self) -> int:
        return self.table.count

    def __iter__(self) -> Iterator[bytes]:
        """The stored keys, least recently used first (for tests and inspection)."""
        for slot in self.table.in_lru_order():
            yield self.table.stored_key(slot)


class _TableUsage:
    """A zone's `used` (slab bytes of its nodes) kept in the shared table's header, where
    every worker sees it (ReqZone and ConnZone read and write the attribute)."""

    table: SlotTable

    @property
    def used(self) -> int:
        return self.table.used

    @used.setter
    def used(self, value: int) -> None:
        self.table.used = value


class SharedReqZone(_TableUsage, limit_req.ReqZone):
    """A ReqZone whose states every worker shares; one lock per lookup / account."""

    def __init__(self, name: str, rate: int, size: int, table: SlotTable) -> None:
        self.table = table
        self.shared_nodes = SharedNodes(table)
        super().__init__(name, rate, size, self.shared_nodes)

    def lookup(self, key: bytes, burst: int, account: bool, now: int,
               ) -> tuple[str, int, limit_req.Node | None]:
        self.table.lock()
        try:
            self.shared_nodes.forget()
            return limit_req.ReqZone.lookup(self, key, burst, account, now)
        finally:
            self.table.unlock()

    def account(self, node: limit_req.Node, now: int) -> int:
        self.table.lock()
        try:
            return limit_req.ReqZone.account(self, node, now)
        finally:
            self.table.unlock()

    def unhold(self, node: limit_req.Node) -> None:
        self.table.lock()
        try:
            limit_req.ReqZone.unhold(self, node)
        finally:
            self.table.unlock()


def req_table(path: str, size: int) -> SlotTable:
    slots = max(size // limit_req.SMALLEST_NODE, 1)
    return SlotTable(path, slots, REQ_KEY_BYTES, REQ_VALUE_BYTES)


# ---------------------------------------------------------------------- limit_conn

# A slot's fields: the key's count over all workers, then each worker's share of it.
_TOTAL = 0
_PER_WORKER = 8
CONN_VALUE_BYTES = _PER_WORKER + 4 * MAX_WORKERS


class SharedCounts:
    """limit_conn.Counts on a slot table, for the requests of worker `worker` (the caller holds
    the lock). A change of a key's count is also added to that worker's share of it."""

    def __init__(self, table: SlotTable, worker: int) -> None:
        self.table = table
        self.mine = _PER_WORKER + 4 * worker
        self._found_key: bytes | None = None
        self._found_slot = -1

    def forget(self) -> None:
        self._found_key = None

    def _slot(self, key: bytes) -> int:
        if key is self._found_key:
            return self._found_slot
        slot = self.table.find(key)
        self._found_key, self._found_slot = key, slot
        return slot

    def get(self, key: bytes, default: int | None = None, /) -> int | None:
        slot = self._slot(key)
        if slot < 0:
            return default
        return _U32.unpack_from(self.table.memory, self.table.value_offset(slot) + _TOTAL)[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self._slot(key) >= 0

    def __setitem__(self, key: bytes, count: int) -> None:
        slot = self._slot(key)
        if slot < 0:
            slot = self.table.insert(key)
            self._found_key, self._found_slot = key, slot
        self._change(slot, count)

    def __delitem__(self, key: bytes) -> None:
        slot = self._slot(key)
        if slot < 0:
            raise KeyError(key)
        self._change(slot, 0)
        self.table.remove(slot)
        self._found_key = None

    def _change(self, slot: int, count: int) -> None:
        memory, base = self.table.memory, self.table.value_offset(slot)
        delta = count - _U32.unpack_from(memory, base + _TOTAL)[0]
        _U32.pack_into(memory, base + _TOTAL, count)
        share = _U32.unpack_from(memory, base + self.mine)[0]
        _U32.pack_into(memory, base + self.mine, max(share + delta, 0))

    def held(self) -> list[tuple[bytes, int]]:
        """(key, this worker's share) of every key it holds counts of."""
        memory, held = self.table.memory, []
        for slot in self.table.in_lru_order():
            share = _U32.unpack_from(memory, self.table.value_offset(slot) + self.mine)[0]
            if share:
                held.append((self.table.stored_key(slot), share))
        return held

    def items(self) -> Iterator[tuple[bytes, int]]:
        """(key, count over all workers), for tests and inspection."""
        memory = self.table.memory
        for slot in self.table.in_lru_order():
            total = _U32.unpack_from(memory, self.table.value_offset(slot) + _TOTAL)[0]
            yield self.table.stored_key(slot), total


class SharedConnZone(_TableUsage, limit_conn.ConnZone):
    """A ConnZone whose counts every worker shares; one lock per acquire / release."""

    def __init__(self, name: str, size: int, table: SlotTable, worker: int) -> None:
        self.table = table
        self.shared_counts = SharedCounts(table, worker)
        super().__init__(name, size, self.shared_counts)

    def acquire(self, key: bytes, limit: int) -> str:
        self.table.lock()
        try:
            self.shared_counts.forget()
            return limit_conn.ConnZone.acquire(self, key, limit)
        finally:
            self.table.unlock()

    def release(self, key: bytes) -> None:
        self.table.lock()
        try:
            self.shared_counts.forget()
            limit_conn.ConnZone.release(self, key)
        finally:
            self.table.unlock()

    def release_all_held(self) -> int:
        """Give back every count this zone's worker holds (it died); how many."""
        self.table.lock()
        try:
            self.shared_counts.forget()
            released = 0
            for key, share in self.shared_counts.held():
                for _ in range(share):
                    limit_conn.ConnZone.release(self, key)
                released += share
            return released
        finally:
            self.table.unlock()


def conn_table(path: str, size: int) -> SlotTable:
    slots = max(size // limit_conn.SMALLEST_NODE, 1)
    return SlotTable(path, slots, CONN_KEY_BYTES, CONN_VALUE_BYTES)


# ---------------------------------------------------------------------- the workers' side


class SharedZones:
    """proxy.limiting's zone maker for worker `worker`: zones in files under `rundir`."""

    def __init__(self, rundir: str, worker: int) -> None:
        self.rundir = rundir
        self.worker = worker
        # Every file this process opened, open until it exits: closing any descriptor of a
        # file drops this process's lockf lock on it, so a zone dropped by a reload and added
        # again must not get a second descriptor whose collection could close the first.
        self.tables: dict[str, SlotTable] = {}

    def _table(self, kind: str, name: str, size: int) -> SlotTable:
        path = zone_file(self.rundir, kind, name, size)
        table = self.tables.get(path)
        if table is None:
            table = self.tables[path] = (req_table if kind == "req" else conn_table)(path, size)
        return table

    def req_zone(self, name: str, rate: int, size: int) -> limit_req.ReqZone:
        return SharedReqZone(name, rate, size, self._table("req", name, size))

    def conn_zone(self, name: str, size: int) -> limit_conn.ConnZone:
        return SharedConnZone(name, size, self._table("conn", name, size), self.worker)


def release_worker(rundir: str, worker: int) -> int:
    """The master, after worker `worker` exited: give back the limit_conn counts of the
    requests it had in flight, in every zone file; how many."""
    released = 0
    for entry in sorted(os.listdir(rundir)):
        if not entry.startswith("limit_conn."):
            continue
        name, _, size = entry[len("limit_conn."):].rpartition(".")
        table = SlotTable.open_existing(os.path.join(rundir, entry))
        if table is None:
            continue  # being created: it holds nothing yet
        try:
            released += SharedConnZone(name, int(size), table, worker).release_all_held()
        finally:
            table.close()
    return released
