"""What the proxy remembers from one request or response to the next (the header layout of a
location's responses, a client connection's header names, Host and route) must never carry a
decision over to a message that differs: each one is handled as if it came first."""

from __future__ import annotations

import asyncio

import pytest

CONF = """
events {}
http {
  upstream backend { server UP1; keepalive 4; }
  server {
    listen LISTEN;
    server_name a;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Host a-$host;
      proxy_hide_header X-Secret;
    }
  }
  server {
    listen LISTEN;
    server_name b;
    location / { proxy_pass http://backend; proxy_set_header X-Host b-$host; }
    location /y { proxy_pass http://backend; proxy_set_header X-Host by-$host; }
  }
}
"""


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               request: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """One request on an open keep-alive connection: the response's headers and body."""
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")[1:-2]
        headers = [(k.lower(), v) for k, _, v in (line.partition(b": ") for line in lines)]
        length = int(dict(headers)[b"content-length"])
        body = await reader.readexactly(length)
    return headers, body


# Upstream header lists, one per response, all for one location: names move between
# positions, so a name remembered at a position meets other names there next time.
LAYOUTS = [
    [("X-Secret", "s"), ("X-Ok", "1")],
    [("X-Ok", "1"), ("X-Secret", "s")],
    [("X-Other", "2"), ("X-Ok", "1"), ("X-Secret", "s")],
    [("Keep-Alive", "timeout=5"), ("X-Ok", "1")],
    [("X-Secret", "s"), ("X-Ok", "1")],
    [("X-Ok", "1")],
    [("X-OK", "1"), ("X-SECRET", "s")],
]


async def test_response_headers_are_judged_by_name_whatever_came_before(backends, balancer):
    count = 0

    def handler(_backend, _seen):
        nonlocal count
        layout = LAYOUTS[count % len(LAYOUTS)]
        count += 1
        return 200, layout, b"ok"

    (b1,) = await backends(handler)
    lb = await balancer(CONF, UP1=b1.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    try:
        for layout in LAYOUTS * 2:
            headers, body = await _ask(reader, writer, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            names = [name for name, _ in headers]
            sent = {name.lower().encode() for name, _ in layout}
            assert body == b"ok"
            assert b"x-secret" not in names, (layout, headers)
            assert b"keep-alive" not in names, headers  # hop-by-hop: never passed on
            assert (b"x-ok" in names) == (b"x-ok" in sent)
            assert (b"x-other" in names) == (b"x-other" in sent)
    finally:
        writer.close()
    assert b1.connections == 1  # one upstream connection, reused: one layout memory


async def test_each_request_routed_and_its_headers_read_afresh(backends, balancer):
    def handler(_backend, seen):
        reply = f"{seen.header('x-host')},{seen.header('x-a')},{seen.header('x-y')}"
        return 200, [], reply.encode()

    (b1,) = await backends(handler)
    lb = await balancer(CONF, UP1=b1.address)
    requests = [
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n", b"a-a,1,None"),
        (b"GET /x HTTP/1.1\r\nX-A: 1\r\nHost: b\r\n\r\n", b"b-b,1,None"),  # names swapped
        (b"GET /y HTTP/1.1\r\nHost: b\r\nX-A: 1\r\n\r\n", b"by-b,1,None"),  # another path
        (b"GET /y HTTP/1.1\r\nHost: B\r\nX-A: 1\r\n\r\n", b"by-b,1,None"),  # same host
        (b"GET /y HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n", b"a-a,1,None"),  # same path
        # an underscore name is dropped; the valid one at its place next time is not
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX_Y: 1\r\n\r\n", b"a-a,None,None"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX-Y: 2\r\n\r\n", b"a-a,None,2"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX_Y: 3\r\n\r\n", b"a-a,None,None"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX-Y: 4\r\n\r\n", b"a-a,None,4"),
    ]
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    try:
        for request, expected in requests:
            _headers, body = await _ask(reader, writer, request)
            assert body == expected, request
    finally:
        writer.close()


@pytest.mark.parametrize("second", [b"Host: a..b", b"Host: a\r\nHost: a"])
async def test_a_bad_host_after_a_good_one_is_refused(backends, balancer, second):
    (b1,) = await backends(None)
    lb = await balancer(CONF, UP1=b1.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    try:
        _headers, body = await _ask(reader, writer, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert body == b"b0"
        writer.write(b"GET / HTTP/1.1\r\n" + second + b"\r\n\r\n")
        async with asyncio.timeout(5):
            status = await reader.readuntil(b"\r\n")
        assert status.startswith(b"HTTP/1.1 400 "), status
    finally:
        writer.close()
    assert len(b1.requests) == 1
