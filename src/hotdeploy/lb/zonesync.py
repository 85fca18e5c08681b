"""A worker's side of the shared upstream table (upstream/zone.py): publish its own state,
read the others', carry API changes between workers.

The request path never touches the table. A timer (`ZONE_SYNC_INTERVAL`) does, per server of
an upstream with `zone`:
- writes this worker's record: in-flight count, fails/accessed/checked, statistics;
- reads the other workers' records: their in-flight requests are added to `Peer.conns` (so
  least_conn, max_conns and the API's `active` see every worker's connections) and their recent
  failures set `Peer.zone_fails`/`zone_checked` (upstream/passive.py takes them out in all
  workers);
- the health-check worker writes the verdicts, the others apply them (`set_health`).

API writes (any worker may answer the API) run under one file lock: the writer first applies
the other workers' pending changes, then makes its own, writes the upstream's servers to a
snapshot file and bumps the generation; every worker applies snapshots of a newer generation
at its next tick. Statistics of other workers are summed into `Peer.elsewhere` only when the
API or the metrics are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

from hotdeploy import defaults as d
from hotdeploy.upstream import zone as z
from hotdeploy.upstream.snapshot import apply_snapshot, group_snapshot

ZONE_SYNC_INTERVAL = d.ZONE_SYNC_INTERVAL
WORKERS = 2  # header field: how many worker indices are in use (the master writes it)
_STAT_FIELDS = ((z.REQUESTS, "requests"), (z.SENT, "sent"), (z.RECEIVED, "received"),
                (z.FAILS_TOTAL, "fails_total"), (z.UNAVAIL, "unavail"), (z.RETRIES, "retries"),
                (z.LATENCY_SUM, "latency_sum"))


class ZoneSync:
    def __init__(self, table: z.ZoneTable, worker: int, rundir: str, health_owner: bool) -> None:
        self.table = table
        self.worker = worker
        self.rundir = rundir
        self.health_owner = health_owner
        self.runtime: Any = None
        self.seen_generation = -1
        self._published: set[int] = set()  # slots whose in-flight count this worker wrote
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle
    def prepare(self, runtime: Any) -> None:
        """Before `runtime.start()`: only one worker runs the active health checks of an
        upstream with `zone` (the others read its verdicts); an upstream without one keeps
        per-worker state, so every worker checks it itself."""
        runtime.zone = self
        if not self.health_owner:
            groups = runtime.groups
            runtime.health_checks = [
                check for check in runtime.health_checks
                if check.upstream not in groups or groups[check.upstream].config.zone is None]

    def bind(self, runtime: Any) -> None:
        """A new generation (start or reload): give its servers their slots, adopt what the
        table holds for them, and apply the API changes made in this reload epoch."""
        self.runtime = runtime
        now = time.monotonic()
        with self.locked():
            self._bind_groups(now)
        self.seen_generation = -1  # apply every snapshot of this epoch at once
        self.tick()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer = loop.call_later(ZONE_SYNC_INTERVAL, self._on_timer)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self.tick()
        if self._loop is not None:
            self._timer = self._loop.call_later(ZONE_SYNC_INTERVAL, self._on_timer)

    # ------------------------------------------------------------------ slots
    def _bind_groups(self, now: float) -> None:
        for group in self.runtime.groups.values():
            if group.config.zone is not None:
                for peer in group.peers:
                    self._bind(group, peer, now, allocate=True)

    def _bind(self, group: Any, peer: Any, now: float, allocate: bool) -> None:
        if peer.zone_slot >= 0:
            return
        key = z.slot_key(group.name, peer.address, peer.backup)
        slot = self.table.allocate_slot(key) if allocate else self.table.find_slot(key)
        if slot is None:
            return
        peer.zone_slot = slot
        # A replacement worker (or a server added again) continues the counters of its slot.
        values, base = self.table.values, self.table.record(slot, self.worker)
        for index, name in _STAT_FIELDS:
            setattr(peer, name, type(getattr(peer, name))(values[base + index]))
        peer.responses[:] = [int(values[base + z.RESPONSES + i]) for i in range(6)]
        peer.latency_buckets[:] = [int(values[base + z.BUCKETS + i])
                                   for i in range(len(peer.latency_buckets))]
        peer.fails = int(values[base + z.FAILS])
        peer.accessed = values[base + z.ACCESSED]
        peer.checked = values[base + z.CHECKED]
        health = values[self.table.health(slot) + z.HEALTH]
        if health:
            group.set_health(peer, z.HEALTH_NAMES[health], now)

    # ------------------------------------------------------------------ the timer
    def tick(self) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        if self.table.generation != self.seen_generation:
            self.apply_snapshots()
        now = time.monotonic()
        values = self.table.values
        workers = max(int(values[WORKERS]), self.worker + 1)
        published: set[int] = set()
        for group in runtime.groups.values():
            if group.config.zone is None:
                continue
            for peer in group.peers:
                if peer.zone_slot < 0:
                    self._bind(group, peer, now, allocate=False)
                    if peer.zone_slot < 0:
                        continue
                self._sync_peer(group, peer, values, workers, now)
                published.add(peer.zone_slot)
            for peer in list(group.zombies):
                # A removed server's own requests are all that keep it: drop the others', and
                # the zombie itself once none of ours is left (no release() will come for it).
                peer.conns -= peer.zone_conns
                peer.zone_conns = 0
                if peer.conns <= 0:
                    group.zombies.remove(peer)
                elif peer.zone_slot >= 0:
                    values[self.table.record(peer.zone_slot, self.worker) + z.CONNS] = peer.conns
                    published.add(peer.zone_slot)
        for slot in self._published - published:
            # A server this worker no longer has: its requests here are over.
            values[self.table.record(slot, self.worker) + z.CONNS] = 0.0
        self._published = published

    def _sync_peer(self, group: Any, peer: Any, values: Any, workers: int, now: float) -> None:
        slot = peer.zone_slot
        mine = self.table.record(slot, self.worker)
        own_conns = peer.conns - peer.zone_conns
        values[mine + z.CONNS] = own_conns
        values[mine + z.FAILS] = peer.fails
        values[mine + z.ACCESSED] = peer.accessed
        values[mine + z.CHECKED] = peer.checked
        for index, name in _STAT_FIELDS:
            values[mine + index] = getattr(peer, name)
        for i, count in enumerate(peer.responses):
            values[mine + z.RESPONSES + i] = count
        for i, count in enumerate(peer.latency_buckets):
            values[mine + z.BUCKETS + i] = count
        conns = 0
        fails = 0
        checked = 0.0
        for worker in range(workers):
            if worker == self.worker:
                continue
            other = self.table.record(slot, worker)
            conns += int(values[other + z.CONNS])
            failed = int(values[other + z.FAILS])
            if failed and now - values[other + z.ACCESSED] <= peer.fail_timeout:
                fails += failed
                checked = max(checked, values[other + z.CHECKED])
        peer.zone_conns = conns
        peer.conns = own_conns + conns
        peer.zone_fails = fails
        peer.zone_checked = checked
        self._sync_health(group, peer, values, self.table.health(slot), now)

    def _sync_health(self, group: Any, peer: Any, values: Any, at: int, now: float) -> None:
        if self.health_owner:
            values[at + z.HEALTH] = z.HEALTH_CODES[peer.health]
            values[at + z.HC_CHECKS] = peer.hc_checks
            values[at + z.HC_FAILS] = peer.hc_fails
            values[at + z.HC_UNHEALTHY] = peer.hc_unhealthy
            passed = peer.hc_last_passed
            values[at + z.HC_LAST_PASSED] = -1.0 if passed is None else float(passed)
            return
        code = values[at + z.HEALTH]
        if code and z.HEALTH_NAMES[code] != peer.health:
            group.set_health(peer, z.HEALTH_NAMES[code], now)
        peer.hc_checks = int(values[at + z.HC_CHECKS])
        peer.hc_fails = int(values[at + z.HC_FAILS])
        peer.hc_unhealthy = int(values[at + z.HC_UNHEALTHY])
        passed = values[at + z.HC_LAST_PASSED]
        peer.hc_last_passed = None if passed < 0 or not code else bool(passed)

    # ------------------------------------------------------------------ API changes
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The API lock: a file lock, so a worker killed while holding it releases it."""
        fd = os.open(os.path.join(self.rundir, "api.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around one API write: exclusive, and starting from every other worker's changes."""
        with self.locked():
            self.apply_snapshots()
            yield

    def publish(self, group: Any) -> None:
        """After an API write to `group` (the caller holds the lock)."""
        now = time.monotonic()
        if group.config.zone is not None:
            for peer in group.peers:
                self._bind(group, peer, now, allocate=True)
        snapshot = {"epoch": self.table.epoch, **group_snapshot(group)}
        path = self._snapshot_path(group.name)
        with open(path + ".tmp", "w") as fh:
            json.dump(snapshot, fh)
        os.replace(path + ".tmp", path)
        self.seen_generation = self.table.bump_generation()

    def apply_snapshots(self) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        generation = self.table.generation  # read first: a later write is seen next tick
        epoch = self.table.epoch
        now = time.monotonic()
        changed = False
        for entry in os.listdir(self.rundir):
            if not entry.endswith(".json"):
                continue
            group = runtime.groups.get(unquote(entry[:-5]))
            if group is None:
                continue
            try:
                with open(os.path.join(self.rundir, entry)) as fh:
                    snapshot = json.load(fh)
            except (OSError, ValueError):
                continue
            if snapshot.get("epoch") != epoch:
                continue  # written before the last reload, which re-read the configuration
            changed = apply_snapshot(group, snapshot, now) or changed
        self.seen_generation = generation
        if changed:
            reconcile = getattr(runtime.health_checker, "reconcile", None)
            if reconcile is not None:
                reconcile()

    def _snapshot_path(self, upstream: str) -> str:
        return os.path.join(self.rundir, quote(upstream, safe="") + ".json")

    # ------------------------------------------------------------------ reads
    def refresh_elsewhere(self) -> None:
        """Sum the other workers' statistics into `Peer.elsewhere` for an API/metrics read."""
        runtime = self.runtime
        if runtime is None:
            return
        values = self.table.values
        workers = max(int(values[WORKERS]), self.worker + 1)
        for group in runtime.groups.values():
            for peer in group.peers:
                if peer.zone_slot < 0:
                    continue
                sums = [0.0] * z.RECORD
                for worker in range(workers):
                    if worker != self.worker:
                        base = self.table.record(peer.zone_slot, worker)
                        for i in range(z.REQUESTS, z.RECORD):
                            sums[i] += values[base + i]
                peer.elsewhere = sums
