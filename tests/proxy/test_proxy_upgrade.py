"""WebSocket (Upgrade) tunnelling, real-IP, pooled-connection races."""

from __future__ import annotations

import asyncio

import httpx

CONF = """
events {}
http {
  upstream backend { server UP1; keepalive 4; }
  server {
    listen LISTEN;
    set_real_ip_from 127.0.0.0/8;
    real_ip_header X-Forwarded-For;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header X-Client $remote_addr;
    }
    location /pooled/ {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
"""


async def ws_backend_serve(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"upgrade: websocket" in head.lower()
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n\r\nhello-from-server")
    while data := await reader.read(1024):
        writer.write(b"echo:" + data)
    writer.close()


async def test_websocket_upgrade_is_tunnelled_both_ways(balancer):
    server = await asyncio.start_server(ws_backend_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lb = await balancer(CONF, UP1=f"127.0.0.1:{port}")
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"Upgrade: websocket" in head and b"Connection: upgrade" in head
    assert await asyncio.wait_for(reader.readexactly(17), 2) == b"hello-from-server"
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(9), 2) == b"echo:ping"
    writer.close()
    server.close()


async def test_real_ip_from_trusted_proxy(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        await client.get(lb.url, headers={"X-Forwarded-For": "203.0.113.7"})
    assert b.requests[0].header("x-client") == "203.0.113.7"


async def stale_serve(reader, writer):
    """Answers the first request of each connection, then closes when the next one arrives
    without answering it: a server timing out an idle keep-alive connection as we reuse it."""
    served = 0
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            if served:
                break
            served += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def test_reused_connection_closed_by_server_is_retried_on_a_fresh_one(balancer):
    server = await asyncio.start_server(stale_serve, "127.0.0.1", 0)
    lb = await balancer(CONF, UP1=f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get(lb.url + "/pooled/")).status_code == 200
        # nginx's guard still holds for POST: it may have been acted upon.
        assert (await client.post(lb.url + "/pooled/", content=b"x")).status_code == 502
    server.close()
