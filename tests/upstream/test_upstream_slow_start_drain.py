"""NGINX Plus slow_start ramp and drain."""

from __future__ import annotations

from hotdeploy.config.model import ServerSpec
from hotdeploy.upstream.attempt import Attempt


def share(seq, group, now, letter="a", n=400):
    return seq(group, n, now=now).count(letter) / n


def test_slow_start_ramps_a_recovered_server_linearly(make_group, seq):
    ramp = {"max_fails": 1, "fail_timeout": 10, "slow_start": 20}
    group = make_group(ramp, {"max_fails": 1, "fail_timeout": 10})
    a = group.peers[0]
    a.conns += 1
    group.release(a, True, 0.0)
    probe = next(p for p in (group.select(Attempt(), 11.0) for _ in range(2)) if p is a)
    group.release(probe, False, 11.0)  # recovered at t=11: the ramp starts
    assert a.slow_start_began == 11.0
    assert 0.0 < share(seq, group, 11.5) < 0.1  # minimal share right away
    assert 0.28 < share(seq, group, 21.0) < 0.38  # half weight: 0.5 / 1.5
    assert share(seq, group, 31.0) == 0.5  # nominal weight after 20 s


def test_server_added_with_slow_start_ramps_up(make_group, seq):
    group = make_group({})
    group.add(ServerSpec("127.0.0.1:8002", "127.0.0.1", 8002, slow_start=10), 100.0)
    assert share(seq, group, 101.0, "b") < 0.15
    assert share(seq, group, 110.0, "b") == 0.5


def test_unhealthy_to_healthy_starts_the_ramp(make_group, seq):
    group = make_group({"slow_start": 10}, {})
    a = group.peers[0]
    group.set_health(a, "unhealthy", 0.0)
    assert seq(group, 5, now=1.0) == "bbbbb"
    group.set_health(a, "healthy", 5.0)
    assert share(seq, group, 6.0) < 0.15


def test_drained_server_gets_no_new_requests_and_reports_zero_active(make_group, seq):
    group = make_group({}, {})
    a = group.peers[0]
    in_flight = group.select(Attempt(), 0.0)
    assert in_flight is a
    group.update(a.id, 0.0, drain=True)
    assert seq(group, 6, now=1.0) == "bbbbbb"
    assert group.state_of(a, 1.0) == "draining" and a.conns == 1
    group.release(in_flight, False, 2.0)  # its request finishes normally
    assert group.state_of(a, 2.0) == "draining" and a.conns == 0
    group.remove(a.id, 3.0)
    assert group.zombies == []
