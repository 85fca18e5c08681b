"""Smooth weighted round robin, as ngx_http_upstream_get_peer does it."""

from __future__ import annotations

from hotdeploy.upstream.attempt import Attempt


def test_weights_5_1_1_give_nginx_sequence(make_group, seq):
    group = make_group({"weight": 5}, {}, {})
    assert seq(group, 14) == "aabacaa" * 2


def test_equal_weights_alternate(make_group, seq):
    group = make_group({}, {}, {})
    assert seq(group, 6) == "abcabc"


def test_down_server_never_selected(make_group, seq):
    group = make_group({}, {"down": True}, {})
    assert "b" not in seq(group, 20)


def test_max_conns_caps_in_flight_requests(make_group):
    group = make_group({"max_conns": 1}, {})
    held = [group.select(Attempt(), 0.0) for _ in range(4)]
    a, b = group.peers
    assert held.count(a) == 1  # the rest went to b, the only unlimited server
    assert a.conns == 1 and b.conns == 3
    group.release(a, False, 0.0)
    # the free slot is used again within one round (smooth WRR may give b its turn first)
    assert a in (group.select(Attempt(), 0.0), group.select(Attempt(), 0.0))
    assert a.conns == 1


def test_failure_lowers_effective_weight_and_it_recovers_by_one_per_selection(make_group):
    group = make_group({"weight": 6, "max_fails": 3}, {"weight": 1})
    a, _b = group.peers
    peer = group.select(Attempt(), 0.0)
    assert peer is a
    group.release(a, True, 0.0)
    assert a.effective_weight == 4  # 6 - 6 // 3
    for expected in (5, 6, 6):
        attempt = Attempt()
        peer = group.select(attempt, 1.0)
        group.release(peer, False, 1.0)
        assert a.effective_weight == expected


def test_retry_never_returns_a_server_already_tried(make_group):
    group = make_group({}, {}, {})
    attempt = Attempt()
    chosen = []
    for _ in range(3):
        peer = group.select(attempt, 0.0)
        chosen.append(peer.id)
        group.release(peer, True, 0.0)
    assert sorted(chosen) == [0, 1, 2]
    assert group.max_tries == 3


def test_backups_run_the_same_smooth_wrr_through_the_policy(make_group, seq):
    # Primaries take the group's direct call, backups the RoundRobin policy: one smooth_wrr.
    group = make_group({"down": True}, {"weight": 5, "backup": True}, {"backup": True},
                       {"backup": True})
    assert seq(group, 14) == "bbcbdbb" * 2
