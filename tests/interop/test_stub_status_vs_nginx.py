"""stub_status and $connections_* through real nginx and `hotdeploy lb`: the same page, byte
for byte, for the same connections in the same states."""

from __future__ import annotations

import socket
import time
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
    server {
        listen 127.0.0.1:{port};
        location = /status { stub_status; }
        location = /vars {
            return 200
            "$connections_active $connections_reading $connections_writing $connections_waiting";
        }
        location / { return 204; }
    }
}
"""


@pytest.fixture
def proxies(tmp_path):
    nginx, hotdeploy = p.pair(tmp_path, CONF)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def _page(proxy: p.Proxy) -> dict[str, object]:
    """With one idle keep-alive connection and one connection half-way through a head."""
    idle = socket.create_connection(("127.0.0.1", proxy.port))
    idle.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 204")
    partial = socket.create_connection(("127.0.0.1", proxy.port))
    partial.sendall(b"GET / HTTP/1.1\r\nHo")
    time.sleep(0.2)  # both proxies have read the partial head
    try:
        status, headers, body = p.get(proxy.port, "/status")
        _, _, variables = p.get(proxy.port, "/vars")
    finally:
        idle.close()
        partial.close()
    return {"status": status, "type": headers.get("content-type"), "body": body,
            "vars": variables}


def test_stub_status_page_and_variables_like_nginx(proxies):
    nginx, hotdeploy = proxies
    expected, got = _page(nginx), _page(hotdeploy)
    assert expected["body"] == (b"Active connections: 3 \nserver accepts handled requests\n"
                                b" 4 4 3 \nReading: 1 Writing: 1 Waiting: 1 \n")
    assert expected["vars"] == b"3 1 1 1"
    assert got == expected


def test_stub_status_refuses_other_methods(proxies):
    for proxy in proxies:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(b"POST /status HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 405"), proxy.name
