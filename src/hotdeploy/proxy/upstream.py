"""Connections to upstream servers and the per-upstream keep-alive cache.

`UpstreamConnection` is a thin Protocol: it forwards bytes and events to whichever exchange
currently owns it. `UpstreamPool` is nginx's `keepalive N`: up to N idle connections per
upstream, the least recently used closed beyond N, each connection retired after
`keepalive_requests` requests or `keepalive_time`, and closed after `keepalive_timeout` idle.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from hotdeploy.upstream.peer import Peer


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("created", "exchange", "idle_since", "peer", "pool", "received", "requests",
                 "transport")

    def __init__(self, peer: Peer, created: float) -> None:
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
    """Idle connections of one upstream, most recently used at the right."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size = size
        self.timeout = timeout
        self.idle: deque[UpstreamConnection] = deque()
        self.closed = False

    def take(self, peer: Peer, now: float) -> UpstreamConnection | None:
        idle = self.idle
        # Scan from the most recently used end: with round robin the wanted peer is near.
        for i in range(len(idle) - 1, -1, -1):
            conn = idle[i]
            if conn.peer is peer:
                del idle[i]
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
        self.idle.append(conn)
        if len(self.idle) > self.size:
            oldest = self.idle.popleft()
            oldest.pool = None
            oldest.close()

    def discard(self, conn: UpstreamConnection) -> None:
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        conn.pool = None

    def expire(self, now: float) -> None:
        """Close connections idle longer than `keepalive_timeout` (called periodically)."""
        while self.idle and now - self.idle[0].idle_since > self.timeout:
            conn = self.idle.popleft()
            conn.pool = None
            conn.close()

    def adopt(self, peers: dict[tuple[str, bool], Peer]) -> None:
        """After a reload: point idle connections at the new generation's peer objects
        (same address and role), close the ones whose server is gone."""
        for conn in list(self.idle):
            peer = peers.get(conn.peer.key)
            if peer is None:
                self.discard(conn)
                conn.close()
            else:
                conn.peer = peer

    def close(self) -> None:
        self.closed = True
        while self.idle:
            conn = self.idle.popleft()
            conn.pool = None
            conn.close()
