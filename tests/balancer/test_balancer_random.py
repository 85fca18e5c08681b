"""random and random two least_conn (seeded random source: deterministic, bounded counts)."""

from __future__ import annotations

import random

from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.group import PeerGroup


def random_group(weights, two=False, seed=1):
    servers = tuple(ServerSpec(f"127.0.0.1:{9000 + i}", "127.0.0.1", 9000 + i, weight=w)
                    for i, w in enumerate(weights))
    config = UpstreamConfig("u", servers, method="random", random_two=two)
    return PeerGroup(config, rng=random.Random(seed))


def test_random_follows_weights():
    group = random_group([3, 1])
    counts = [0, 0]
    for _ in range(2000):
        peer = group.select(Attempt(), 0.0)
        counts[peer.id] += 1
        group.release(peer, False, 0.0)
    assert 0.70 < counts[0] / 2000 < 0.80


def test_random_two_never_picks_the_busier_of_two():
    group = random_group([1, 1, 1], two=True)
    busy = group.peers[0]
    busy.conns = 10
    counts = [0, 0, 0]
    for _ in range(600):
        peer = group.select(Attempt(), 0.0)
        counts[peer.id] += 1
        group.release(peer, False, 0.0)
    # every pair drawn contains an idle server, so the busy one is never chosen
    assert counts[0] == 0
    assert 0.4 < counts[1] / 600 < 0.6


def test_random_two_balances_held_connections():
    group = random_group([1, 1, 1, 1], two=True)
    for _ in range(40):
        group.select(Attempt(), 0.0)  # held, never released
    loads = sorted(p.conns for p in group.peers)
    assert loads[-1] - loads[0] <= 3  # power of two choices keeps loads close


def test_random_skips_down_and_full_servers():
    group = random_group([1, 1, 1])
    group.update(0, 0.0, down=True)
    group.update(1, 0.0, max_conns=1)
    group.peers[1].conns = 1
    assert {group.select(Attempt(), 0.0).id for _ in range(30)} == {2}
