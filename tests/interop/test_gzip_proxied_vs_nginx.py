"""gzip of proxied responses, compared with real nginx: the same backend answers, each proxy
compresses (or not) by gzip, gzip_types, gzip_min_length, gzip_vary, gzip_proxied and the
response's own headers. Compared: status, the header set (Server/Date aside; nginx writes
Content-Type first, hotdeploy keeps the upstream order), the body after gunzip and, for a
response with Content-Length, the compressed bytes."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import static_harness as h
from wire_harness import NGINX, free_port

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason=f"needs real nginx at {NGINX}")

PAGE = b"<html><body>" + b"compress me please " * 40 + b"</body></html>\n"


def _answer(path: str) -> bytes:
    def length(ctype: bytes, body: bytes, extra: bytes = b"", status: bytes = b"200 OK") -> bytes:
        return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)

    name = path.rsplit("/", 1)[-1].split("?")[0]
    if name == "chunked":
        half = len(PAGE) // 2
        return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % half + PAGE[:half] + b"\r\n" + b"%x\r\n" % (len(PAGE) - half)
                + PAGE[half:] + b"\r\n0\r\n\r\n")
    if name == "close":
        return b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + PAGE
    table = {
        "html": length(b"text/html", PAGE, b'ETag: "abc"\r\nAccept-Ranges: bytes\r\n'
                       b"Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"),
        "plain": length(b"text/plain", PAGE),
        "encoded": length(b"text/html", PAGE, b"Content-Encoding: br\r\n"),
        "small": length(b"text/html", b"tiny\n"),
        "missing": length(b"text/html", PAGE, status=b"404 Not Found"),
        "broken": length(b"text/html", PAGE, status=b"500 Internal Server Error"),
        "private": length(b"text/html", PAGE, b"Cache-Control: private, max-age=0\r\n"),
        "untyped": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAGE) + PAGE,
    }
    return table.get(name, table["html"])


class Backend:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    path = data.split(b" ", 2)[1].decode("latin-1") if b" " in data else "/"
                    conn.sendall(_answer(path))
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


CONFIG = """
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    gzip on;
    upstream backend {{ server 127.0.0.1:{backend}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://backend; }}
        location /vary/ {{ gzip_vary on; gzip_types text/plain; proxy_pass http://backend; }}
        location /priv/ {{ gzip_proxied private; proxy_pass http://backend; }}
        location /any/ {{ gzip_proxied any; proxy_pass http://backend; }}
        location /level/ {{ gzip_comp_level 9; gzip_min_length 1000; proxy_pass http://backend; }}
        location /charset/ {{ charset utf-8; gzip off; proxy_pass http://backend; }}
        location /charset-gz/ {{ charset utf-8; proxy_pass http://backend; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gzip-proxied")
    backend = Backend()
    running = []
    try:
        for kind in ("nginx", "hotdeploy"):
            port = free_port()
            prefix = tmp / kind
            prefix.mkdir()
            conf = prefix / "nginx.conf"
            conf.write_text(CONFIG.format(port=port, backend=backend.port))
            running.append(h.start(kind, prefix, conf, port))
        yield running[0], running[1]
    finally:
        for proc in running:
            proc.stop()
        backend.stop()


GZ = "GET {} HTTP/1.1\nHost: t\nAccept-Encoding: gzip\n"
CASES = {
    "length": GZ.format("/html"),
    "length_http10": "GET /html HTTP/1.0\nAccept-Encoding: gzip\n",
    "no_accept": "GET /html HTTP/1.1\nHost: t\n",
    "head": "HEAD /html HTTP/1.1\nHost: t\nAccept-Encoding: gzip\n",
    "chunked": GZ.format("/chunked"),
    "close_delimited": GZ.format("/close"),
    "plain_not_listed": GZ.format("/plain"),
    "already_encoded": GZ.format("/encoded"),
    "below_min_length": GZ.format("/small"),
    "status_404": GZ.format("/missing"),
    "status_500": GZ.format("/broken"),
    "no_content_type": GZ.format("/untyped"),
    "vary_plain": GZ.format("/vary/plain"),
    "vary_not_accepted": "GET /vary/html HTTP/1.1\nHost: t\n",
    "via_off": GZ.format("/html") + "Via: 1.1 cache\n",
    "via_private_yes": GZ.format("/priv/private") + "Via: 1.1 cache\n",
    "via_private_no": GZ.format("/priv/html") + "Via: 1.1 cache\n",
    "via_any": GZ.format("/any/html") + "Via: 1.1 cache\n",
    "level_and_min_length": GZ.format("/level/html"),
    "level_below_min": GZ.format("/level/small"),
    "charset_added": GZ.format("/charset/html"),
    "charset_kept": GZ.format("/charset/close"),
    "charset_other_type": GZ.format("/charset/untyped"),
    "charset_encoded": GZ.format("/charset/encoded"),
    "charset_and_gzip": GZ.format("/charset-gz/html"),
    "charset_plain": GZ.format("/charset/plain"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_proxied_gzip_as_nginx(pair, case):
    nginx, hotdeploy = pair
    head_only = CASES[case].startswith("HEAD")
    expected = h.parse(h.request(nginx.port, CASES[case]), nginx.port, head_only)
    got = h.parse(h.request(hotdeploy.port, CASES[case]), hotdeploy.port, head_only)
    for answer in (expected, got):
        answer["headers"] = sorted(answer["headers"])
        if case not in ("length", "via_any", "level_and_min_length", "charset_and_gzip"):
            answer.pop("gzip_bytes")  # framing of a streamed body may differ
    assert got == expected
