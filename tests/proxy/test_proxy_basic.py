"""The request and response as they cross the proxy: rebuilt request, headers both ways."""

from __future__ import annotations

import httpx
from proxy_harness import Seen, raw_exchange

CONF = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    access_log ACCESS_LOG;
    location / {
      proxy_pass http://backend;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
"""


async def test_get_is_proxied_with_nginx_request_defaults(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{lb.url}/a/b?x=1", headers={"X-Forwarded-For": "10.0.0.9"})
    assert r.status_code == 200 and r.text == "b"
    assert r.headers["server"] == "hotdeploy"
    assert "date" in r.headers
    seen: Seen = b.requests[0]
    # proxy_http_version 1.0, Host $proxy_host, Connection close (nginx's defaults).
    assert (seen.method, seen.target, seen.version) == ("GET", "/a/b?x=1", "HTTP/1.0")
    assert seen.header("host") == "backend"
    assert seen.header("connection") == "close"
    assert seen.header("x-real-ip") == "127.0.0.1"
    assert seen.header("x-forwarded-for") == "10.0.0.9, 127.0.0.1"


async def test_response_server_and_date_replaced_like_nginx(backends, balancer):
    def handler(backend, seen):
        return 200, [("Server", "gunicorn"), ("Date", "yesterday"), ("X-Accel-Buffering", "no"),
                     ("X-App", "1")], b"ok"

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url)
    assert r.headers["server"] == "hotdeploy"
    assert r.headers["date"] != "yesterday"
    assert "x-accel-buffering" not in r.headers  # proxy_hide_header default
    assert r.headers["x-app"] == "1"


async def test_hop_by_hop_headers_are_not_forwarded_either_way(backends, balancer):
    def handler(backend, seen):
        return 200, [("Connection", "X-Hop"), ("X-Hop", "secret"), ("Keep-Alive", "timeout=5"),
                     ("Upgrade", "h2c"), ("X-End", "kept")], b"ok"

    (b,) = await backends(handler)
    lb = await balancer(CONF, UP1=b.address)
    request = (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n"
               b"Keep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
               b"Upgrade: websocket\r\nTrailer: X-T\r\nX-Plain: yes\r\n\r\n")
    raw = await raw_exchange(lb.port, request)
    seen = b.requests[0]
    names = {k.lower() for k, _ in seen.headers}
    for hop in ("x-secret", "keep-alive", "te", "proxy-connection", "upgrade", "trailer"):
        assert hop not in names
    assert seen.header("x-plain") == "yes"
    head = raw.split(b"\r\n\r\n")[0].lower()
    assert b"x-hop" not in head and b"keep-alive: timeout=5" not in head
    assert b"upgrade" not in head
    assert b"x-end: kept" in head


async def test_access_log_line_is_combined_format(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        await client.get(f"{lb.url}/path?q=1", headers={"User-Agent": "ua/1",
                                                      "Referer": "http://r/"})
    (line,) = lb.access_log()
    import re

    pattern = (r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
               r'"GET /path\?q=1 HTTP/1\.1" 200 1 "http://r/" "ua/1"$')
    assert re.match(pattern, line), line


JSON_CONF = """
events {}
http {
  upstream backend { server UP1; }
  log_format j escape=json '{"uri":"$request_uri","ua":"$http_user_agent","up":"$upstream_addr",'
                           '"us":"$upstream_status","st":$status}';
  server {
    listen LISTEN;
    access_log ACCESS_LOG j;
    location / { proxy_pass http://backend; }
  }
}
"""


async def test_log_format_with_json_escaping(backends, balancer):
    import json

    (b,) = await backends("b")
    lb = await balancer(JSON_CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        await client.get(f"{lb.url}/q", headers={"User-Agent": 'say "hi"\\'})
    (line,) = lb.access_log()
    assert json.loads(line) == {"uri": "/q", "ua": 'say "hi"\\', "up": b.address, "us": "200",
                                "st": 200}


UPSTREAM_HTTP_CONF = """
events {}
http {
  upstream backend { server UP1; }
  log_format u '$upstream_http_x_trace|$upstream_http_content_type|$upstream_http_x_absent';
  server {
    listen LISTEN;
    access_log ACCESS_LOG u;
    location / { proxy_pass http://backend; }
  }
}
"""


async def test_upstream_http_variables_name_the_upstreams_headers(backends, balancer):
    # nginx's $upstream_http_NAME: the upstream's header, matched without case and with `_`
    # for `-`; not found (logged as "-", as nginx does) when the upstream did not send it.
    def reply(backend, seen):
        return 200, [("X-Trace", "t-1"), ("Content-Type", "text/plain")], b"ok"

    (b,) = await backends(reply)
    lb = await balancer(UPSTREAM_HTTP_CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{lb.url}/")
    assert response.headers["x-trace"] == "t-1"
    (line,) = lb.access_log()
    assert line == "t-1|text/plain|-"
