"""`error_log` in http, server and location, through real nginx and `hotdeploy lb` on one
configuration: each request's messages land in the files of its level (the nearest level
that has error_log lines, all of them, each with its own minimum level), as nginx writes
them."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
error_log logs/main.log error;
events {}
http {
  access_log off;
  error_log logs/http.log;
  upstream dead { server 127.0.0.1:1; }
  server {
    listen 127.0.0.1:{port};
    root {prefix}/nothing;
    location /files/ { }
    location /loc/ { error_log logs/location.log info; }
    location /quiet/ { error_log logs/quiet.log crit; }
    location /dead/ { proxy_pass http://dead; }
  }
  server {
    listen 127.0.0.1:{port2};
    root {prefix}/nothing;
    error_log logs/server.log warn;
    location / { }
    location /both/ { error_log logs/a.log; error_log logs/b.log; }
  }
}
"""

FILES = ("main.log", "http.log", "location.log", "quiet.log", "server.log", "a.log", "b.log")
REQUESTS = [("port", "/files/x"), ("port", "/loc/x"), ("port", "/quiet/x"), ("port", "/dead/x"),
            ("port2", "/y"), ("port2", "/both/z")]


def _get(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=p.IO_TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def _messages(proxy: p.Proxy) -> dict[str, list[str]]:
    found = {}
    for name in FILES:
        path = proxy.prefix / "logs" / name
        text = path.read_text() if path.exists() else ""
        found[name] = sorted(line.replace(str(proxy.prefix), "PREFIX")
                             for line in p.log_messages(text, "failed"))
    return found


def test_each_request_logs_to_its_levels_error_log(tmp_path):
    nginx, hotdeploy = p.pair(tmp_path, CONF)
    try:
        statuses = []
        for proxy in (nginx, hotdeploy):
            port = {"port": proxy.port, "port2": proxy.extra["port2"]}
            statuses.append([_get(port[which], path) for which, path in REQUESTS])
        time.sleep(0.2)
        expected, got = _messages(nginx), _messages(hotdeploy)
    finally:
        nginx.stop()
        hotdeploy.stop()
    assert statuses[0] == statuses[1] == [404, 404, 404, 502, 404, 404]
    assert got == expected
    # What nginx does, spelled out: nothing of a request reaches main.log while http has
    # error_log; crit hides the 404's error line; both files of a level get the line.
    assert expected["main.log"] == [] and expected["quiet.log"] == []
    assert len(expected["http.log"]) == 2 and len(expected["location.log"]) == 1
    assert expected["a.log"] == expected["b.log"] and len(expected["a.log"]) == 1
    assert len(expected["server.log"]) == 1
