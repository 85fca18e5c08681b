"""`internal` locations through real nginx and `hotdeploy lb` on one configuration: an
external request gets 404 (and its error_page), while error_page, try_files, index and a
rewrite that changed the URI may still go there."""

from __future__ import annotations

import socket
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
events {}
http {
  access_log off;
  upstream up { server 127.0.0.1:{backend}; }
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /private/ { internal; proxy_pass http://up; }
    location /private-text/ { internal; return 200 "private text"; }
    location /private-files/ { internal; }
    location /private-rewrite/ { internal; rewrite ^ /open/ last; }
    location /open/ { return 200 "open"; }
    location /err/ { error_page 404 /private-text/page; return 404; }
    location /try/ { try_files /nothing /private-text/t; }
    location /moved/ { rewrite ^/moved/(.*)$ /private-text/$1 last; }
    location /caught/ { error_page 404 = /open/; }
    location /caught/inner/ { internal; error_page 404 /open/; }
    location /idx/ { alias {prefix}/../www/idx/; index /private-text/index; }
  }
}
"""

PATHS = ["/private/x", "/private-text/x", "/private-files/f.txt", "/private-rewrite/x",
         "/open/", "/err/x", "/try/x", "/moved/x", "/caught/inner/x", "/idx/"]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("internal")
    (tmp / "www" / "private-files").mkdir(parents=True)
    (tmp / "www" / "private-files" / "f.txt").write_text("secret\n")
    (tmp / "www" / "idx").mkdir()
    nginx, hotdeploy = p.pair(tmp, CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


def _get(port: int, path: str) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=p.IO_TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body if b"<hr><center>" not in body else b"(page)"


@pytest.mark.parametrize("path", PATHS)
def test_internal_as_nginx(proxies, path):
    nginx, hotdeploy = proxies
    before = len(hotdeploy.backend.heads)
    expected = _get(nginx.port, path)
    assert _get(hotdeploy.port, path) == expected
    if path.startswith("/private"):
        assert expected[0].startswith(b"HTTP/1.1 404")
        assert len(hotdeploy.backend.heads) == before  # nothing was proxied
