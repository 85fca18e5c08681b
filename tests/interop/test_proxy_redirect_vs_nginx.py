"""proxy_redirect (default, off, explicit, regex) and proxy_cookie_domain / proxy_cookie_path
through real nginx and `hotdeploy lb`: the same Location, Refresh and Set-Cookie headers."""

from __future__ import annotations

import re
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    access_log off;
    upstream up { server 127.0.0.1:{backend}; }
    server {
        listen 127.0.0.1:{port};
        server_name myhost;
        location /one/ { proxy_pass http://127.0.0.1:{backend}/two/; }
        location /r/ { proxy_pass http://127.0.0.1:{backend}; }
        location /u/ { proxy_pass http://up/two/; }
        location /off/ { proxy_pass http://127.0.0.1:{backend}/two/; proxy_redirect off; }
        location /ex/ {
            proxy_pass http://127.0.0.1:{backend}/two/;
            proxy_redirect http://127.0.0.1:{backend}/two/ http://$host:1234/ex/;
            proxy_redirect http://other/ /o/;
            proxy_cookie_domain backend.local $host;
            proxy_cookie_path /two/ /ex/;
        }
        location /re/ {
            proxy_pass http://127.0.0.1:{backend}/two/;
            proxy_redirect ~^http://[^/]+/two/(.*)$ /re/$1;
            proxy_redirect ~*^HTTP://OTHER/(.*)$ /x/$1;
            proxy_cookie_domain ~\\.local$ example.com;
            proxy_cookie_path ~^/two/(.*)$ /c/$1;
        }
        location /hide/ { proxy_pass http://127.0.0.1:{backend}/two/; proxy_hide_header Refresh; }
    }
}
"""

TARGETS = {"abs": "http://{self}/two/x", "rel": "/two/rel2", "other": "http://other/two/x",
           "up": "http://up/two/z", "root": "http://{self}/r/x", "case": "HTTP://127.0.0.1/two/"}


def _respond(head: bytes, port: int) -> bytes:
    path = head.split(b" ")[1].decode()
    own = f"127.0.0.1:{port}"
    target = TARGETS.get(path.rsplit("/", 1)[-1], "http://{self}" + path).replace("{self}", own)
    return (f"HTTP/1.1 302 Found\r\nLocation: {target}\r\n"
            f"Refresh: 5; url=http://{own}/two/y\r\n"
            "Set-Cookie: a=1; Domain=.Backend.local; Path=/two/p; HttpOnly\r\n"
            "Set-Cookie: b=2; path=/other\r\n"
            "Content-Length: 2\r\nConnection: close\r\n\r\nhi").encode()


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("redirect"), CONF, _respond)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def _heads(proxy: p.Proxy, path: str) -> dict[str, str]:
    status, headers, _ = p.get(proxy.port, path, "")
    keep = {k: headers.get(k, "") for k in ("location", "refresh", "set-cookie")}
    keep["status"] = str(status)
    return {k: re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", v) for k, v in keep.items()}


PATHS = ["/one/abs", "/one/rel", "/one/other", "/r/root", "/r/x", "/u/up", "/u/abs", "/off/abs",
         "/ex/abs", "/ex/other", "/re/abs", "/re/other", "/one/case", "/hide/abs"]


@pytest.mark.parametrize("path", PATHS)
def test_response_headers_rewritten_like_nginx(proxies, path):
    nginx, hotdeploy = proxies
    assert _heads(hotdeploy, path) == _heads(nginx, path)
