"""The live API of a running `hotdeploy lb`: servers drained, removed and re-added under steady
load without one failed request, and `state` files that survive a reload."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
from lbtools import SteadyLoad, free_port, get, run_lb, start_balancer

from hotdeploy.upstream.statefile import load_state

API = "/api/9/http/upstreams/backend"


def _config(port: int, api_port: int, upstream_body: str) -> str:
    return f"""events {{}}
http {{
   upstream backend {{
      zone backend 64k;
{upstream_body}
   }}
   server {{
      listen 127.0.0.1:{port};
      location / {{ proxy_pass http://backend; }}
   }}
   server {{
      listen 127.0.0.1:{api_port};
      location /api {{ api write=on; allow 127.0.0.1; deny all; }}
   }}
}}
"""


def _wait_idle(api: httpx.Client, peer_id: int, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peer = next(p for p in api.get(API).json()["peers"] if p["id"] == peer_id)
        if peer["state"] == "draining" and peer["active"] == 0:
            return peer
        time.sleep(0.02)
    raise AssertionError(f"server {peer_id} still busy after {timeout}s")


def test_drain_remove_and_readd_under_load_fail_no_request(three_backends, tmp_path: Path) -> None:
    a, b, c = three_backends
    port, api_port = free_port(), free_port()
    body = f"      server {a.address};\n      server {b.address};"
    balancer = start_balancer(tmp_path, _config(port, api_port, body), port)
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)
    try:
        with SteadyLoad(port, workers=4, max_requests=20000, max_seconds=40) as load:
            load.wait_for(200)
            ids = {p["server"]: p["id"] for p in api.get(API).json()["peers"]}
            # The deploy loop a controller runs: add the new server, drain the old, remove it.
            added = api.post(f"{API}/servers", json={"server": c.address})
            assert added.status_code == 201, added.text
            assert api.patch(f"{API}/servers/{ids[b.address]}",
                             json={"drain": True}).status_code == 200
            _wait_idle(api, ids[b.address])
            count = load.result.ok
            load.wait_for(count + 200)
            assert api.delete(f"{API}/servers/{ids[b.address]}").status_code == 200
            load.wait_for(load.result.ok + 200)
            readded = api.post(f"{API}/servers", json={"server": b.address})
            assert readded.status_code == 201, readded.text
            load.wait_for(load.result.ok + 300)
        assert load.result.failed == 0, load.result.errors
        servers = sorted(p["server"] for p in api.get(API).json()["peers"])
        assert servers == sorted([a.address, b.address, c.address])
        assert {get(port)[2] for _ in range(12)} == {b"a\n", b"b\n", b"c\n"}
    finally:
        api.close()
        balancer.stop()


def test_state_file_keeps_api_changes_across_reload(three_backends, tmp_path: Path) -> None:
    a, b, _ = three_backends
    state = tmp_path / "backend.state"
    state.write_text(f"server {a.address};\n")
    port, api_port = free_port(), free_port()
    balancer = start_balancer(tmp_path, _config(port, api_port, f"      state {state};"), port)
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)
    try:
        assert {get(port)[2] for _ in range(4)} == {b"a\n"}
        added = api.post(f"{API}/servers", json={"server": b.address, "weight": 2})
        assert added.status_code == 201
        # written at once, in the format the balancer reads back (its own parser)
        assert [(spec.address, spec.weight) for spec in load_state(str(state))] == [
            (a.address, 1), (b.address, 2)]
        balancer.signal(signal.SIGHUP)
        time.sleep(0.5)
        peers = api.get(API).json()["peers"]
        assert sorted((p["server"], p["weight"]) for p in peers) == sorted(
            [(a.address, 1), (b.address, 2)])
        assert {get(port)[2] for _ in range(6)} == {b"a\n", b"b\n"}
    finally:
        api.close()
        balancer.stop()


def test_api_write_refused_without_write_on(three_backends, tmp_path: Path) -> None:
    a, _, _ = three_backends
    port, api_port = free_port(), free_port()
    text = _config(port, api_port, f"      server {a.address};").replace("api write=on", "api")
    balancer = start_balancer(tmp_path, text, port)
    try:
        response = httpx.post(f"http://127.0.0.1:{api_port}{API}/servers",
                              json={"server": "127.0.0.1:1"}, timeout=5)
        assert response.status_code == 405
        assert json.loads(response.text)["error"]["code"] == "MethodDisabled"
    finally:
        balancer.stop()


def test_t_warns_about_writable_api_open_to_the_network(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server {\n    listen 0.0.0.0:18999;\n"
                    "    location /api { api write=on; }\n  }\n}\n")
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 0
    assert (f'hotdeploy: [warn] writable "api" is reachable from 0.0.0.0:18999 without '
            f'"allow"/"deny" in {conf}:5') in result.stderr
