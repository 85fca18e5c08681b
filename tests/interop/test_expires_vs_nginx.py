"""`expires` through real nginx and `hotdeploy lb` on one configuration: the Expires and
Cache-Control each gives files, proxied answers (with and without the upstream's own
Expires and Cache-Control headers) and generated answers, for every form of the directive,
at the same place in the head. Times are compared within two seconds (the two proxies
answer a moment apart)."""

from __future__ import annotations

import os
import re
import socket
from email.utils import parsedate_to_datetime
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

OLD = 1704423845  # 2024-01-05 03:04:05 UTC, the file's and the upstream's Last-Modified

CONF = """
events {}
http {
  access_log off;
  upstream up { server 127.0.0.1:{backend}; }
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /access/ { alias {prefix}/../www/; expires 1h; }
    location /modified/ { alias {prefix}/../www/; expires modified +1d; }
    location /past/ { alias {prefix}/../www/; expires modified 1h; }
    location /negative/ { alias {prefix}/../www/; expires -1; }
    location /zero/ { alias {prefix}/../www/; expires 0; }
    location /epoch/ { alias {prefix}/../www/; expires epoch; }
    location /max/ { alias {prefix}/../www/; expires max; }
    location /daily/ { alias {prefix}/../www/; expires @3h30m; }
    location /added/ { alias {prefix}/../www/; expires 1y; add_header X-After yes; }
    location /inherit/ {
      alias {prefix}/../www/; expires 30d;
      location /inherit/off/ { alias {prefix}/../www/; expires off; }
    }
    location /proxy/ { proxy_pass http://up; expires 2h; }
    location /proxy-modified/ { proxy_pass http://up; expires modified 1d; }
    location /text/ { expires 1h; return 200 "text"; }
    location /redirect/ { expires 1h; return 302 /elsewhere; }
    location /missing/ { expires 1h; }
  }
}
"""


def respond(head: bytes, port: int) -> bytes:
    path = head.split(b" ", 2)[1]
    extra = b""
    if b"with-both" in path:
        extra = (b"Cache-Control: private\r\nExpires: Thu, 01 Jan 2099 00:00:00 GMT\r\n"
                 b"Cache-Control: no-transform\r\n")
    elif b"with-cc" in path:
        extra = b"Cache-Control: public, max-age=5\r\n"
    elif b"with-expires" in path:
        extra = b"Expires: 0\r\n"
    return (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Before: 1\r\n" + extra
            + b"Last-Modified: Fri, 05 Jan 2024 03:04:05 GMT\r\nX-Last: 1\r\n"
            + b"Connection: close\r\n\r\nok\n")


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("expires")
    www = tmp / "www"
    www.mkdir()
    (www / "f.txt").write_text("file\n")
    os.utime(www / "f.txt", (OLD, OLD))
    nginx, hotdeploy = p.pair(tmp, CONF, respond)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


def _head(port: int, path: str) -> list[tuple[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=p.IO_TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    out: list[tuple[str, object]] = [("status", lines[0])]
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        # Connection: nginx writes it before the upstream's headers, hotdeploy after them (a
        # known difference of order between different names, which HTTP gives no meaning).
        if name in ("Date", "Server", "Content-Length", "Location", "Connection"):
            continue
        if name == "Expires" and value != "0":
            out.append((name, parsedate_to_datetime(value).timestamp()))
        elif name == "Cache-Control" and re.fullmatch(r"max-age=\d+", value):
            out.append((name, int(value[8:])))
        else:
            out.append((name, value))
    return out


def _close(a: list[tuple[str, object]], b: list[tuple[str, object]]) -> bool:
    if [name for name, _ in a] != [name for name, _ in b]:
        return False
    for (_, x), (_, y) in zip(a, b, strict=True):
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            if abs(x - y) > 2:
                return False
        elif x != y:
            return False
    return True


PATHS = ["/access/f.txt", "/modified/f.txt", "/past/f.txt", "/negative/f.txt", "/zero/f.txt",
         "/epoch/f.txt", "/max/f.txt", "/daily/f.txt", "/added/f.txt", "/inherit/f.txt",
         "/inherit/off/f.txt", "/proxy/plain", "/proxy/with-cc", "/proxy/with-expires",
         "/proxy/with-both", "/proxy-modified/plain", "/text/", "/redirect/", "/missing/x",
         "/access/none.txt"]


@pytest.mark.parametrize("path", PATHS)
def test_expires_as_nginx(proxies, path):
    nginx, hotdeploy = proxies
    expected = _head(nginx.port, path)
    got = _head(hotdeploy.port, path)
    assert _close(got, expected), (got, expected)
    names = [name for name, _ in expected]
    if path in ("/access/f.txt", "/proxy/plain"):
        assert "Expires" in names and "Cache-Control" in names
    if path in ("/missing/x", "/access/none.txt", "/inherit/off/f.txt"):
        assert "Expires" not in names  # a 404 gets none; `off` takes the inherited away
