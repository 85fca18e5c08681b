"""Two workers' ZoneSync over one real shared table, in one process (the exchange itself, with
no fork): connections, failures, health verdicts, API snapshots, zombies."""

from __future__ import annotations

import time
from types import SimpleNamespace

from hotdeploy.lb.zonesync import WORKERS, ZoneSync
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.zone import ZoneTable


def _worker(table: ZoneTable, index: int, rundir: str, group: PeerGroup
            ) -> tuple[ZoneSync, PeerGroup]:
    sync = ZoneSync(table, index, rundir, health_owner=index == 0)
    runtime = SimpleNamespace(groups={"backend": group}, health_checks=[], health_checker=None)
    sync.prepare(runtime)
    sync.bind(runtime)
    return sync, group


def _pair(tmp_path, make_group, *servers: dict):
    """Worker 0 and worker 1, each with its own group of the same upstream."""
    table = ZoneTable.create(workers=4, slots=16)
    table.values[WORKERS] = 2
    first = _worker(table, 0, str(tmp_path), make_group(*servers, zone="backend"))
    second = _worker(table, 1, str(tmp_path), make_group(*servers, zone="backend"))
    return first, second


def test_connections_of_one_worker_count_in_the_other(tmp_path, make_group):
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, {}, {})
    held = [group0.select(Attempt(), time.monotonic()) for _ in range(4)]
    sync0.tick()
    sync1.tick()
    a1, b1 = group1.peers
    assert (a1.conns, a1.zone_conns, b1.conns) == (2, 2, 2)
    own = group1.select(Attempt(), time.monotonic())
    sync1.tick()
    sync0.tick()
    assert own.conns == 3 and own.zone_conns == 2  # its own one plus worker 0's two
    assert group0.get(own.id).conns == 3
    for peer in held:
        group0.release(peer, False, time.monotonic())
    sync0.tick()
    sync1.tick()
    assert [p.conns for p in group1.peers] == [1 if p is own else 0 for p in group1.peers]


def test_a_failure_in_one_worker_takes_the_server_out_in_the_other(tmp_path, make_group):
    failing = {"max_fails": 1, "fail_timeout": 30}
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, failing, {})
    a0 = group0.peers[0]
    group0.select(Attempt(), time.monotonic())  # a
    group0.release(a0, True, time.monotonic())
    sync0.tick()
    sync1.tick()
    a1 = group1.peers[0]
    assert a1.zone_fails == 1
    now = time.monotonic()
    picks = {group1.select(Attempt(), now).id for _ in range(6)}
    assert picks == {group1.peers[1].id}
    assert group1.state_of(a1, now) == "unavail"


def test_health_verdicts_of_worker_zero_reach_the_other(tmp_path, make_group):
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, {}, {})
    group0.set_health(group0.peers[0], "unhealthy", time.monotonic())
    group0.peers[0].hc_checks = 3
    sync0.tick()
    sync1.tick()
    assert group1.peers[0].health == "unhealthy"
    assert group1.peers[0].hc_checks == 3


def test_an_api_change_in_one_worker_is_applied_by_the_other(tmp_path, make_group):
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, {}, {})
    with sync1.writing():
        group1.update(group1.peers[0].id, time.monotonic(), drain=True, weight=4)
        sync1.publish(group1)
    sync0.tick()
    assert group0.peers[0].draining and group0.peers[0].weight == 4
    with sync0.writing():
        group0.remove(group0.peers[1].id, time.monotonic())
        sync0.publish(group0)
    sync1.tick()
    assert [p.id for p in group1.peers] == [group0.peers[0].id]


def test_a_zombie_is_dropped_when_only_other_workers_held_it(tmp_path, make_group):
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, {}, {})
    held = group0.select(Attempt(), time.monotonic())
    sync0.tick()
    sync1.tick()
    other = group1.get(held.id)
    assert other.conns == 1
    group1.remove(other.id, time.monotonic())  # in flight elsewhere: kept as a zombie
    assert group1.zombies == [other]
    sync1.tick()
    assert group1.zombies == []


def test_a_removed_server_leaves_no_connections_behind_in_the_table(tmp_path, make_group):
    (sync0, group0), (sync1, group1) = _pair(tmp_path, make_group, {}, {})
    held = group0.select(Attempt(), time.monotonic())
    sync0.tick()
    group0.remove(held.id, time.monotonic())  # a zombie in worker 0 while its request runs
    sync0.tick()
    sync1.tick()
    assert group1.get(held.id).conns == 1
    group0.release(held, False, time.monotonic())  # the request ends: the zombie goes
    assert group0.zombies == []
    sync0.tick()
    sync1.tick()
    assert group1.get(held.id).conns == 0
