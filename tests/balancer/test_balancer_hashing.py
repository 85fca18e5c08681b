"""ip_hash, hash KEY and hash KEY consistent: stickiness, rehash on failure, remapping."""

from __future__ import annotations

from hotdeploy.config.model import ServerSpec
from hotdeploy.upstream.attempt import Attempt


def spec(index):
    return ServerSpec(f"127.0.0.1:{8001 + index}", "127.0.0.1", 8001 + index)


def pick(group, now=0.0, **attempt):
    peer = group.select(Attempt(**attempt), now)
    group.release(peer, False, now)
    return "abcdefghij"[peer.spec.port - 8001]


def test_ip_hash_keeps_a_slash_24_on_one_server(make_group):
    group = make_group({}, {}, {}, method="ip_hash")
    first = pick(group, client_ip="10.1.2.3")
    assert {pick(group, client_ip=f"10.1.2.{i}") for i in range(1, 60)} == {first}


def test_ip_hash_uses_whole_ipv6_address(make_group):
    group = make_group({}, {}, {}, method="ip_hash")
    chosen = {pick(group, client_ip=f"2001:db8::{i:x}") for i in range(1, 40)}
    assert len(chosen) > 1  # the last bits matter for IPv6, unlike IPv4's last octet


def test_ip_hash_rehashes_only_clients_of_an_unavailable_server(make_group):
    group = make_group({}, {}, {}, method="ip_hash")
    clients = [f"10.{i}.{i * 3 % 256}.1" for i in range(60)]
    before = {ip: pick(group, client_ip=ip) for ip in clients}
    b = group.peers[1]
    group.update(b.id, 0.0, down=True)
    after = {ip: pick(group, client_ip=ip) for ip in clients}
    for ip in clients:
        if before[ip] == "b":
            assert after[ip] in "ac"
        else:
            assert after[ip] == before[ip]  # `down` keeps everyone else's mapping


def test_ip_hash_retry_of_a_request_goes_to_another_server(make_group):
    group = make_group({}, {}, {}, method="ip_hash")
    attempt = Attempt(client_ip="192.168.7.9")
    first = group.select(attempt, 0.0)
    group.release(first, True, 0.0)
    second = group.select(attempt, 0.0)
    assert second is not None and second is not first


def test_hash_key_is_sticky_and_spreads_keys(make_group):
    group = make_group({}, {}, {}, method="hash")
    assert {pick(group, hash_key="user-42") for _ in range(10)} == {pick(group, hash_key="user-42")}
    assert len({pick(group, hash_key=f"user-{i}") for i in range(50)}) == 3


def test_hash_with_empty_key_falls_back_to_round_robin(make_group):
    group = make_group({}, {}, method="hash")
    assert "".join(pick(group, hash_key="") for _ in range(4)) == "abab"


def test_plain_hash_remaps_most_keys_when_a_server_is_added(make_group):
    group = make_group({}, {}, {}, {}, method="hash")
    keys = [f"k{i}" for i in range(1000)]
    before = {k: pick(group, hash_key=k) for k in keys}
    group.add(spec(4), 0.0)
    moved = sum(before[k] != pick(group, hash_key=k) for k in keys)
    assert moved > 500


def test_consistent_hash_moves_about_one_nth_of_keys_to_a_new_server(make_group):
    group = make_group({}, {}, {}, {}, method="hash", hash_consistent=True)
    keys = [f"k{i}" for i in range(2000)]
    before = {k: pick(group, hash_key=k) for k in keys}
    group.add(spec(4), 0.0)
    after = {k: pick(group, hash_key=k) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert 0.1 < len(moved) / len(keys) < 0.3  # ideal: 1/5
    assert {after[k] for k in moved} == {"e"}  # keys only move to the new server


def test_consistent_hash_failure_moves_to_next_point_and_keeps_others(make_group):
    group = make_group({}, {}, {}, method="hash", hash_consistent=True)
    keys = [f"k{i}" for i in range(300)]
    before = {k: pick(group, hash_key=k) for k in keys}
    group.update(group.peers[0].id, 0.0, down=True)
    after = {k: pick(group, hash_key=k) for k in keys}
    for k in keys:
        assert after[k] != "a"
        if before[k] != "a":
            assert after[k] == before[k]
