"""The built-in local runtime, with real processes on loopback, run from release snapshots."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest

from hotdeploy.orchestrator.releases import ReleaseSettings, ReleaseStore, SourceFilter
from hotdeploy.runtimes.base import InstanceSpec, RunState
from hotdeploy.runtimes.local import LocalRuntime

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


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
def run(tmp_path):
    """run(settings, version) -> (runtime, handle) of a started instance; stopped afterwards."""
    runtime = LocalRuntime(tmp_path / "logs")
    store = ReleaseStore(tmp_path / "releases")
    started = []

    def start(settings: ReleaseSettings, version: str = "2.1.0", instance_id: str = "svc-1"):
        release = store.build("svc", SourceFilter(SHOP), settings, version).release
        spec = InstanceSpec(project="shop", service="svc", instance_id=instance_id,
                            release=release, health=settings.health)
        handle = asyncio.run(runtime.start(spec))
        started.append(handle)
        return runtime, handle

    yield start
    for handle in started:
        asyncio.run(runtime.stop(handle, 1.0))


def test_app_instance_gets_port_env_version_and_log(run):
    runtime, handle = run(ReleaseSettings(health="/health", app="orders.api:app"))
    body = wait_get(f"http://{handle.endpoint}/orders/7").json()
    assert body["version"] == "2.1.0" and body["instance"] == "svc-1"
    assert body["path"] == "/orders/7"
    assert asyncio.run(runtime.state(handle)) == RunState.RUNNING
    assert "start svc-1 version=2.1.0" in "\n".join(asyncio.run(runtime.logs(handle, 5)))
    assert handle.endpoint.host == "127.0.0.1" and handle.details["pid"] == handle.ref


def test_the_instance_runs_from_the_snapshot_not_from_the_source(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "page.txt").write_text("old bytes")
    store = ReleaseStore(tmp_path / "releases")
    serve = (f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1")
    release = store.build("svc", SourceFilter(source),
                          ReleaseSettings(health="/page.txt", command=serve), "1").release
    (source / "page.txt").write_text("new bytes")  # edited after the release was built
    runtime = LocalRuntime(tmp_path / "logs")
    handle = asyncio.run(runtime.start(InstanceSpec("p", "svc", "svc-1", release, "/page.txt")))
    try:
        assert wait_get(f"http://{handle.endpoint}/page.txt").text == "old bytes"
    finally:
        asyncio.run(runtime.stop(handle, 1.0))


def test_unit_mounts_artifacts_and_answers_health(run):
    _, handle = run(ReleaseSettings(health="/health", artifacts={
        "invoices": "invoices.api:app", "reports": "reports.api:app"}), instance_id="bo-1")
    assert wait_get(f"http://{handle.endpoint}/invoices").json()["service"] == "invoices"
    assert wait_get(f"http://{handle.endpoint}/reports/x").json()["service"] == "reports"
    assert wait_get(f"http://{handle.endpoint}/health").status_code == 200


def test_stop_and_adopt(run):
    runtime, handle = run(ReleaseSettings(health="/health", app="orders.api:app"))
    wait_get(f"http://{handle.endpoint}/health")
    record = runtime.record(handle)
    assert asyncio.run(runtime.adopt(record)) == handle
    asyncio.run(runtime.stop(handle, 2.0))
    assert asyncio.run(runtime.state(handle)) == RunState.EXITED
    assert asyncio.run(runtime.adopt(record)) is None


def test_app_without_health_gets_one_and_app_with_one_keeps_its_own(run):
    _, plain = run(ReleaseSettings(health="/health", app="reports.api:app"), instance_id="r-1")
    assert wait_get(f"http://{plain.endpoint}/health").text == "ok\n"
    _, own = run(ReleaseSettings(health="/health", app="orders.api:app",
                                 env={"EXAMPLE_UNHEALTHY": "1"}), version="2", instance_id="o-1")
    assert wait_get(f"http://{own.endpoint}/health").status_code == 503


def test_command_gets_its_port_by_placeholder_and_env(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "serve.py").write_text(
        "import http.server, os, sys\n"
        "assert sys.argv[1] == os.environ['PORT']\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = os.environ['GREETING'].encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers(); self.wfile.write(body)\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")
    settings = ReleaseSettings(health="/", command=f"{sys.executable} serve.py {{port}}",
                               env={"GREETING": "hello"})
    release = ReleaseStore(tmp_path / "r").build("svc", SourceFilter(source), settings, "1")
    runtime = LocalRuntime(tmp_path / "logs")
    handle = asyncio.run(runtime.start(InstanceSpec("p", "svc", "svc-1", release.release, "/")))
    try:
        assert wait_get(f"http://{handle.endpoint}/").text == "hello"
    finally:
        asyncio.run(runtime.stop(handle, 1.0))


async def test_stop_sends_sigterm_then_sigkill_after_grace(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "stubborn.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n")
    settings = ReleaseSettings(health="/", command=f"{sys.executable} stubborn.py")
    release = ReleaseStore(tmp_path / "r").build("svc", SourceFilter(source), settings, "1")
    rt = LocalRuntime(tmp_path / "logs")
    handle = await rt.start(InstanceSpec("p", "svc", "svc-1", release.release, "/"))
    deadline = time.monotonic() + 10
    while "ready" not in "".join(await rt.logs(handle, 5)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    began = time.monotonic()
    await rt.stop(handle, grace=0.5)
    took = time.monotonic() - began
    assert await rt.state(handle) == RunState.EXITED
    assert 0.4 < took < 5.0  # waited the grace period, then killed


def test_a_crashing_instance_is_seen_dead(run):
    runtime, handle = run(ReleaseSettings(health="/health", app="orders.api:app",
                                          env={"EXAMPLE_CRASH": "1"}))
    deadline = time.monotonic() + 10
    while asyncio.run(runtime.state(handle)) == RunState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert asyncio.run(runtime.state(handle)) == RunState.EXITED
    assert "crashing on purpose" in "\n".join(asyncio.run(runtime.logs(handle, 10)))
