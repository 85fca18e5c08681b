"""Listening as nginx does: a wildcard `listen PORT` and a specific `listen ADDR:PORT` on the same
port share one socket, and each connection reaches the servers of its local address."""

from __future__ import annotations

import http.client
from pathlib import Path

from lbtools import free_port, start_balancer


def _get(host: str, port: int) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    finally:
        conn.close()


def test_wildcard_and_specific_listen_on_one_port(tmp_path: Path) -> None:
    port = free_port()
    config = f"""events {{}}
http {{
   server {{ listen {port}; return 200 "wildcard\\n"; }}
   server {{ listen 127.0.0.2:{port}; return 200 "specific\\n"; }}
}}
"""
    balancer = start_balancer(tmp_path, config, port)
    try:
        assert _get("127.0.0.1", port) == b"wildcard\n"
        assert _get("127.0.0.2", port) == b"specific\n"
        assert _get("127.0.0.3", port) == b"wildcard\n"
    finally:
        balancer.stop()
