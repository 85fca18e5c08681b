"""Issue 11's autoscaling, for real: the local runtime and `hotdeploy lb`, a backend whose
requests take 200 ms, bounded concurrent load on loopback. The control process scales up to
`max` while the load lasts (health-gated: no request fails) and back to `min` once it has
stayed low for the cooldown. Windows are short (project keys) so the test takes seconds."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from hd_e2e_harness import Load, cli, free_port, service, status

pytestmark = pytest.mark.timeout(120)

SLOW_APP = '''
"""Answers /slow after 200 ms, so concurrent clients keep requests in flight."""
import asyncio
import os

VERSION = os.environ.get("HOTDEPLOY_VERSION", "dev")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            kind = (await receive())["type"].rsplit(".", 1)[1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if scope["path"].startswith("/slow"):
        await asyncio.sleep(0.2)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2"), (b"x-version", VERSION.encode())]})
    await send({"type": "http.response.body", "body": b"ok"})
'''

# 8 clients against 2 requests in flight per instance: 1 instance is 8, 3 are 2.7, both above
# the target, so the load keeps it at max.
AUTOSCALE = '{ min = 1, max = 3, inflight = 2, window = "2s", cooldown = "2s" }'
CLIENTS = 8
# While it scales down, one client with pauses keeps well under 1 in flight per instance, and
# proves that instances are drained before they stop.


def slow_project(tmp: Path) -> tuple[Path, str]:
    root = tmp / "scaling"
    root.mkdir()
    (root / "slowapp.py").write_text(SLOW_APP)
    port = free_port()
    (root / "hotdeploy.toml").write_text(f"""
[project]
name = "scaling"

[balancer]
listen = "127.0.0.1:{port}"
strategy = "active-active-health"
health_check = {{ uri = "/health", interval = "500ms", fails = 1, passes = 1 }}

[services.slow]
app = "slowapp:app"
route = "/slow"
version = "1.0.0"
autoscale = {AUTOSCALE}

[deploy]
drain_timeout = "5s"
health_timeout = "10s"
stop_grace = "3s"
""")
    return root / "hotdeploy.toml", f"http://127.0.0.1:{port}"


@pytest.fixture
def project(tmp_path):
    file, base = slow_project(tmp_path)
    up = cli(file, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    yield file, base
    cli(file, "down", timeout=60)


def scrape(file: Path) -> str:
    """The control process's balancer's Prometheus endpoint, beside its API."""
    api = status(file)["dataplane"]["api"]
    answer = httpx.get(f"{api}/metrics", timeout=5, trust_env=False)
    assert answer.status_code == 200, answer.text
    return answer.text


def wait_serving(file: Path, count: int, seen: list[int], within: float) -> float:
    """Seconds until `count` instances serve (and nothing else of the service runs), noting
    every count seen on the way."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        instances = service(file, "slow")["instances"]
        serving = [i for i in instances if i["state"] == "serving"]
        seen.append(len(serving))
        if len(serving) == count == len(instances):
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"{count} instances were not serving within {within}s: saw {seen[-5:]}")


def test_scales_up_under_load_without_failures_and_back_to_min_after_the_cooldown(project):
    file, base = project
    seen: list[int] = []
    assert wait_serving(file, 1, seen, 5) < 5
    with Load(base, path="/slow", clients=CLIENTS, pause=0.0) as load:
        up_took = wait_serving(file, 3, seen, 40)
        time.sleep(1.5)  # at max, still loaded: nothing more starts
        assert len(service(file, "slow")["instances"]) == 3
        scraped = scrape(file)
    assert load.failures == [], load.failures[:5]
    assert load.total > 50
    svc = service(file, "slow")
    assert svc["autoscale"]["last"]["to"] == 3
    assert svc["autoscale"]["last"]["reason"].endswith("> target 2")
    with Load(base, path="/slow", clients=1, pause=0.5) as light:
        down_took = wait_serving(file, 1, seen, 60)
    assert light.failures == [], light.failures[:5]
    assert light.total > 5
    # The load must stay low for the cooldown (2s) before the first step down, and a fresh
    # window plus the cooldown (4s) before the second: no earlier.
    assert down_took >= 2 + 4
    assert max(seen) == 3
    last = service(file, "slow")["autoscale"]["last"]
    assert (last["from"], last["to"], last["status"]) == (2, 1, "done")
    assert "< 1 for 2s cooldown" in last["reason"]
    shown = cli(file, "status")
    assert shown.returncode == 0, shown.stderr
    assert "slow: autoscale 1..3 at 2 in flight per instance" in shown.stdout
    assert "last step 2 -> 1" in shown.stdout
    log = (file.parent / ".hotdeploy" / "logs" / "control.log").read_text()
    assert "service=slow autoscale=1->2 reason=" in log
    assert "service=slow autoscale=2->1 reason=" in log
    # What the autoscaler reads is what Prometheus scrapes from the balancer's /metrics.
    active = [line for line in scraped.splitlines()
              if line.startswith("hotdeploy_upstream_server_active{")
              and 'upstream="svc_slow"' in line]
    assert len(active) == 3 and sum(float(line.split()[-1]) for line in active) > 0, scraped[:2000]
    print(f"\nscale up 1->3 under {CLIENTS} clients took {up_took:.1f}s, down 3->1 after the "
          f"load dropped {down_took:.1f}s; {load.total + light.total} requests, "
          f"{len(load.failures) + len(light.failures)} failed")
