"""Connections to upstream servers and the per-upstream keep-alive cache.

`UpstreamConnection` is a thin Protocol: it forwards bytes and events to whichever exchange
currently owns it. `UpstreamPool` is nginx's `keepalive N`: up to N idle connections per
upstream, the least recently used closed beyond N, each connection retired after
`keepalive_requests` requests or `keepalive_time`, and closed after `keepalive_timeout` idle.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httptools

from hotdeploy.proxy.clock import close_reading, open_reading
from hotdeploy.upstream.peer import Peer

if TYPE_CHECKING:
    from hotdeploy.proxy.exchange import Exchange


class UpstreamConnection:
    # An asyncio protocol by its methods (no asyncio.Protocol base, so mypyc can compile it).
    __slots__ = ("created", "exchange", "idle_since", "parser", "peer", "pool", "received",
                 "requests", "tracker", "transport", "tunnel")

    def __init__(self, peer: Peer, created: float, tracker: Any = None) -> None:
        # `tracker` counts this connection against worker_connections until it is lost (the
        # opener counted it already while connecting).
        self.tracker = tracker
        self.peer = peer
        self.created = created
        self.idle_since = 0.0
        self.requests = 0
        self.received = 0  # bytes received for the current exchange
        self.exchange: Exchange | None = None  # the request it serves, None while idle
        self.tunnel: Any = None  # after 101 Switching Protocols: a proxy.tunnel.Tunnel
        self.pool: UpstreamPool | None = None
        self.transport: asyncio.Transport | None = None
        # One response parser for the connection's life (llhttp reads response after response
        # on a keep-alive connection), with this object as its protocol: creating a parser per
        # request also creates its five bound callbacks, which costs more than forwarding them.
        self.parser: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        exchange = self.exchange
        if exchange is not None:
            open_reading()
            try:
                exchange.upstream_data(data)
            finally:
                close_reading()
        elif self.tunnel is not None:
            self.tunnel.upstream_data(data)
        else:
            # An idle pooled connection must stay silent; anything else means it is unusable.
            self.close()

    def response_parser(self) -> Any:
        parser = self.parser
        if parser is None:
            parser = self.parser = httptools.HttpResponseParser(self)
            # nginx reads upstream lines ended by a lone LF (a lone CR is still invalid).
            parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        return parser

    # httptools callbacks, forwarded to the exchange (native calls once compiled)
    def on_message_begin(self) -> None:
        if self.exchange is None:
            # A response begins after the exchange's response ended: the server sent more
            # than was asked (nginx: "upstream sent more data than specified"). Those bytes
            # are dropped and the connection is not reused.
            self.close()

    def on_status(self, reason: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_status(reason)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_body(body)

    def on_message_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_message_complete()

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
        self.parser = None
        exchange = self.exchange
        tunnel = self.tunnel
        if exchange is not None and transport is not None:
            self.exchange = None
            exchange.upstream_lost(self, exc)
        elif tunnel is not None and transport is not None:
            self.tunnel = None
            tunnel.upstream_lost(self, exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_pause_writing()
        elif self.tunnel is not None:
            self.tunnel.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_resume_writing()
        elif self.tunnel is not None:
            self.tunnel.upstream_resume_writing()

    def close(self) -> None:
        self.exchange = None
        self.tunnel = None
        self.parser = None  # it refers back to this object: break the cycle now, not at GC
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
