"""Listening side: the protocol factory for `loop.create_server(..., sock=...)` and the
connection tracker used for graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config.model import Listen
from hotdeploy.proxy import connection_stats
from hotdeploy.proxy.client import ClientConnection
from hotdeploy.proxy.runtime import RuntimeHolder

DRAIN_POLL_INTERVAL = d.DRAIN_POLL_INTERVAL


class ConnectionTracker:
    """Every open client connection, so shutdown can close idle ones and wait for the rest."""

    def __init__(self) -> None:
        self.connections: set[ClientConnection] = set()
        self.upstream = 0  # open or opening upstream connections (worker_connections)
        self.batch: Any = None  # the WriteBatch of the connections' event loop
        # stub_status counters (proxy/connection_stats.py): counted per connection, never
        # per request.
        self.accepted = 0
        self.handled = 0
        self.closed_requests = 0

    @property
    def count(self) -> int:
        """Connections counted against `worker_connections`: clients plus upstreams."""
        return len(self.connections) + self.upstream

    def add(self, conn: ClientConnection) -> None:
        self.connections.add(conn)
        self.handled += 1

    def remove(self, conn: ClientConnection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.closed_requests += connection_stats.requests_created(conn)

    @property
    def active_requests(self) -> int:
        """Requests being answered or tunnels open."""
        return sum(1 for conn in self.connections if not conn.idle)

    def close_idle(self) -> int:
        """Close keep-alive connections between requests; the busy ones close after their
        current response (graceful shutdown, nginx's SIGQUIT). Returns how many were closed."""
        return sum(1 for conn in list(self.connections) if conn.close_if_idle())

    async def wait_drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (True) or `timeout` passes (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.active_requests:
            if loop.time() >= deadline:
                return False
            self.close_idle()
            await asyncio.sleep(DRAIN_POLL_INTERVAL)
        return True

    def abort_all(self) -> None:
        """Fast shutdown (SIGTERM): drop every connection now."""
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()


def make_protocol_factory(holder: RuntimeHolder, listen: Listen,
                          tracker: ConnectionTracker | None = None
                          ) -> Callable[[], asyncio.Protocol]:
    """A factory for one listening socket. `tracker` defaults to a new one; pass the same
    tracker for every listener so shutdown sees all connections."""
    key = listen.key
    track = tracker if tracker is not None else ConnectionTracker()
    connection_stats.register(track)

    def factory() -> asyncio.Protocol:
        return ClientConnection(holder, key, track, asyncio.get_event_loop())

    factory.tracker = track  # type: ignore[attr-defined]
    return factory
