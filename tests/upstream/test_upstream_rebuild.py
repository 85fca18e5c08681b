"""Configuration reload: observed state survives for servers still configured."""

from __future__ import annotations

from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.rebuild import rebuild_groups


def config(*ports, name="backend", **server_params):
    servers = tuple(ServerSpec(f"127.0.0.1:{p}", "127.0.0.1", p, **server_params) for p in ports)
    return UpstreamConfig(name=name, servers=servers)


def test_reload_keeps_state_ids_and_group_object():
    group = PeerGroup(config(8001, 8002, max_fails=2, fail_timeout=30))
    a = group.peers[0]
    for i in range(2):
        a.conns += 1
        group.release(a, True, float(i))
    a.requests = 7
    new = rebuild_groups({"backend": group}, {"backend": config(8001, 8002, 8003, max_fails=2,
                                                                 fail_timeout=30)}, 5.0)
    assert new["backend"] is group  # in-flight requests release into the live group
    kept = group.get(0)
    assert kept is a and kept.fails == 2 and kept.requests == 7
    assert group.state_of(kept, 5.0) == "unavail"
    assert [p.id for p in group.peers] == [0, 1, 2]


def test_reload_applies_new_parameters_to_kept_servers():
    group = PeerGroup(config(8001, 8002))
    rebuild_groups({"backend": group}, {"backend": config(8001, 8002, weight=3)}, 1.0)
    assert [p.weight for p in group.peers] == [3, 3]


def test_reload_new_server_in_mandatory_upstream_starts_checking():
    group = PeerGroup(config(8001))
    rebuild_groups({"backend": group}, {"backend": config(8001, 8002)}, 1.0,
                   mandatory={"backend"})
    a, b = group.peers
    assert group.state_of(a, 1.0) == "up"  # known server keeps its health
    assert group.state_of(b, 1.0) == "checking"
    picks = set()
    for _ in range(4):
        peer = group.select(Attempt(), 1.0)
        picks.add(peer.id)
        group.release(peer, False, 1.0)
    assert picks == {a.id}


def test_reload_persistent_keeps_health_of_a_known_address_in_a_new_role():
    group = PeerGroup(config(8001, 8002))
    rebuild_groups({"backend": group},
                   {"backend": UpstreamConfig("backend", (
                       ServerSpec("127.0.0.1:8001", "127.0.0.1", 8001),
                       ServerSpec("127.0.0.1:8002", "127.0.0.1", 8002, backup=True)))},
                   1.0, mandatory={"backend"}, persistent={"backend"})
    assert group.state_of(group.peers[1], 1.0) == "up"


def test_reload_removed_server_in_use_becomes_zombie():
    group = PeerGroup(config(8001, 8002))
    held = [group.select(Attempt(), 0.0) for _ in range(2)]
    b = group.peers[1]
    rebuild_groups({"backend": group}, {"backend": config(8001)}, 1.0)
    assert group.zombies == [b] and [p.id for p in group.peers] == [0]
    group.release(held[1], False, 2.0)
    assert group.zombies == []


def test_reload_adds_and_drops_whole_upstreams():
    old = {"backend": PeerGroup(config(8001))}
    new = rebuild_groups(old, {"other": config(9001, name="other")}, 1.0)
    assert list(new) == ["other"]
    assert new["other"].peers[0].spec.port == 9001


def test_reload_without_health_checks_clears_unhealthy():
    group = PeerGroup(config(8001, 8002))
    group.set_health(group.peers[0], "unhealthy", 0.0)
    rebuild_groups({"backend": group}, {"backend": config(8001, 8002)}, 1.0,
                   health_checked=set())
    assert group.state_of(group.peers[0], 1.0) == "up"


def test_selected_is_stamped_in_wall_clock_seconds():
    groups = rebuild_groups({}, {"backend": config(8001)}, 0.0, wall_offset=1_700_000_000.0)
    group = groups["backend"]
    peer = group.select(Attempt(), 12.5)
    assert peer.selected == 1_700_000_012.5
    assert peer.requests == 1 and peer.conns == 1
