#!/usr/bin/env python3
"""The floor: the least an HTTP/1.1 keep-alive proxy in Python can do, measured beside hotdeploy.

    python bench/floor_proxy.py LISTEN_PORT BACKEND_PORT [BACKEND_PORT ...]

uvloop + httptools, the same stack as `hotdeploy lb`, but none of nginx's semantics: requests
and responses are forwarded byte for byte (no header rewriting, routing, timeouts, retries,
health, logs or metrics), backends are taken in turn, idle backend connections are reused.
It exists only so the benchmark can show what CPython itself costs per request on this
machine: whatever hotdeploy spends beyond this row is its own work. Not for real traffic.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

import httptools
import uvloop

HOST = "127.0.0.1"


class BackendConnection(asyncio.Protocol):
    def __init__(self, pool: list[BackendConnection]) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.client: ClientConnection | None = None
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is not None and client.transport is not None:
            client.transport.write(data)  # the response, byte for byte
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.client = None
        self.pool.append(self)  # idle: the next request may reuse it

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self in self.pool:
            self.pool.remove(self)


class ClientConnection(asyncio.Protocol):
    def __init__(self, backends: list[tuple[int, list[BackendConnection]]],
                 turn: itertools.cycle[int]) -> None:
        self.backends = backends
        self.turn = turn
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pending.append(data)
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        request, self.pending = b"".join(self.pending), []
        port, pool = self.backends[next(self.turn)]
        if pool:
            backend = pool.pop()
            backend.client = self
            assert backend.transport is not None
            backend.transport.write(request)
        else:
            asyncio.get_running_loop().create_task(self._connect(port, pool, request))

    async def _connect(self, port: int, pool: list[BackendConnection], request: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, backend = await loop.create_connection(lambda: BackendConnection(pool), HOST, port)
        backend.client = self
        assert backend.transport is not None
        backend.transport.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(listen_port: int, backend_ports: list[int]) -> None:
    backends: list[tuple[int, list[BackendConnection]]] = [(p, []) for p in backend_ports]
    turn = itertools.cycle(range(len(backends)))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ClientConnection(backends, turn), HOST,
                                      listen_port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    uvloop.run(serve(int(sys.argv[1]), [int(p) for p in sys.argv[2:]]))


if __name__ == "__main__":
    main()
