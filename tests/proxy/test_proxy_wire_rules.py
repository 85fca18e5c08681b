"""nginx's request parser rules the front end applies (ngx_http_parse.c, ngx_http_request.c):
the pure rules of proxy.wire, then each through a live balancer."""

from __future__ import annotations

import asyncio

import pytest
from proxy_harness import raw_exchange

from hotdeploy.proxy.wire import (
    NAME_INVALID,
    NAME_UNDERSCORE,
    NAME_VALID,
    absolute_form,
    http11_line,
    lf_request_line,
    name_kind,
    normalize_host,
    version_status,
)


@pytest.mark.parametrize(("value", "host"), [
    (b"Example.COM", "example.com"),  # case folded
    (b"example.com.", "example.com"),  # one trailing dot removed
    (b"example.com.:8080", "example.com"),  # port stripped, then the dot
    (b"[::1]:80", "[::1]"),
    (b"a\\b", "a\\b"),  # nginx does not refuse a backslash
    (b".a", ".a"),
    (b"", None), (b":80", None), (b"a..b", None), (b"..", None), (b"a/b", None),
    (b"a b", None), (b"a\x00b", None), (b"a\x7fb", None), (b".", None),
])
def test_normalize_host_is_ngx_http_validate_host(value, host):
    assert normalize_host(value) == host


@pytest.mark.parametrize(("target", "expected"), [
    ("http://evil.example/x?y=1", ("evil.example", "/x?y=1")),
    ("HTTPS://Evil.Example:8080/x", ("evil.example", "/x")),
    ("http://evil.example", ("evil.example", "/")),
    ("http://evil.example?a=1", ("evil.example", "/?a=1")),
    ("ftp://evil.example/", ("evil.example", "/")),  # nginx takes any scheme of letters
    ("http://u@evil.example/", (None, "/")),  # no userinfo: 400
    ("http://[::1]:81/p", ("[::1]", "/p")),
    ("*", None), ("x", None),
])
def test_absolute_form(target, expected):
    assert absolute_form(target) == expected


@pytest.mark.parametrize(("version", "expected"), [
    ("2.0", ("2.0", 505)), ("3.0", ("3.0", 505)), ("1.2", ("1.1", 0)), ("1.9", ("1.1", 0)),
    ("0.9", ("1.0", 400)),
])
def test_version_status(version, expected):
    assert version_status(version) == expected


def test_header_name_kinds():
    assert name_kind(b"X-Forwarded-For") == NAME_VALID
    assert name_kind(b"X_Forwarded_For") == NAME_UNDERSCORE
    assert name_kind(b"X.A") == name_kind(b"X@A") == name_kind(b"X\xe9") == NAME_INVALID


def test_lf_request_line_only_fixes_the_line_llhttp_read():
    assert lf_request_line(b"GET /a HTTP/1.0\nHost: x\n\n", b"/a") == \
        b"GET /a HTTP/1.0\r\nHost: x\n\n"
    assert lf_request_line(b"\r\nGET /a HTTP/1.1\nHost: x\n\n", b"/a") is not None
    assert lf_request_line(b"GET /a HTTP/1.1\r\nHost: x\n\n", b"/a") is None  # not a lone LF
    assert lf_request_line(b"GET /b HTTP/1.1\nHost: x\n\n", b"/a") is None  # another request
    assert lf_request_line(b"GET /a HTTP/1.1\rX\n", b"/a") is None  # a bare CR stays refused


@pytest.mark.parametrize(("data", "method", "url", "expected"), [
    (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", b"GET", b"/a", True),
    (b"GET /a HTTP/1.1\r\n", b"GET", b"/a", True),
    (b"GET /a HTTP/1.0\r\nHost: x\r\n\r\n", b"GET", b"/a", False),
    (b"GET /a HTTP/1.2\r\n", b"GET", b"/a", False),  # read as 1.1, by the parser's path
    (b"GET /a HTTP/1.1\nHost: x\n\n", b"GET", b"/a", False),  # lone LF: the retry's path
    (b"\r\nGET /a HTTP/1.1\r\n", b"GET", b"/a", False),  # empty lines before it
    (b"\nGET /a HTTP/1.1\r\n", b"GET", b"/a", False),
    (b"GET /a", b"GET", b"/abc", False),  # the URL went on in the next feed
    (b"", b"GET", b"/a", False),
    (b"POST /a?b HTTP/1.1\r\n", b"POST", b"/a?b", True),
])
def test_http11_line_claims_only_an_exact_request_line(data, method, url, expected):
    assert http11_line(data, method, url) is expected


CONF = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    server_name a;
    location / { proxy_pass http://backend; proxy_set_header X-Host $host; }
  }
  server {
    listen LISTEN;
    server_name evil.example;
    location / { proxy_pass http://backend; proxy_set_header X-Host evil-$host; }
  }
}
"""


async def _lb(backends, balancer, conf=CONF):
    (b1,) = await backends(None)
    lb = await balancer(conf, UP1=b1.address)
    return b1, lb


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", b"400"),  # duplicate Host
    (b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", b"400"),  # invalid host
    (b"GET / HTTP/1.0\r\nHost:\r\n\r\n", b"400"),  # empty host, even HTTP/1.0
    (b"GET http://x/ HTTP/1.1\r\n\r\n", b"400"),  # HTTP/1.1 needs Host, absolute form or not
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", b"501"),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", b"501"),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", b"501"),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),  # duplicate
    (b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", b"505"),
    (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", b"400"),
    (b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", b"405"),
    (b"GET / HTTP/1.1\rHost: a\r\n\r\n", b"400"),  # a bare CR is still refused
])
async def test_refused_as_nginx_and_nothing_forwarded(backends, balancer, request_bytes, status):
    b1, lb = await _lb(backends, balancer)
    raw = await raw_exchange(lb.port, request_bytes)
    assert raw.split(b" ", 2)[1] == status, raw
    assert b1.requests == []


async def test_lone_lf_lines_are_accepted(backends, balancer):
    b1, lb = await _lb(backends, balancer)
    raw = await raw_exchange(lb.port, b"GET /lf HTTP/1.0\nHost: a\nX-A: 1\n\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw
    assert b1.requests[0].target == "/lf" and b1.requests[0].header("x-a") == "1"


async def test_upstream_lone_lf_response_is_proxied(backends, balancer):
    (b1,) = await backends(lambda b, seen: b"HTTP/1.1 200 OK\nContent-Length: 2\nX-Up: lf\n\nok")
    lb = await balancer(CONF, UP1=b1.address)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.0\r\nHost: a\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"X-Up: lf\r\n" in raw, raw
    assert raw.endswith(b"ok")


async def test_absolute_form_selects_the_server_and_goes_upstream_in_origin_form(
        backends, balancer):
    b1, lb = await _lb(backends, balancer)
    raw = await raw_exchange(lb.port, b"GET http://Evil.Example./x?y=1 HTTP/1.1\r\nHost: a\r\n"
                                      b"Connection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw
    seen = b1.requests[0]
    assert seen.target == "/x?y=1"
    assert seen.header("x-host") == "evil-evil.example"


async def test_trailers_are_not_forwarded(backends, balancer):
    b1, lb = await _lb(backends, balancer)
    raw = await raw_exchange(lb.port, b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n"
                                      b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw
    assert b1.requests[0].body == b"abc" and b1.requests[0].header("x-t") is None


async def test_invalid_and_underscore_header_names_are_dropped_by_default(backends, balancer):
    b1, lb = await _lb(backends, balancer)
    raw = await raw_exchange(lb.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                      b"X_Forwarded_For: 1.2.3.4\r\nX.A: 1\r\nX-B: 2\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw
    seen = b1.requests[0]
    assert seen.header("x_forwarded_for") is None and seen.header("x.a") is None
    assert seen.header("x-b") == "2"


@pytest.mark.parametrize(("directives", "underscore", "dotted"), [
    ("underscores_in_headers on;", "1.2.3.4", None),
    ("ignore_invalid_headers off;", "1.2.3.4", "1"),
])
async def test_header_name_directives(backends, balancer, directives, underscore, dotted):
    conf = CONF.replace("server_name a;", "server_name a; " + directives)
    b1, lb = await _lb(backends, balancer, conf)
    await raw_exchange(lb.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                b"X_Forwarded_For: 1.2.3.4\r\nX.A: 1\r\n\r\n")
    seen = b1.requests[0]
    assert (seen.header("x_forwarded_for"), seen.header("x.a")) == (underscore, dotted)


async def _responses(port: int, feeds: list[bytes]) -> tuple[int, bool]:
    """How many responses came for `feeds` (sent 50 ms apart; the backend answers
    `200 X` with the body `b0`) and whether the balancer closed the connection afterwards."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for feed in feeds:
        writer.write(feed)
        await writer.drain()
        await asyncio.sleep(0.05)
    raw, closed = b"", False
    try:
        async with asyncio.timeout(1.0):
            while chunk := await reader.read(65536):
                raw += chunk
            closed = True
    except TimeoutError:
        pass
    finally:
        writer.close()
    assert raw.count(b"HTTP/1.1 ") == raw.count(b"HTTP/1.1 200 X\r\n"), raw
    return raw.count(b"HTTP/1.1 200 X\r\n"), closed


@pytest.mark.parametrize(("feeds", "answered", "closed"), [
    # pipelined in one feed: only the first request's line opens the feed
    ([b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.0\r\nHost: a\r\n\r\n"], 2, True),
    ([b"GET /1 HTTP/1.0\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"], 1, True),
    ([b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"], 2, False),
    # the request line cut between two feeds, before and after the version
    ([b"GET /1 HTTP/1.0\r\nHo", b"st: a\r\n\r\n"], 1, True),
    ([b"GET /lo", b"ng HTTP/1.0\r\nHost: a\r\n\r\n"], 1, True),
    ([b"GET /lo", b"ng HTTP/1.1\r\nHost: a\r\n\r\n"], 1, False),
    ([b"\r\nGET /1 HTTP/1.0\r\nHost: a\r\n\r\n"], 1, True),
    # llhttp reads Proxy-Connection's tokens as Connection's
    ([b"GET /1 HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\n"], 1, True),
    ([b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"], 1, True),
])
async def test_version_and_keep_alive_of_each_request(backends, balancer, feeds, answered,
                                                      closed):
    """Each request's version and keep-alive come from its own request line and headers,
    wherever it begins in the feeds (the front end reads HTTP/1.1 off the feed itself)."""
    _b1, lb = await _lb(backends, balancer)
    count, was_closed = await _responses(lb.port, feeds)
    assert (count, was_closed) == (answered, closed)
