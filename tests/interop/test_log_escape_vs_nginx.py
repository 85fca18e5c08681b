"""`log_format ... escape=json` through real nginx and `hotdeploy lb`: the same escapes of
quotes, backslashes and control characters (`\\t`, not `\\u0009`) in the access log line."""

from __future__ import annotations

import time
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
events {}
http {
  log_format j escape=json '{"x":"$http_x","uri":"$request_uri"}';
  access_log logs/access.log j;
  server { listen 127.0.0.1:{port}; location / { return 200; } }
}
"""


def test_json_escaping_as_nginx(tmp_path):
    nginx, hotdeploy = p.pair(tmp_path, CONF)
    lines = []
    try:
        for proxy in (nginx, hotdeploy):
            p.exchange(proxy.port, b'GET /a%22b HTTP/1.1\r\nHost: t\r\nX: tab\there "q" \\s\r\n'
                                   b"Connection: close\r\n\r\n")
            log = proxy.prefix / "logs" / "access.log"
            deadline = time.monotonic() + 2
            while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
                time.sleep(0.02)
            lines.append(log.read_text())
    finally:
        nginx.stop()
        hotdeploy.stop()
    assert lines[1] == lines[0]
    assert lines[0] == '{"x":"tab\\there \\"q\\" \\\\s","uri":"/a%22b"}\n'
