"""`gzip_http_version 1.0` through real nginx and `hotdeploy lb` on one configuration: an
HTTP/1.0 client that takes gzip gets the compressed body unframed, and the connection closes
after it (files small and large, generated and proxied answers); HTTP/1.1 stays chunked; the
default (1.1) leaves HTTP/1.0 clients uncompressed. The same bytes as nginx's."""

from __future__ import annotations

from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
events {}
http {
  access_log off;
  types { text/html html; }
  default_type text/html;
  upstream up { server 127.0.0.1:{backend}; }
  gzip on;
  gzip_min_length 1;
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /ten/ { alias {prefix}/../www/; gzip_http_version 1.0; }
    location /text/ { gzip_http_version 1.0; return 200 "<html>text text text text</html>"; }
    location /proxy/ { gzip_http_version 1.0; proxy_pass http://up; }
    location /eleven/ { alias {prefix}/../www/; }
  }
}
"""

UPSTREAM_BODY = b"<html>" + b"upstream words " * 40 + b"</html>"


def respond(head: bytes, port: int) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (len(UPSTREAM_BODY), UPSTREAM_BODY))


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gzip_http_version")
    www = tmp / "www"
    www.mkdir()
    (www / "small.html").write_text("<html>" + "small page " * 30 + "</html>")
    # Larger than what is sent inline: the compressed file goes out piece by piece.
    (www / "large.html").write_bytes(b"<html>" + bytes(range(32, 127)) * 3000 + b"</html>")
    nginx, hotdeploy = p.pair(tmp, CONF, respond)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


CASES = [(version, path) for version in ("1.0", "1.1")
         for path in ("/ten/small.html", "/ten/large.html", "/text/", "/proxy/x",
                      "/eleven/small.html")]


def _dechunked(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


@pytest.mark.parametrize(("version", "path"), CASES)
def test_gzip_http_version_as_nginx(proxies, version, path):
    nginx, hotdeploy = proxies
    # An HTTP/1.0 client asking for keep-alive: a compressed answer must still close.
    connection = "close" if version == "1.1" or path.startswith("/eleven/") else "keep-alive"
    raw = (f"GET {path} HTTP/{version}\r\nHost: t\r\nAccept-Encoding: gzip\r\n"
           f"Connection: {connection}\r\n\r\n").encode()
    expected = p.exchange(nginx.port, raw)
    got = p.exchange(hotdeploy.port, raw)
    if path.startswith("/proxy/"):
        # Known difference of order: nginx writes Connection before the upstream's headers
        # and Content-Encoding after it; the set of lines is the same.
        expected = (expected[0], sorted(expected[1]), expected[2])
        got = (got[0], sorted(got[1]), got[2])
    if version == "1.1" and ("large" in path or path.startswith("/proxy/")):
        # nginx sends the 10-byte gzip header of a streamed body in a chunk of its own: the
        # same bytes in other chunks.
        expected = (expected[0], expected[1], _dechunked(expected[2]))
        got = (got[0], got[1], _dechunked(got[2]))
    assert got == expected
    compressed = b"Content-Encoding: gzip" in expected[1]
    assert compressed == (version == "1.1" or not path.startswith("/eleven/"))
    if compressed and version == "1.0":
        assert b"Connection: close" in expected[1]
        assert not any(line.startswith(b"Transfer-Encoding") for line in expected[1])
