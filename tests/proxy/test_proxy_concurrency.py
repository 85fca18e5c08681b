"""Many concurrent keep-alive clients with mixed bodies: every answer is the right one."""

from __future__ import annotations

import asyncio

import httpx

CONF = """
events {}
http {
  upstream backend { server UP1; server UP2; keepalive 64; }
  server {
    listen LISTEN;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
"""


def handler(backend, seen):
    if seen.method == "POST":
        return 200, [], seen.body[::-1]
    size = int(seen.target.rsplit("/", 1)[1])
    if size % 2:
        body = b"y" * size
        return (200, [("Transfer-Encoding", "chunked")],
                b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    return 200, [], b"x" * size


async def test_concurrent_clients_get_their_own_answers(backends, balancer):
    (a, b) = await backends(handler, handler)
    lb = await balancer(CONF, UP1=a.address, UP2=b.address)

    async def client_run(index: int) -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
            for i in range(10):
                size = (index * 37 + i * 101) % 5000 + 1
                if i % 3 == 0:
                    payload = f"{index}-{i}".encode() * 10
                    r = await client.post(lb.url + "/p", content=payload)
                    assert r.content == payload[::-1]
                else:
                    r = await client.get(f"{lb.url}/g/{size}")
                    assert len(r.content) == size
                    assert r.content == (b"y" if size % 2 else b"x") * size

    await asyncio.wait_for(asyncio.gather(*(client_run(i) for i in range(40))), 20)
    assert len(a.requests) + len(b.requests) == 400
    # Pooled, not one per request: the cache (keepalive 64) outnumbers the 40 clients, so
    # a connection is opened only while all of that backend's connections are busy, and
    # never more than there are requests in flight at once.
    assert a.connections <= 40 and b.connections <= 40
