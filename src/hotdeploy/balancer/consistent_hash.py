"""`hash KEY consistent`: ketama (ngx_http_upstream_hash_module.c, the chash functions).

Every peer puts `160 * weight` points on a 32-bit ring. Compatible with Cache::Memcached::Fast,
point j of a server written as `HOST:PORT` is `crc32(HOST \\0 PORT prev)`, where `prev` is the
previous point's value as 4 little-endian bytes (0 for the first). Points are sorted and
duplicates dropped. A request's key picks the first point >= crc32(KEY); the peers named by that
point's server (one name can resolve to several addresses) share it by weighted round robin. An
ineligible server moves the request to the next point, so adding or removing one server remaps
only about 1/N of the keys.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass

from hotdeploy.balancer.base import Pick
from hotdeploy.balancer.ip_hash import MAX_HASH_TRIES
from hotdeploy.balancer.key_hash import hash_key_or_none
from hotdeploy.balancer.round_robin import RoundRobin, smooth_wrr
from hotdeploy.defaults import CONSISTENT_HASH_POINTS_PER_WEIGHT
from hotdeploy.upstream.peer import Peer


def split_server(server: str) -> tuple[bytes, bytes]:
    """nginx splits the server name at its last colon; `unix:` paths have no port."""
    if server[:5].lower() == "unix:":
        return server[5:].encode(), b""
    host, sep, port = server.rpartition(":")
    if not sep:
        return server.encode(), b""
    return host.encode(), port.encode()


def server_points(server: str, weight: int) -> list[int]:
    host, port = split_server(server)
    base = zlib.crc32(host + b"\x00" + port)
    points = []
    prev = 0
    for _ in range(weight * CONSISTENT_HASH_POINTS_PER_WEIGHT):
        prev = zlib.crc32(prev.to_bytes(4, "little"), base)
        points.append(prev)
    return points


@dataclass(frozen=True, slots=True)
class Ring:
    hashes: tuple[int, ...]  # sorted, unique
    servers: tuple[str, ...]  # server name of each point

    @classmethod
    def build(cls, peers: list[Peer]) -> Ring:
        pairs = sorted(
            (h, p.spec.name) for p in peers for h in server_points(p.spec.name, p.weight)
        )
        hashes: list[int] = []
        servers: list[str] = []
        for h, server in pairs:
            if hashes and hashes[-1] == h:
                continue  # nginx keeps the first of equal points
            hashes.append(h)
            servers.append(server)
        return cls(tuple(hashes), tuple(servers))

    def find(self, key_hash: int) -> int:
        """Index of the first point >= key_hash (may equal len: it wraps on use)."""
        return bisect.bisect_left(self.hashes, key_hash)

    def server_at(self, index: int) -> str:
        return self.servers[index % len(self.servers)]


class ConsistentHash:
    def __init__(self) -> None:
        self._fallback = RoundRobin()
        self._ring: Ring | None = None
        self._ring_of: tuple[tuple[str, int], ...] = ()

    def ring(self, peers: list[Peer]) -> Ring:
        # Rebuilt only when membership or a weight changes (API add/remove/PATCH, reload).
        shape = tuple((p.spec.name, p.weight) for p in peers)
        if self._ring is None or shape != self._ring_of:
            self._ring = Ring.build(peers)
            self._ring_of = shape
        return self._ring

    def select(self, pick: Pick) -> Peer | None:
        attempt = pick.attempt
        peers = list(pick.peers)
        key = hash_key_or_none(pick, peers)
        if key is None:
            return self._fallback.select(pick)
        ring = self.ring(peers)
        if attempt.hash_value is None:
            attempt.hash_value = ring.find(zlib.crc32(key))
        while True:
            server = ring.server_at(attempt.hash_value)
            named = [p for p in peers if p.spec.name == server and pick.eligible(p)]
            best = smooth_wrr(named, pick.now)
            if best is not None:
                return best
            attempt.hash_value += 1
            attempt.policy_tries += 1
            if attempt.policy_tries > MAX_HASH_TRIES:
                return self._fallback.select(pick)
