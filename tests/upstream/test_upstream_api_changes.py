"""Live changes (NGINX Plus API): add, remove, zombies, PATCH, active health."""

from __future__ import annotations

import pytest

from hotdeploy.config.model import ServerSpec
from hotdeploy.upstream.attempt import Attempt


def server(port, **params):
    return ServerSpec(f"127.0.0.1:{port}", "127.0.0.1", port, **params)


def test_added_server_takes_traffic_and_ids_are_never_reused(make_group, seq):
    group = make_group({}, {})
    group.remove(1, 0.0)
    c = group.add(server(8003), 0.0)
    assert c.id == 2
    assert seq(group, 4, now=0.0) == "acac"
    with pytest.raises(KeyError):
        group.get(1)


def test_removed_server_with_requests_in_flight_is_a_zombie_until_they_finish(make_group, seq):
    group = make_group({}, {})
    a = group.peers[0]
    held = [group.select(Attempt(), 0.0) for _ in range(2)]
    assert a in held
    group.remove(a.id, 1.0)
    assert group.zombies == [a]
    assert seq(group, 3, now=1.0) == "bbb"
    group.release(a, True, 2.0)  # finishing requests on a zombie: no accounting
    assert group.zombies == []
    assert a.conns == 0


def test_removing_an_idle_server_leaves_no_zombie(make_group):
    group = make_group({}, {})
    group.remove(0, 0.0)
    assert group.zombies == [] and [p.id for p in group.peers] == [1]


def test_patch_weight_down_and_backup(make_group, seq):
    group = make_group({}, {}, {})
    group.update(0, 0.0, weight=2)
    group.update(1, 0.0, down=True)
    group.update(2, 0.0, backup=True)
    assert seq(group, 4) == "aaaa"
    assert group.state_of(group.get(1), 0.0) == "down"
    group.update(1, 0.0, down=False)
    assert "b" in seq(group, 3)


def test_patch_rejects_unknown_fields_and_bad_values(make_group):
    group = make_group({}, {})
    with pytest.raises(ValueError):
        group.update(0, 0.0, colour="red")
    with pytest.raises(ValueError):
        group.update(0, 0.0, weight=0)
    with pytest.raises(ValueError):
        group.update(0, 0.0, down="yes")
    with pytest.raises(KeyError):
        group.update(9, 0.0, down=True)


def test_backup_refused_for_hash_methods(make_group):
    group = make_group({}, {}, method="ip_hash")
    with pytest.raises(ValueError):
        group.update(0, 0.0, backup=True)
    with pytest.raises(ValueError):
        group.add(server(8009, backup=True), 0.0)


def test_unhealthy_server_gets_no_traffic_and_accrues_downtime(make_group, seq, events):
    group = make_group({}, {})
    a = group.peers[0]
    group.set_health(a, "unhealthy", 10.0)
    assert group.state_of(a, 11.0) == "unhealthy" and not group.is_available(a, 11.0)
    assert seq(group, 4, now=11.0) == "bbbb"
    group.set_health(a, "healthy", 25.0)
    assert a.downtime == 15.0 and a.hc_unhealthy == 1
    assert [(e.state, e.was) for e in events] == [("unhealthy", "up"), ("up", "unhealthy")]


def test_mandatory_check_gives_new_servers_no_traffic_before_first_pass(make_group, seq):
    group = make_group({}, mandatory=True)
    a = group.peers[0]
    assert group.state_of(a, 0.0) == "checking"
    assert group.select(Attempt(), 0.0) is None
    group.set_health(a, "healthy", 1.0)
    b = group.add(server(8002), 2.0)
    assert group.state_of(b, 2.0) == "checking"
    assert seq(group, 4, now=2.0) == "aaaa"
    group.set_health(b, "healthy", 3.0)
    assert "b" in seq(group, 4, now=3.0)
