"""The $upstream_* variables through real nginx and `hotdeploy lb`: the same values (ports
and times normalized) across a failed and a successful attempt, for GET, HEAD and a body."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pair_harness as p
import pytest
import wire_harness as w

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

FIELDS = ("upstream_addr", "upstream_status", "upstream_response_length",
          "upstream_bytes_received", "upstream_bytes_sent", "upstream_response_time",
          "upstream_connect_time", "upstream_header_time")

CONF = """
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    log_format up escape=json '$request_method|""" + "|".join(f"${f}" for f in FIELDS) + """';
    access_log logs/access.log up;
    upstream up { server 127.0.0.1:{dead}; server 127.0.0.1:{backend}; }
    upstream solo { server 127.0.0.1:{dead}; }
    server {
        listen 127.0.0.1:{port};
        location / { proxy_pass http://up; }
        location /solo { proxy_pass http://solo; }
    }
}
"""


def _response(head: bytes, port: int) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\nConnection: close\r\n\r\n"
            b"hello world")


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    dead = w.free_port()  # nothing listens there: connection refused
    conf = CONF.replace("{dead}", str(dead))
    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("upvars"), conf, _response)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def _send(port: int, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        while sock.recv(65536):
            pass


def _lines(proxy: p.Proxy, count: int) -> list[list[str]]:
    path = proxy.prefix / "logs" / "access.log"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            break
        time.sleep(0.05)
    out = []
    for line in lines:
        fields = line.split("|")
        fields[1] = re.sub(r":\d+", ":PORT", fields[1])
        out.append(fields)
    return out


def test_upstream_variables_like_nginx(proxies):
    requests = [
        b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # dead, then live
        b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # live only
        b"HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde",
        b"GET /solo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # no live upstreams
    ]
    seen = {}
    for proxy in proxies:
        for raw in requests:
            _send(proxy.port, raw)
        seen[proxy.name] = _lines(proxy, len(requests))
    nginx, hotdeploy = seen["nginx"], seen["hotdeploy"]
    assert nginx[0][1:3] == ["127.0.0.1:PORT, 127.0.0.1:PORT", "502, 200"]
    timing = re.compile(r"^(\d+\.\d{3}|-)(, (\d+\.\d{3}|-))*$")
    for mine, theirs in zip(hotdeploy, nginx, strict=True):
        assert mine[:6] == theirs[:6]  # method, addr, status, length, received, sent
        for index in (6, 7, 8):  # the times: same shape, one value per attempt
            assert timing.match(mine[index]), mine
            assert mine[index].count(",") == theirs[index].count(","), (mine, theirs)
            assert [v == "-" for v in mine[index].split(", ")] == [
                v == "-" for v in theirs[index].split(", ")], (mine, theirs)
