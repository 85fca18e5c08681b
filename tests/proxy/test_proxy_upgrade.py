"""WebSocket (Upgrade) tunnelling, real-IP, pooled-connection races, reload between requests."""

from __future__ import annotations

import asyncio
import time

import httpx
from proxy_harness import Balancer

from hotdeploy.config.loader import load_config
from hotdeploy.proxy.runtime import build_runtime

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


async def test_pooled_connection_closed_by_server_does_not_fail_request(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        assert (await client.get(lb.url + "/pooled/")).status_code == 200
        # The backend drops its idle keep-alive connections (as servers do on their timeout).
        pool = lb.runtime.pools["backend"]
        assert len(pool.idle) == 1
        conn = pool.idle[0]
        # Simulate the race: the server closed, we have not noticed yet.
        conn.pool = None
        pool.idle.clear()
        conn.transport.close()
        pool.idle.append(conn)
        conn.pool = pool
        conn.transport = conn.transport  # still looks usable to the pool
        r = await client.get(lb.url + "/pooled/")
    assert r.status_code == 200


async def test_reload_applies_to_next_request_on_same_keepalive_connection(
        backends, balancer, tmp_path):
    (one, two) = await backends("one", "two")
    lb: Balancer = await balancer(CONF, UP1=one.address)
    text = (tmp_path / "nginx.conf").read_text().replace(one.address, two.address)
    (tmp_path / "nginx.conf").write_text(text)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        assert (await client.get(lb.url + "/pooled/")).text == "one"
        new = build_runtime(load_config(str(tmp_path / "nginx.conf"), str(tmp_path) + "/"),
                            lb.runtime, time.monotonic())
        old = lb.holder.swap(new)
        old.stop()
        assert (await client.get(lb.url + "/pooled/")).text == "two"
    assert len(lb.tracker.connections) == 1
