"""least_conn: fewest connections per weight; ties by smooth weighted round robin."""

from __future__ import annotations

from hotdeploy.upstream.attempt import Attempt


def test_least_conn_picks_fewest_active_connections(make_group):
    group = make_group({}, {}, {}, method="least_conn")
    a, b, c = group.peers
    a.conns, b.conns, c.conns = 3, 1, 2
    assert group.select(Attempt(), 0.0) is b


def test_least_conn_compares_connections_relative_to_weight(make_group):
    group = make_group({"weight": 3}, {}, method="least_conn")
    a, b = group.peers
    a.conns, b.conns = 2, 1  # 2/3 < 1/1
    assert group.select(Attempt(), 0.0) is a


def test_least_conn_ties_are_broken_by_weighted_round_robin(make_group, seq):
    group = make_group({"weight": 2}, {}, method="least_conn")
    # all idle: every selection is a tie, so the smooth WRR order for weights 2,1 appears
    assert seq(group, 6) == "abaaba"


def test_least_conn_spreads_concurrent_requests(make_group):
    group = make_group({}, {}, {}, method="least_conn")
    held = [group.select(Attempt(), 0.0) for _ in range(6)]
    assert [p.conns for p in group.peers] == [2, 2, 2]
    assert len(set(map(id, held))) == 3


def test_least_conn_skips_server_at_max_conns(make_group):
    group = make_group({"max_conns": 1}, {}, method="least_conn")
    a, b = group.peers
    a.conns, b.conns = 1, 5
    assert group.select(Attempt(), 0.0) is b
