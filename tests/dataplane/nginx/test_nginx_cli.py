"""`hotdeploy export nginx` and a killed nginx brought back by the control process."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from nginx_tools import needs_lua

from hd_e2e_harness import cli, make_project, pids, shop, status  # isort: skip

pytestmark = pytest.mark.timeout(120)
__all__ = ["shop"]


def test_export_nginx_writes_the_same_bytes_every_time(tmp_path):
    file, port = make_project(tmp_path, balancer="active-active-health")
    out = tmp_path / "exported.conf"
    first = cli(file, "export", "nginx", "-o", str(out))
    assert first.returncode == 0, first.stderr
    printed = cli(file, "export", "nginx")
    assert printed.returncode == 0 and printed.stdout == out.read_text()
    text = out.read_text()
    assert f"listen 127.0.0.1:{port};" in text and "upstream svc_orders {" in text
    assert "# NGINX Plus: health_check uri=/health interval=500ms" in text


@needs_lua
def test_a_killed_nginx_is_started_again_with_its_servers(shop):
    file, base = shop(engine="nginx", orders=2)
    before = status(file)
    orders = pids(file, "orders")
    os.killpg(before["dataplane"]["pid"], signal.SIGKILL)  # master and workers
    deadline = time.monotonic() + 20
    while True:
        now = status(file)["dataplane"]
        if now["pid"] != before["dataplane"]["pid"]:
            try:
                if httpx.get(base + "/orders", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, "nginx was not started again"
        time.sleep(0.2)
    assert pids(file, "orders") == orders  # the instances were not touched
    with httpx.Client(base_url=base, timeout=5, trust_env=False) as http:
        seen = {http.get("/orders").json()["instance"] for _ in range(10)}
    assert len(seen) == 2  # both instances were re-listed from servers.json
