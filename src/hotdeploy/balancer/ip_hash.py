"""ip_hash (ngx_http_upstream_ip_hash_module.c).

The key is the first three octets of an IPv4 client address (a /24 sticks to one server) or
the whole IPv6 address. nginx's arithmetic: starting from 89, `hash = (hash * 113 + byte) % 6271`
over the key bytes, then `hash % total_weight` walks the weight ranges of *all* peers, down ones
included, so marking a peer `down` keeps every other client's mapping. An ineligible pick
rehashes (the key is folded in again from the current value); after 20 misses nginx falls back
to round robin.
"""

from __future__ import annotations

import functools
import ipaddress

from hotdeploy.balancer.base import Pick
from hotdeploy.balancer.round_robin import RoundRobin
from hotdeploy.upstream.peer import Peer

IP_HASH_SEED = 89
IP_HASH_MULTIPLIER = 113
IP_HASH_MODULUS = 6271
MAX_HASH_TRIES = 20  # nginx: "if (++tries > 20) return get_round_robin_peer()"
# nginx hashes non-IP clients (unix sockets) with three zero bytes.
PSEUDO_ADDR = b"\x00\x00\x00"


@functools.lru_cache(maxsize=4096)  # parsing an address costs more than the hash itself
def ip_hash_key(client_ip: str) -> bytes:
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return PSEUDO_ADDR
    if addr.version == 4:
        return addr.packed[:3]
    return addr.packed


def peer_at(peers: list[Peer] | tuple[Peer, ...], point: int) -> Peer:
    """The peer whose weight range holds `point` (0 <= point < total weight)."""
    for peer in peers:
        if point < peer.weight:
            return peer
        point -= peer.weight
    raise ValueError("point beyond total weight")


class IpHash:
    def __init__(self) -> None:
        self._fallback = RoundRobin()

    def select(self, pick: Pick) -> Peer | None:
        attempt = pick.attempt
        peers = list(pick.peers)
        if attempt.policy_tries > MAX_HASH_TRIES or len(peers) < 2:
            return self._fallback.select(pick)
        key = ip_hash_key(attempt.client_ip)
        total = sum(p.weight for p in peers)
        value = IP_HASH_SEED if attempt.hash_value is None else attempt.hash_value
        while True:
            for byte in key:
                value = (value * IP_HASH_MULTIPLIER + byte) % IP_HASH_MODULUS
            peer = peer_at(peers, value % total)
            if pick.eligible(peer):
                attempt.hash_value = value
                return peer
            attempt.policy_tries += 1
            if attempt.policy_tries > MAX_HASH_TRIES:
                return self._fallback.select(pick)
