"""Two real processes on one shared zone file: every operation is locked, so concurrent
acquire/release and lookup/account lose no update; a dead worker's limit_conn counts are
given back by `release_worker`. Bounded: a few thousand operations, 60 s at most."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from hotdeploy.proxy import limit_conn, limit_req
from hotdeploy.proxy.shared_limits import SharedZones, release_worker

ROUNDS = 2000
MB = 1 << 20

pytestmark = pytest.mark.timeout(60)


def _hammer(rundir: str, worker: int, start: multiprocessing.synchronize.Barrier) -> None:
    zones = SharedZones(rundir, worker)
    conns = zones.conn_zone("conns", MB)
    first = zones.req_zone("first", 1000, MB)
    second = zones.req_zone("second", 1000, MB)
    limits = [limit_req.Limit(first, 1 << 40, 1 << 40), limit_req.Limit(second, 1 << 40, 1 << 40)]
    start.wait(10)
    taken = []
    for i in range(ROUNDS):
        # A fixed clock: nothing drains, every request adds exactly 1000 to both zones.
        verdict = limit_req.check(limits, [b"k", b"k"], 0)
        assert verdict.rc == limit_req.OK
        rc, _, held = limit_conn.acquire_all([limit_conn.Limit(conns, 1 << 30)], [b"k%d" % (i % 3)])
        assert rc == limit_conn.OK
        taken.append(held)
        if i % 2:
            limit_conn.release_all(taken.pop(0))
    # Keep half of the counts: the parent checks them, then this process releases them.
    start.wait(10)
    start.wait(10)
    for held in taken:
        limit_conn.release_all(held)


def test_two_processes_lose_no_update(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(3)
    children = [context.Process(target=_hammer, args=(str(tmp_path), w, start)) for w in (0, 1)]
    for child in children:
        child.start()
    start.wait(10)  # both running
    start.wait(30)  # both done with their rounds
    zones = SharedZones(str(tmp_path), 5)
    conns = zones.conn_zone("conns", MB)
    counts = dict(conns.counts.items())  # type: ignore[attr-defined]
    assert sum(counts.values()) == 2 * ROUNDS // 2
    assert conns.used == len(counts) * 64
    start.wait(10)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert dict(conns.counts.items()) == {} and conns.used == 0  # type: ignore[attr-defined]
    # Every request added 1000 to both zones, but the very first to "second" (accounted at
    # once: a new state starts at 0); "first" was accounted after the lookup, at `last` 0.
    for name, excess in (("first", 2 * ROUNDS * 1000), ("second", 2 * ROUNDS * 1000 - 1000)):
        zone = zones.req_zone(name, 1000, MB)
        node = zone.nodes.get(b"k")
        assert node is not None
        assert (node.excess, node.count) == (excess, 0)
        assert zone.used == 128


def _die_holding(rundir: str, worker: int, key: bytes, count: int) -> None:
    conns = SharedZones(rundir, worker).conn_zone("conns", MB)
    for _ in range(count):
        assert conns.acquire(key, 10) == limit_conn.OK
    os._exit(0)  # no release: as a worker killed with requests in flight


def test_release_worker_gives_back_only_the_dead_workers_counts(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for worker, key, count in ((1, b"shared", 2), (2, b"shared", 3), (2, b"alone", 1)):
        child = context.Process(target=_die_holding, args=(str(tmp_path), worker, key, count))
        child.start()
        child.join(30)
        assert child.exitcode == 0
    conns = SharedZones(str(tmp_path), 0).conn_zone("conns", MB)
    assert dict(conns.counts.items()) == {b"shared": 5, b"alone": 1}  # type: ignore[attr-defined]
    assert conns.acquire(b"alone", 1) == limit_conn.BUSY
    assert release_worker(str(tmp_path), 2) == 4
    assert dict(conns.counts.items()) == {b"shared": 2}  # type: ignore[attr-defined]
    assert conns.used == 64
    assert conns.acquire(b"alone", 1) == limit_conn.OK
    assert release_worker(str(tmp_path), 1) == 2
    assert dict(conns.counts.items()) == {b"alone": 1}  # type: ignore[attr-defined]
    assert release_worker(str(tmp_path), 1) == 0
