"""Connections to upstream servers and the per-upstream keep-alive cache.

`UpstreamConnection` is a thin Protocol: it forwards bytes and events to whichever exchange
currently owns it. `UpstreamPool` is nginx's `keepalive N`: up to N idle connections per
upstream, the least recently used closed beyond N, each connection retired after
`keepalive_requests` requests or `keepalive_time`, and closed after `keepalive_timeout` idle.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hotdeploy.upstream.peer import Peer


class UpstreamConnection:
    # An asyncio protocol by its methods (no asyncio.Protocol base, so mypyc can compile it).
    __slots__ = ("created", "exchange", "idle_since", "peer", "pool", "received", "requests",
                 "tracker", "transport")

    def __init__(self, peer: Peer, created: float, tracker: Any = None) -> None:
        # `tracker` counts this connection against worker_connections until it is lost (the
        # opener counted it already while connecting).
        self.tracker = tracker
        self.peer = peer
        self.created = created
        self.idle_since = 0.0
        self.requests = 0
        self.received = 0  # bytes received for the current exchange
        self.exchange: Any = None
        self.pool: UpstreamPool | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        exchange = self.exchange
        if exchange is None:
            # An idle pooled connection must stay silent; anything else means it is unusable.
            self.close()
            return
        exchange.upstream_data(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        tracker = self.tracker
        if tracker is not None:
            self.tracker = None
            tracker.upstream -= 1
        transport = self.transport
        self.transport = None
        if self.pool is not None:
            self.pool.discard(self)
        exchange = self.exchange
        if exchange is not None and transport is not None:
            self.exchange = None
            exchange.upstream_lost(self, exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_resume_writing()

    def close(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Idle connections of one upstream, kept per peer (oldest first, most recently used at
    the end): taking a connection for the selected peer is a pop, not a scan (once per
    request). The limits are the upstream's, as nginx's single cache queue has them."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size = size
        self.timeout = timeout
        self.by_peer: dict[Peer, list[UpstreamConnection]] = {}
        self.count = 0
        self.closed = False

    @property
    def idle(self) -> list[UpstreamConnection]:
        """Every idle connection, least recently used first (API and tests)."""
        conns = [c for stack in self.by_peer.values() for c in stack]
        conns.sort(key=lambda c: c.idle_since)
        return conns

    def take(self, peer: Peer, now: float) -> UpstreamConnection | None:
        stack = self.by_peer.get(peer)
        while stack:
            conn = stack.pop()
            self.count -= 1
            conn.pool = None
            if now - conn.idle_since > self.timeout or conn.transport is None:
                conn.close()
                continue
            return conn
        return None

    def put(self, conn: UpstreamConnection, now: float) -> None:
        if self.closed:  # its configuration generation ended while this request ran
            conn.close()
            return
        conn.exchange = None
        conn.idle_since = now
        conn.pool = self
        stack = self.by_peer.get(conn.peer)
        if stack is None:
            stack = self.by_peer[conn.peer] = []
        stack.append(conn)
        self.count += 1
        if self.count > self.size:
            # Over `keepalive N`: close the least recently used connection of the upstream.
            oldest = min((st for st in self.by_peer.values() if st),
                         key=lambda st: st[0].idle_since)
            victim = oldest.pop(0)
            self.count -= 1
            victim.pool = None
            victim.close()

    def discard(self, conn: UpstreamConnection) -> None:
        stack = self.by_peer.get(conn.peer)
        if stack is not None and conn in stack:
            stack.remove(conn)
            self.count -= 1
        conn.pool = None

    def expire(self, now: float) -> None:
        """Close connections idle longer than `keepalive_timeout` (called periodically)."""
        for stack in self.by_peer.values():
            while stack and now - stack[0].idle_since > self.timeout:
                conn = stack.pop(0)
                self.count -= 1
                conn.pool = None
                conn.close()

    def adopt(self, peers: dict[tuple[str, bool], Peer]) -> None:
        """After a reload: point idle connections at the new generation's peer objects
        (same address and role), close the ones whose server is gone."""
        old, self.by_peer, self.count = self.by_peer, {}, 0
        for conn in sorted((c for st in old.values() for c in st), key=lambda c: c.idle_since):
            peer = peers.get(conn.peer.key)
            if peer is None:
                conn.pool = None
                conn.close()
            else:
                conn.peer = peer
                self.by_peer.setdefault(peer, []).append(conn)
                self.count += 1

    def close(self) -> None:
        self.closed = True
        by_peer, self.by_peer, self.count = self.by_peer, {}, 0
        for stack in by_peer.values():
            for conn in stack:
                conn.pool = None
                conn.close()
