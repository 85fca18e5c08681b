"""The built-in local runtime, with real processes on loopback."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from hotdeploy.runtimes.base import InstanceSpec, Release
from hotdeploy.runtimes.local import LocalRuntime

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def spec(tmp_path, release: Release, instance_id="svc-1", health="/health") -> InstanceSpec:
    return InstanceSpec(service="svc", instance_id=instance_id, release=release, health=health,
                        cwd=str(SHOP), log_path=str(tmp_path / f"{instance_id}.log"))


def wait_get(url: str, timeout: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def runtime():
    rt = LocalRuntime()
    started = []
    original = rt.start

    def start(s):
        info = original(s)
        started.append(info)
        return info

    rt.start = start  # remember what to clean up; the runtime itself is unchanged
    yield rt
    import asyncio

    for info in started:
        asyncio.run(rt.stop(info, 1.0))


def test_app_instance_gets_port_env_version_and_log(runtime, tmp_path):
    info = runtime.start(spec(tmp_path, Release("2.1.0", app="orders.api:app")))
    body = wait_get(f"http://{info.address}/orders/7").json()
    assert body["version"] == "2.1.0" and body["instance"] == "svc-1"
    assert body["path"] == "/orders/7"
    assert runtime.alive(info)
    assert "start svc-1 version=2.1.0" in Path(info.log_path).read_text()


def test_unit_mounts_artifacts_in_one_process_and_gets_a_health_endpoint(runtime, tmp_path):
    release = Release("1.0.0", artifacts={"invoices": "invoices.api:app",
                                          "reports": "reports.api:app"})
    info = runtime.start(spec(tmp_path, release))
    assert wait_get(f"http://{info.address}/invoices/1").json()["service"] == "invoices"
    assert httpx.get(f"http://{info.address}/reports").json()["service"] == "reports"
    assert httpx.get(f"http://{info.address}/reportsX").status_code == 404
    health = httpx.get(f"http://{info.address}/health")
    assert health.status_code == 200


def test_app_without_health_gets_one_and_app_with_one_keeps_its_own(runtime, tmp_path):
    plain = runtime.start(spec(tmp_path, Release("1", app="reports.api:app"), "r-1"))
    assert wait_get(f"http://{plain.address}/health").text == "ok\n"
    own = runtime.start(spec(tmp_path, Release("1", app="orders.api:app",
                                               env={"EXAMPLE_UNHEALTHY": "1"}), "o-1"))
    assert wait_get(f"http://{own.address}/health").status_code == 503


def test_command_gets_its_port_by_placeholder_and_env(runtime, tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(
        "import http.server, os, sys\n"
        "assert sys.argv[1] == os.environ['PORT']\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = os.environ['GREETING'].encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers(); self.wfile.write(body)\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")
    release = Release("1", command=f"{sys.executable} {script} {{port}}",
                      env={"GREETING": "hello"})
    info = runtime.start(spec(tmp_path, release))
    assert wait_get(f"http://{info.address}/").text == "hello"


async def test_stop_sends_sigterm_then_sigkill_after_grace(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      "print('ready', flush=True)\ntime.sleep(60)\n")
    rt = LocalRuntime()
    info = rt.start(spec(tmp_path, Release("1", command=f"{sys.executable} {script}")))
    log = Path(info.log_path)
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    await rt.stop(info, grace=0.5)
    took = time.monotonic() - began
    assert not rt.alive(info)
    assert 0.4 < took < 5.0  # waited the grace period, then killed


def test_a_crashing_instance_is_seen_dead(runtime, tmp_path):
    info = runtime.start(spec(tmp_path, Release("1", app="orders.api:app",
                                                env={"EXAMPLE_CRASH": "1"})))
    deadline = time.monotonic() + 10
    while runtime.alive(info) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runtime.alive(info)
    assert "crashing on purpose" in Path(info.log_path).read_text()
