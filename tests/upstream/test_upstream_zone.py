"""The shared upstream state of `worker_processes N`, without processes: the passive rule for
other workers' failures, the snapshot that carries API changes, and the table's layout."""

from __future__ import annotations

from hotdeploy.admin.totals import totals
from hotdeploy.upstream import zone as z
from hotdeploy.upstream.snapshot import apply_snapshot, group_snapshot


def test_failures_seen_by_another_worker_take_the_server_out_for_fail_timeout(make_group, seq):
    group = make_group({"max_fails": 1, "fail_timeout": 10}, {"max_fails": 1, "fail_timeout": 10})
    a = group.peers[0]
    # Another worker failed `a` once at t=100 (the zone tick copied it here).
    a.zone_fails, a.zone_checked = 1, 100.0
    assert group.state_of(a, 100.5) == "unavail"
    assert seq(group, 6, now=101.0) == "bbbbbb"
    assert seq(group, 6, now=110.0) == "bbbbbb"  # fail_timeout counts from their stamp
    assert "a" in seq(group, 6, now=110.5)  # then it may be tried again


def test_failures_add_up_across_workers_to_max_fails(make_group, seq):
    group = make_group({"max_fails": 3, "fail_timeout": 10}, {"max_fails": 3, "fail_timeout": 10})
    a = group.peers[0]
    a.conns += 2
    group.release(a, True, 50.0)
    group.release(a, True, 51.0)  # two here
    assert "a" in seq(group, 4, now=52.0)
    a.zone_fails, a.zone_checked = 1, 52.0  # and one in another worker
    assert seq(group, 6, now=53.0) == "bbbbbb"


def test_other_workers_connections_count_for_max_conns_and_least_conn(make_group, seq):
    group = make_group({"max_conns": 2}, {}, method="least_conn")
    a, b = group.peers
    # The tick folds other workers' in-flight requests into `conns` (zone_conns of them).
    a.zone_conns = a.conns = 2
    assert seq(group, 4) == "bbbb"  # max_conns reached by the other workers alone
    a.zone_conns = a.conns = 1
    b.zone_conns = b.conns = 3
    assert seq(group, 1) == "a"  # least_conn sees every worker's connections


def test_snapshot_applies_additions_removals_and_changes_with_the_same_ids(make_group):
    writer = make_group({}, {})
    reader = make_group({}, {})
    from hotdeploy.config.model import ServerSpec

    added = writer.add(ServerSpec(name="127.0.0.9:81", host="127.0.0.9", port=81, weight=3), 0.0)
    writer.update(writer.peers[0].id, 0.0, drain=True)
    writer.remove(writer.peers[1].id, 0.0)
    assert apply_snapshot(reader, group_snapshot(writer), 1.0)
    assert [(p.id, p.address, p.weight, p.draining) for p in reader.peers] == \
        [(p.id, p.address, p.weight, p.draining) for p in writer.peers]
    assert reader.get(added.id).weight == 3
    assert not apply_snapshot(reader, group_snapshot(writer), 2.0)  # idempotent
    # The next id either worker hands out is the same.
    assert reader._next_id == writer._next_id


def test_table_slots_are_shared_by_key_and_records_are_per_worker():
    table = z.ZoneTable.create(workers=4, slots=8)
    first = table.allocate_slot(z.slot_key("u", "127.0.0.1:80", False))
    second = table.allocate_slot(z.slot_key("u", "127.0.0.1:80", True))
    assert (first, second) == (0, 1)
    other_view = z.ZoneTable(table.memory, workers=4, slots=8)  # as another process sees it
    assert other_view.find_slot(z.slot_key("u", "127.0.0.1:80", True)) == 1
    assert other_view.find_slot(z.slot_key("u", "127.0.0.2:80", False)) is None
    table.values[table.record(1, 2) + z.CONNS] = 5
    assert other_view.values[other_view.record(1, 2) + z.CONNS] == 5
    assert table.record(1, 3) - table.record(1, 2) == z.RECORD
    table.clear_in_flight(2)
    assert other_view.values[other_view.record(1, 2) + z.CONNS] == 0
    for index in range(2, 8):
        assert table.allocate_slot(f"k{index}") == index
    assert table.allocate_slot("full") is None  # then the server keeps per-worker state


def test_api_totals_add_the_other_workers_counters(make_group):
    group = make_group({})
    peer = group.peers[0]
    assert totals(peer) is peer  # one process: nothing to add
    peer.requests, peer.responses[1], peer.responses[5] = 3, 3, 3
    others = [0.0] * z.RECORD
    others[z.REQUESTS], others[z.RESPONSES + 1], others[z.RESPONSES + 5] = 4, 4, 4
    peer.elsewhere = others
    summed = totals(peer)
    assert (summed.requests, summed.responses[1], summed.responses[5]) == (7, 7, 7)
    assert summed.address == peer.address
