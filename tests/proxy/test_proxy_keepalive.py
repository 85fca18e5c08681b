"""Keep-alive on both sides, pipelining, HTTP/1.0 clients."""

from __future__ import annotations

import asyncio

import httpx
from proxy_harness import raw_exchange

CONF = """
events {}
http {
  upstream backend { server UP1; keepalive 8; }
  server {
    listen LISTEN;
    keepalive_requests 3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /nopool/ {
      proxy_pass http://backend;
    }
  }
}
"""


async def test_client_and_upstream_connections_are_reused(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(limits=limits) as client:
        for _ in range(2):
            r = await client.get(lb.url + "/x")
            assert r.status_code == 200
            assert r.headers["connection"] == "keep-alive"
    assert len(lb.tracker.connections) == 1  # one client connection for both requests
    assert b.connections == 1  # and one upstream connection (keepalive 8, HTTP/1.1, no Connection)
    assert all(s.version == "HTTP/1.1" and s.header("connection") is None for s in b.requests)


async def test_without_keepalive_settings_each_request_opens_an_upstream_connection(
        backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get(lb.url + "/nopool/")).status_code == 200
    assert b.connections == 3


async def test_keepalive_requests_closes_after_the_nth_request(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    reqs = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" * 4
    raw = await raw_exchange(lb.port, reqs)
    # keepalive_requests 3: the third response says close and the connection ends there.
    assert raw.count(b"HTTP/1.1 200") == 3
    assert raw.count(b"Connection: close") == 1


async def test_pipelined_requests_are_answered_in_order(backends, balancer):
    async def handler(backend, seen):
        if seen.target == "/slow":
            await asyncio.sleep(0.2)
        return 200, [], seen.target.encode()

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    reqs = (b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = await raw_exchange(lb.port, reqs)
    bodies = [part.split(b"\r\n\r\n", 1)[1][:5] for part in raw.split(b"HTTP/1.1 200")[1:]]
    assert bodies == [b"/slow", b"/fast", b"/last"]


async def test_http10_client_gets_close_unless_it_asks_for_keepalive(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and b"Connection: close" in raw
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Connection: keep-alive" in head
    writer.write(b"GET / HTTP/1.0\r\n\r\n")  # still open: a second request is answered
    rest = await asyncio.wait_for(reader.read(), 3)
    assert b"HTTP/1.1 200" in rest
    writer.close()


async def test_keepalive_timeout_closes_idle_client_connection(backends, balancer):
    (b,) = await backends("b")
    conf = CONF.replace("keepalive_requests 3;", "keepalive_timeout 200ms;")
    lb = await balancer(conf, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readuntil(b"\r\n\r\nb")
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the proxy
    writer.close()


async def test_bytes_after_the_response_are_dropped_and_that_connection_not_reused(balancer):
    # A misbehaving server answers every request with its response plus an unsolicited
    # second one. nginx drops what follows the response ("upstream sent more data than
    # specified") and does not reuse the connection; a reused connection would hand the
    # stray response to the next request.
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lb = await balancer(CONF, UP1=f"127.0.0.1:{port}")
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        for _ in range(3):
            r = await client.get(lb.url + "/x")
            assert (r.status_code, r.content) == (200, b"real")
    assert connections == 3  # each polluted connection was closed, not pooled
    server.close()
