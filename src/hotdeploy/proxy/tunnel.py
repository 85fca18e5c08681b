"""A bidirectional byte pipe after `101 Switching Protocols` (WebSocket, RFC 6455 / RFC 9110
§7.8). Each direction applies back-pressure: when one side's write buffer is full, reading from
the other side pauses until it drains."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotdeploy.proxy.client import ClientConnection
    from hotdeploy.proxy.request import Request
    from hotdeploy.proxy.upstream import UpstreamConnection


class Tunnel:
    __slots__ = ("client", "closed", "group", "peer", "req", "upstream")

    def __init__(self, client: ClientConnection, upstream: UpstreamConnection, req: Request,
                 group: Any, peer: Any) -> None:
        self.client = client
        self.upstream = upstream
        self.req = req
        self.group = group
        self.peer = peer
        self.closed = False

    def start(self, upstream_rest: bytes) -> None:
        self.upstream.exchange = None
        self.upstream.tunnel = self
        self.client.tunnel = self
        # From here on both directions are written directly: the 101 head goes out first.
        self.client.batch.flush()
        if upstream_rest:
            self.client.transport.write(upstream_rest)
        pending = self.client.take_upgrade_data()
        if pending and self.upstream.transport is not None:
            self.upstream.transport.write(pending)
        self.client.resume_reading()

    # client -> upstream
    def from_client(self, data: bytes) -> None:
        transport = self.upstream.transport
        if transport is not None:
            transport.write(data)

    def client_pause_writing(self) -> None:
        if self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def client_resume_writing(self) -> None:
        if self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    # upstream -> client
    def upstream_data(self, data: bytes) -> None:
        self.req.body_bytes_sent += len(data)
        self.client.transport.write(data)

    def upstream_pause_writing(self) -> None:
        self.client.pause_reading()

    def upstream_resume_writing(self) -> None:
        self.client.resume_reading()

    def upstream_lost(self, conn: Any, exc: Exception | None) -> None:
        self.close()

    def client_lost(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.peer.received += self.upstream.received
        self.upstream.close()
        self.group.release(self.peer, False, time.monotonic())
        self.client.tunnel_closed(self.req)
