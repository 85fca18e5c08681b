"""Requests the proxy answers itself: malformed, oversized, forbidden, return, error_page."""

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
    access_log ACCESS_LOG;
    large_client_header_buffers 2 1k;
    client_header_timeout 300ms;
    location / { proxy_pass http://backend; }
    location /private/ { allow 10.0.0.0/8; deny all; proxy_pass http://backend; }
    location = /hello {
      add_header X-Ok yes; add_header X-Always on always; return 200 "hi $remote_addr";
    }
    location = /gone { add_header X-Ok yes; add_header X-Always on always; return 410; }
    location = /moved { return 301 http://example.com/new; }
    location = /teapot { error_page 404 =200 /fallback; return 404; }
    location = /fallback { return 200 "fallback"; }
    location = /away { error_page 403 http://example.com/login; return 403; }
  }
}
"""


def page(code: str) -> bytes:
    return (f"<html>\r\n<head><title>{code}</title></head>\r\n<body>\r\n"
            f"<center><h1>{code}</h1></center>\r\n<hr><center>hotdeploy</center>\r\n"
            "</body>\r\n</html>\r\n").encode()


async def test_malformed_request_is_400_and_closed(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.1\r\nHost x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert raw.endswith(page("400 Bad Request"))
    assert b"Connection: close" in raw
    assert b.requests == []


async def test_http11_without_host_is_400(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.1\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_request_line_too_long_is_414(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 414 Request-URI Too Large\r\n")
    assert raw.endswith(page("414 Request-URI Too Large"))


async def test_header_too_large_is_400_with_nginx_page(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 2000 +
                             b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"<head><title>400 Request Header Or Cookie Too Large</title></head>" in raw
    assert b"<center>Request Header Or Cookie Too Large</center>" in raw


async def test_allow_deny_answers_403(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url + "/private/x")
    assert r.status_code == 403
    assert r.content == page("403 Forbidden")
    assert b.requests == []


async def test_return_text_and_add_header(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        ok = await client.get(lb.url + "/hello")
        gone = await client.get(lb.url + "/gone")
        moved = await client.get(lb.url + "/moved")
    assert (ok.status_code, ok.text) == (200, "hi 127.0.0.1")
    assert ok.headers["x-ok"] == "yes" and ok.headers["x-always"] == "on"
    # add_header without `always` applies only to 2xx/3xx success codes.
    assert gone.status_code == 410 and "x-ok" not in gone.headers
    assert gone.headers["x-always"] == "on"
    assert moved.status_code == 301 and moved.headers["location"] == "http://example.com/new"


async def test_error_page_internal_and_redirect(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        teapot = await client.get(lb.url + "/teapot")
        away = await client.get(lb.url + "/away")
    assert (teapot.status_code, teapot.text) == (200, "fallback")
    assert away.status_code == 302 and away.headers["location"] == "http://example.com/login"


async def test_client_header_timeout_closes_connection(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_client_gone_before_response_is_logged_499(backends, balancer):
    async def slow(backend, seen):
        await asyncio.sleep(0.5)
        return 200, [], b"late"

    (b,) = await backends(slow)
    lb = await balancer(CONF, UP1=b.address)
    _, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    writer.close()
    await asyncio.sleep(0.1)
    (line,) = lb.access_log()
    assert '"GET /x HTTP/1.1" 499 0' in line


INTERCEPT = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    location / {
      proxy_pass http://backend;
      proxy_intercept_errors on;
      error_page 503 =200 /maintenance;
    }
    location = /maintenance { return 200 "down for maintenance"; }
  }
}
"""


async def test_intercepted_upstream_error_uses_error_page(backends, balancer):
    (b,) = await backends(lambda backend, seen: (503, [], b"upstream page"))
    lb = await balancer(INTERCEPT, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url + "/x")
    assert (r.status_code, r.text) == (200, "down for maintenance")


async def test_client_body_timeout_logs_408(backends, balancer):
    (b,) = await backends("b")
    conf = CONF.replace("client_header_timeout 300ms;", "client_body_timeout 200ms;")
    lb = await balancer(conf, UP1=b.address)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed without a response
    writer.close()
    await asyncio.sleep(0.05)
    (line,) = lb.access_log()
    assert '"POST /x HTTP/1.1" 408 ' in line
    assert b.requests == []
