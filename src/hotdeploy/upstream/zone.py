"""The shared upstream table of `worker_processes N` (nginx's `zone`): one anonymous shared
mapping the master creates before it forks, so every worker sees the same memory.

No lock and no system call on the request path: every field has a single writer.

- Per (server slot, worker) record: the worker's own in-flight count, passive failure state
  (fails / accessed / checked, monotonic seconds, a clock all processes share) and its
  statistics. Only that worker writes it; readers sum the records of all workers.
- Per server slot: the active health verdict and check counters, written only by the worker
  that runs the health checks.
- Header: the generation of API changes (bumped under the API lock, see lb/zonesync.py) and the
  reload epoch (bumped by the master).
- Slot keys ("upstream server-address backup") are allocated under the API lock, once per
  server for the life of the master; a server keeps its slot (and its counters) across reloads.

The mapping is plain memory viewed as float64 (integers up to 2**53 are exact), so a store is
one `memoryview` assignment.
"""

from __future__ import annotations

import mmap
from typing import Final

from hotdeploy.defaults import UPSTREAM_LATENCY_BUCKETS

MAX_WORKERS: Final = 64
MAX_SLOTS: Final = 1024
KEY_BYTES: Final = 256

HEADER: Final = 8
GENERATION: Final = 0  # API changes
EPOCH: Final = 1  # reloads

# Per-worker record fields.
CONNS, FAILS, ACCESSED, CHECKED = 0, 1, 2, 3
REQUESTS, SENT, RECEIVED, FAILS_TOTAL, UNAVAIL, RETRIES, LATENCY_SUM = 4, 5, 6, 7, 8, 9, 10
RESPONSES: Final = 11  # six: 1xx..5xx, total
BUCKETS: Final = RESPONSES + 6
RECORD: Final = BUCKETS + len(UPSTREAM_LATENCY_BUCKETS) + 1

# Per-slot health fields (single writer: the health-check worker).
HEALTH, HC_CHECKS, HC_FAILS, HC_UNHEALTHY, HC_LAST_PASSED = 0, 1, 2, 3, 4
HEALTH_RECORD: Final = 8
HEALTH_CODES: Final = {"healthy": 1.0, "unhealthy": 2.0, "checking": 3.0}
HEALTH_NAMES: Final = {code: name for name, code in HEALTH_CODES.items()}


class ZoneTable:
    """The shared mapping and its layout; `create` in the master, inherited by fork."""

    def __init__(self, memory: mmap.mmap, workers: int = MAX_WORKERS,
                 slots: int = MAX_SLOTS) -> None:
        self.memory = memory
        self.workers = workers
        self.slots = slots
        self.keys_at = 0
        numbers_at = slots * KEY_BYTES
        self.values = memoryview(memory)[numbers_at:].cast("d")
        self.health_at = HEADER
        self.records_at = HEADER + slots * HEALTH_RECORD
        self._slot_of: dict[str, int] = {}

    @classmethod
    def create(cls, workers: int = MAX_WORKERS, slots: int = MAX_SLOTS) -> ZoneTable:
        doubles = HEADER + slots * HEALTH_RECORD + slots * workers * RECORD
        size = slots * KEY_BYTES + doubles * 8
        # MAP_SHARED | MAP_ANONYMOUS: shared with the children forked later; pages nobody
        # touches are never allocated.
        return cls(mmap.mmap(-1, size), workers, slots)

    # ------------------------------------------------------------------ layout
    def record(self, slot: int, worker: int) -> int:
        """Index of a worker's record of a slot in `values`."""
        return self.records_at + (slot * self.workers + worker) * RECORD

    def health(self, slot: int) -> int:
        return self.health_at + slot * HEALTH_RECORD

    # ------------------------------------------------------------------ header
    @property
    def generation(self) -> int:
        return int(self.values[GENERATION])

    def bump_generation(self) -> int:
        self.values[GENERATION] += 1
        return int(self.values[GENERATION])

    @property
    def epoch(self) -> int:
        return int(self.values[EPOCH])

    def bump_epoch(self) -> None:
        self.values[EPOCH] += 1

    # ------------------------------------------------------------------ slots
    def find_slot(self, key: str) -> int | None:
        """The slot of a server key, or None when the table has none yet (no lock needed:
        a key is written before anything refers to its slot, and never changes)."""
        slot = self._slot_of.get(key)
        if slot is not None:
            return slot
        raw = key.encode()[:KEY_BYTES - 1]
        for index in range(self.slots):
            at = index * KEY_BYTES
            stored = self.memory[at:at + KEY_BYTES].split(b"\0", 1)[0]
            if not stored:
                return None
            if stored == raw:
                self._slot_of[key] = index
                return index
        return None

    def allocate_slot(self, key: str) -> int | None:
        """Find or add a key's slot; the caller holds the API lock. None when the table is
        full (the server then keeps per-worker state)."""
        found = self.find_slot(key)
        if found is not None:
            return found
        raw = key.encode()[:KEY_BYTES - 1]
        for index in range(self.slots):
            at = index * KEY_BYTES
            if self.memory[at] == 0:
                self.memory[at:at + len(raw)] = raw
                self._slot_of[key] = index
                return index
        return None

    # ------------------------------------------------------------------ workers
    def clear_in_flight(self, worker: int) -> None:
        """A worker died: its in-flight requests are gone (the master calls this before it
        starts the replacement, which adopts the rest of the record)."""
        for slot in range(self.slots):
            if self.memory[slot * KEY_BYTES] == 0:
                break
            self.values[self.record(slot, worker) + CONNS] = 0.0


def slot_key(upstream: str, address: str, backup: bool) -> str:
    """A server's identity across reloads and workers (as Peer.key, with its upstream)."""
    return f"{upstream} {address} {'backup' if backup else 'primary'}"
