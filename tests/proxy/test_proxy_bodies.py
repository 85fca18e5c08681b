"""Bodies both ways: Content-Length and chunked, 100-continue, HEAD/204/304, back-pressure."""

from __future__ import annotations

import asyncio

import httpx
from proxy_harness import raw_exchange

CONF = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    client_max_body_size 64k;
    location / { proxy_pass http://backend; }
  }
}
"""


async def echo(backend, seen):
    return 200, [("X-Len", str(len(seen.body)))], seen.body


async def test_chunked_request_body_reaches_upstream_with_content_length(backends, balancer):
    (b,) = await backends(echo)
    lb = await balancer(CONF, UP1=b.address)

    async def gen():
        yield b"hello "
        yield b"world"

    async with httpx.AsyncClient() as client:
        r = await client.post(lb.url, content=gen())
    assert r.text == "hello world"
    assert b.requests[0].header("content-length") == "11"
    assert b.requests[0].header("transfer-encoding") is None


async def test_chunked_response_is_streamed_to_client(backends, balancer):
    def handler(backend, seen):
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        return 200, [("Transfer-Encoding", "chunked")], body

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    async with httpx.AsyncClient() as client:
        assert (await client.get(lb.url)).text == "hello world"


async def test_close_delimited_response_to_http10_client(backends, balancer):
    (b,) = await backends(lambda be, s: b"HTTP/1.0 200 OK\r\n\r\nuntil-close")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.0\r\n\r\n")
    assert raw.endswith(b"\r\n\r\nuntil-close")
    assert b"Connection: close" in raw


async def test_expect_100_continue(backends, balancer):
    (b,) = await backends(echo)
    lb = await balancer(CONF, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
                 b"Connection: close\r\n\r\n")
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"data")
    rest = await asyncio.wait_for(reader.read(), 2)
    assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"data")
    assert b.requests[0].header("expect") is None
    writer.close()


async def test_head_response_has_no_body(backends, balancer):
    def handler(backend, seen):
        # a HEAD answer carries the GET's Content-Length and no body
        body = b"" if seen.method == "HEAD" else b"hello"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + body

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n")
    raw = await asyncio.wait_for(reader.read(), 3)
    first, second = raw.split(b"HTTP/1.1 ")[1:3]
    assert first.endswith(b"\r\n\r\n") and b"Content-Length: 5" in first
    assert second.startswith(b"200") and second.endswith(b"\r\n\r\nhello")
    writer.close()


async def test_204_and_304_have_no_body(backends, balancer):
    def handler(backend, seen):
        code = 204 if seen.target == "/204" else 304
        return f"HTTP/1.1 {code} X\r\n\r\n".encode()

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        for code in (204, 304):
            r = await client.get(f"{lb.url}/{code}")
            assert r.status_code == code and r.content == b""
            assert "transfer-encoding" not in r.headers


async def test_body_over_client_max_body_size_is_413(backends, balancer):
    (b,) = await backends(echo)
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.post(lb.url, content=b"x" * (65 * 1024))
    assert r.status_code == 413
    assert r.text == ("<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n"
                      "<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n"
                      "<hr><center>hotdeploy</center>\r\n</body>\r\n</html>\r\n")
    assert b.requests == []


async def test_slow_reader_keeps_proxy_buffer_bounded(backends, balancer):
    size = 16 * 1024 * 1024

    async def big(backend, seen):
        return 200, [], b"z" * size

    (b,) = await backends(big)
    lb = await balancer(CONF, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.transport.pause_reading()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await asyncio.sleep(0.5)  # the client reads nothing meanwhile
    (conn,) = lb.tracker.connections
    # The proxy holds at most its high-water mark plus one upstream read, not 16 MB.
    assert conn.transport.get_write_buffer_size() < 1024 * 1024
    assert not conn.exchange.conn.transport.is_reading()  # the upstream is paused
    writer.transport.resume_reading()
    total = 0
    async with asyncio.timeout(10):
        while chunk := await reader.read(1 << 20):
            total += len(chunk)
    assert total > size  # head + whole body arrived once the client read
    writer.close()


STREAM_CONF = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_send_timeout 5s;
    }
  }
}
"""


async def test_request_buffering_off_streams_body_before_it_is_complete(backends, balancer):
    (b,) = await backends(echo)
    lb = await balancer(STREAM_CONF, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n"
                 b"\r\nfirst")
    await asyncio.sleep(0.2)
    # The upstream connection is open and has the head before the body is complete.
    assert b.connections == 1
    writer.write(b"-last")
    rest = await asyncio.wait_for(reader.read(), 3)
    assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"first-last")
    writer.close()


async def test_request_buffering_off_chunked_body_goes_chunked(backends, balancer):
    seen_raw = []

    async def serve(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readuntil(b"0\r\n\r\n")
        seen_raw.append(head + body)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    lb = await balancer(STREAM_CONF, UP1=f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
    raw = await raw_exchange(lb.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                             b"\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert raw.endswith(b"ok")
    assert b"transfer-encoding: chunked" in seen_raw[0].lower()
    assert seen_raw[0].endswith(b"3\r\nabc\r\n0\r\n\r\n")
    server.close()


async def test_request_buffering_off_no_next_server_once_body_bytes_went_out(balancer):
    """nginx: with proxy_request_buffering off, "the request cannot be passed to the next
    server if nginx already started sending the request body", even for a method that
    `non_idempotent` allows to be retried."""
    connections = {"first": 0, "second": 0}

    def server_named(name: str):
        async def serve(reader, writer):
            connections[name] += 1
            await reader.readuntil(b"\r\n\r\n")
            await reader.read(5)  # part of the body, then the server fails without answering
            writer.transport.abort()
        return serve

    first = await asyncio.start_server(server_named("first"), "127.0.0.1", 0)
    second = await asyncio.start_server(server_named("second"), "127.0.0.1", 0)
    conf = STREAM_CONF.replace("server UP1;", "server UP1; server UP2;").replace(
        "proxy_request_buffering off;",
        "proxy_request_buffering off; proxy_next_upstream error timeout non_idempotent;")
    lb = await balancer(conf, UP1=f"127.0.0.1:{first.sockets[0].getsockname()[1]}",
                        UP2=f"127.0.0.1:{second.sockets[0].getsockname()[1]}")
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n"
                 b"\r\nfirst")
    await asyncio.sleep(0.2)
    writer.write(b"-last")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 502")
    # Round robin sent it to one of them; the other never saw it.
    assert sorted(connections.values()) == [0, 1]
    first.close()
    second.close()
