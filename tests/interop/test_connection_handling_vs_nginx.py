"""merge_slashes, access_log if=, reset_timedout_connection and lingering_close through real
nginx and `hotdeploy lb` on one configuration: the same answers, log lines and connection
endings."""

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
    log_format plain "$request_uri $status";
    access_log logs/access.log plain if=$arg_log;
    client_header_timeout 1s;
    lingering_timeout 1s;
    server {
        listen 127.0.0.1:{port};
        client_max_body_size 1k;
        location = /a/b { return 200 "exact"; }
        location / { return 200 "uri=$uri"; }
    }
    server {
        listen 127.0.0.1:{port2};
        merge_slashes off;
        reset_timedout_connection on;
        location = /a/b { return 200 "exact"; }
        location / { return 200 "uri=$uri"; }
    }
}
"""


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("conn"), CONF)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def test_merge_slashes_like_nginx(proxies):
    seen = {}
    for proxy in proxies:
        seen[proxy.name] = [p.get(port, "//a///b")[2]
                            for port in (proxy.port, proxy.extra["port2"])]
    assert seen["nginx"] == [b"exact", b"uri=//a///b"]
    assert seen["hotdeploy"] == seen["nginx"]


def test_access_log_if_like_nginx(proxies):
    lines = {}
    for proxy in proxies:
        for query in ("?log=1", "?log=0", "", "?log=yes"):
            p.get(proxy.port, "/x" + query)
        path = proxy.prefix / "logs" / "access.log"
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(path.read_text().splitlines()) < 2:
            time.sleep(0.05)
        time.sleep(0.1)
        lines[proxy.name] = path.read_text().splitlines()
    assert lines["nginx"] == ["/x?log=1 200", "/x?log=yes 200"]
    assert lines["hotdeploy"] == lines["nginx"]


def _timed_out_ending(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            return "reset"
        return "closed" if data == b"" else "data"


def test_reset_timedout_connection_like_nginx(proxies):
    seen = {proxy.name: [_timed_out_ending(proxy.port), _timed_out_ending(proxy.extra["port2"])]
            for proxy in proxies}
    assert seen["nginx"] == ["closed", "reset"]
    assert seen["hotdeploy"] == seen["nginx"]


def _lingering(port: int) -> tuple[bytes, bool, float]:
    """A body over client_max_body_size: the 413 arrives whole, sending more is not refused
    (no RST), and the connection ends about lingering_timeout after the last bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n"
                     + b"x" * 65536)
        head = sock.recv(4096).split(b"\r\n", 1)[0]
        reset = False
        try:
            for _ in range(5):
                sock.sendall(b"y" * 8192)
                time.sleep(0.1)
        except (ConnectionResetError, BrokenPipeError):
            reset = True
        last = time.monotonic()
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            reset = True
        return head, reset, time.monotonic() - last


def test_lingering_close_like_nginx(proxies):
    seen = {proxy.name: _lingering(proxy.port) for proxy in proxies}
    assert seen["nginx"][:2] == (b"HTTP/1.1 413 Request Entity Too Large", False)
    assert seen["hotdeploy"][:2] == seen["nginx"][:2]
    assert 0.7 < seen["nginx"][2] < 1.6
    assert abs(seen["hotdeploy"][2] - seen["nginx"][2]) < 0.4
