"""Passive health with a fake clock: max_fails / fail_timeout exactly as nginx counts them."""

from __future__ import annotations

from hotdeploy.upstream.attempt import Attempt


def fail(group, peer, now):
    group.release(peer, True, now)


def take(group, now):
    """Select and hold (not released)."""
    return group.select(Attempt(), now)


def fail_a(group, times, start=0.0):
    a = group.peers[0]
    for i in range(times):
        a.conns += 1  # as if it had been selected
        fail(group, a, start + i)
    return a


def test_server_is_out_after_max_fails_within_fail_timeout(make_group, seq):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {"max_fails": 3, "fail_timeout": 30})
    a = fail_a(group, 2)
    assert group.state_of(a, 2.0) == "up"
    assert "a" in seq(group, 4, now=3.0)
    fail_a(group, 1, start=3.0)
    assert group.state_of(a, 4.0) == "unavail"
    assert seq(group, 20, now=4.0) == "b" * 20
    assert seq(group, 5, now=33.0) == "bbbbb"  # 30 s after the last failure: still inside


def test_exactly_one_probe_after_fail_timeout(make_group):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {"max_fails": 3, "fail_timeout": 30})
    a = fail_a(group, 3)  # last failure at t=2
    held = [take(group, 32.5) for _ in range(10)]  # concurrent requests at t=32.5
    assert held.count(a) == 1  # the probe's selection stamps `checked`: the door shuts
    assert a.checked == 32.5


def test_successful_probe_restores_the_server(make_group, seq):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {"max_fails": 3, "fail_timeout": 30})
    a = fail_a(group, 3)
    probe = next(p for p in (take(group, 40.0) for _ in range(3)) if p is a)
    group.release(probe, False, 40.0)
    assert a.fails == 0
    assert group.state_of(a, 40.0) == "up"
    assert seq(group, 4, now=40.0).count("a") == 2


def test_failed_probe_keeps_server_out_for_another_fail_timeout(make_group, seq):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {"max_fails": 3, "fail_timeout": 30})
    a = fail_a(group, 3)
    probe = next(p for p in (take(group, 40.0) for _ in range(3)) if p is a)
    fail(group, probe, 41.0)
    assert seq(group, 10, now=71.0) == "b" * 10  # 41 + 30: still out
    assert "a" in seq(group, 4, now=71.5)  # next probe window


def test_failures_accumulate_across_successes_inside_the_window(make_group):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {})
    a = group.peers[0]
    for now, failed in ((0.0, True), (1.0, False), (2.0, True), (3.0, False), (4.0, True)):
        a.conns += 1
        group.release(a, failed, now)
    # a success only resets when the server was checked after its last failure
    assert a.fails == 3
    assert group.state_of(a, 5.0) == "unavail"


def test_success_after_a_quiet_fail_timeout_resets_the_count(make_group):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {})
    a = fail_a(group, 2)
    peer = next(p for p in (take(group, 40.0) for _ in range(2)) if p is a)  # stamps checked
    group.release(peer, False, 40.0)
    assert a.fails == 0


def test_single_server_is_never_marked_unavailable(make_group, seq):
    group = make_group({"max_fails": 1, "fail_timeout": 30})
    a = group.peers[0]
    for i in range(10):
        peer = group.select(Attempt(), float(i))
        fail(group, peer, float(i))
    assert group.state_of(a, 10.0) == "up"
    assert seq(group, 3, now=10.0) == "aaa"
    assert a.fails_total == 10  # the API still counts the failures


def test_max_fails_zero_disables_accounting(make_group, seq):
    group = make_group({"max_fails": 0}, {})
    fail_a(group, 50)
    assert "a" in seq(group, 2, now=51.0)


def test_unavailable_event_and_counters(make_group, events):
    group = make_group({"max_fails": 3, "fail_timeout": 30}, {})
    a = fail_a(group, 3)
    lines = [e.line() for e in events]
    assert lines == [
        'upstream=backend server=127.0.0.1:8001 state=unavailable was=up reason="3 fails in 30s"'
    ]
    assert a.unavail == 1 and a.fails_total == 3
    assert a.downstart == 2.0
    probe = next(p for p in (take(group, 40.0) for _ in range(3)) if p is a)
    group.release(probe, False, 40.0)
    assert events[-1].state == "up" and events[-1].was == "unavail"
    assert a.downtime == 38.0 and a.downstart is None


def test_no_live_upstreams_resets_failures_and_reports(make_group, events, seq):
    group = make_group({"max_fails": 1, "fail_timeout": 30}, {"max_fails": 1, "fail_timeout": 30})
    for peer in group.peers:
        peer.conns += 1
        fail(group, peer, 0.0)
    assert group.select(Attempt(), 1.0) is None
    assert any(e.state == "no-live-upstreams" for e in events)
    assert [p.fails for p in group.peers] == [0, 0]  # "mark them as live for quick recovery"
    assert set(seq(group, 4, now=1.0)) == {"a", "b"}


def test_no_live_upstreams_without_reset_keeps_servers_out_like_nginx_1_22(make_group, events):
    group = make_group({"max_fails": 1, "fail_timeout": 30}, {"max_fails": 1, "fail_timeout": 30})
    group.reset_on_no_live = False
    for peer in group.peers:
        peer.conns += 1
        fail(group, peer, 0.0)
    assert group.select(Attempt(), 1.0) is None
    assert group.select(Attempt(), 2.0) is None  # still out until fail_timeout passes
    assert group.select(Attempt(), 31.0) is not None
