"""`random [two [least_conn]]` (ngx_http_upstream_random_module.c).

A peer is drawn with probability proportional to its weight. With `two`, nginx draws until it
has two distinct eligible peers and keeps the one with fewer connections relative to weight
(ties go to the second draw). Misses count towards nginx's limit of 20, after which round robin
takes over. The random source is injected so tests are deterministic.
"""

from __future__ import annotations

import bisect
import itertools
import random

from hotdeploy.balancer.base import Pick
from hotdeploy.balancer.ip_hash import MAX_HASH_TRIES
from hotdeploy.balancer.round_robin import RoundRobin
from hotdeploy.upstream.peer import Peer


class WeightedRandom:
    def __init__(self, two: bool = False, rng: random.Random | None = None) -> None:
        self.two = two
        self.rng = rng or random.Random()
        self._fallback = RoundRobin()

    def _draw(self, peers: list[Peer], bounds: list[int]) -> Peer:
        point = self.rng.randrange(bounds[-1])
        return peers[bisect.bisect_right(bounds, point)]

    def select(self, pick: Pick) -> Peer | None:
        attempt = pick.attempt
        peers = list(pick.peers)
        if attempt.policy_tries > MAX_HASH_TRIES or len(peers) < 2:
            return self._fallback.select(pick)
        bounds = list(itertools.accumulate(p.weight for p in peers))
        first: Peer | None = None
        while True:
            peer = self._draw(peers, bounds)
            if peer is not first and pick.eligible(peer):
                if not self.two:
                    return peer
                if first is not None:
                    if peer.conns * pick.weight(first) > first.conns * pick.weight(peer):
                        return first
                    return peer
                first = peer
            attempt.policy_tries += 1
            if attempt.policy_tries > MAX_HASH_TRIES:
                return self._fallback.select(pick)
