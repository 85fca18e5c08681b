"""`hash KEY` without `consistent` (ngx_http_upstream_get_hash_peer).

Compatible with Cache::Memcached: each round adds `(crc32([REHASH] KEY) >> 16) & 0x7fff` to the
running hash (REHASH, the decimal round number, is omitted in the first round) and maps
`hash % total_weight` onto the peers' weight ranges. An ineligible peer triggers the next round;
after 20 misses, or with an empty key or a single peer, nginx uses round robin instead.
Adding or removing a server remaps most keys (that is what `consistent` is for).
"""

from __future__ import annotations

import zlib

from hotdeploy.balancer.base import Pick
from hotdeploy.balancer.ip_hash import MAX_HASH_TRIES, peer_at
from hotdeploy.balancer.round_robin import RoundRobin
from hotdeploy.upstream.peer import Peer


def key_bytes(key: str) -> bytes:
    # Keys are rendered from request bytes; surrogateescape round-trips undecodable bytes.
    return key.encode("utf-8", "surrogateescape")


def hash_key_or_none(pick: Pick, peers: list[Peer]) -> bytes | None:
    """The key a `hash` policy hashes, or None where nginx uses round robin instead: past
    MAX_HASH_TRIES, with fewer than two peers, or with an empty key."""
    attempt = pick.attempt
    key = key_bytes(attempt.hash_key or "")
    if attempt.policy_tries > MAX_HASH_TRIES or len(peers) < 2 or not key:
        return None
    return key


def round_hash(key: bytes, rehash: int) -> int:
    prefix = str(rehash).encode() if rehash > 0 else b""
    return (zlib.crc32(prefix + key) >> 16) & 0x7FFF


class KeyHash:
    def __init__(self) -> None:
        self._fallback = RoundRobin()

    def select(self, pick: Pick) -> Peer | None:
        attempt = pick.attempt
        peers = list(pick.peers)
        key = hash_key_or_none(pick, peers)
        if key is None:
            return self._fallback.select(pick)
        total = sum(p.weight for p in peers)
        while True:
            value = (attempt.hash_value or 0) + round_hash(key, attempt.rehash)
            attempt.hash_value = value
            attempt.rehash += 1
            peer = peer_at(peers, value % total)
            if pick.eligible(peer):
                return peer
            attempt.policy_tries += 1
            if attempt.policy_tries > MAX_HASH_TRIES:
                return self._fallback.select(pick)
