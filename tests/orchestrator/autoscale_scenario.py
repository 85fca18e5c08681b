"""The autoscaling scenario shared by the end-to-end tests of each runtime: a service whose
requests take 200 ms, bounded concurrent load on loopback, scaled up to `max` and back to
`min` (short windows, so it takes seconds)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from hd_e2e_harness import Load, free_port, service, status

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


def slow_project(tmp: Path, runtime: str = "", health_timeout: str = "10s",
                 balancer: str = "") -> tuple[Path, str]:
    """A project of one autoscaled service, `slow`, on a free loopback port; `runtime`: a
    [runtime] table (default: the local runtime); `balancer`: more [balancer] keys."""
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
{balancer}

[services.slow]
app = "slowapp:app"
route = "/slow"
version = "1.0.0"
autoscale = {AUTOSCALE}

[deploy]
drain_timeout = "5s"
health_timeout = "{health_timeout}"
stop_grace = "3s"
{runtime}
""")
    return root / "hotdeploy.toml", f"http://127.0.0.1:{port}"


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


@dataclass
class Scaled:
    up_took: float  # seconds from the start of the load until 3 served
    down_took: float  # seconds from the drop of the load until 1 served
    requests: int
    scraped: str  # the balancer's /metrics while 3 served under load ("": not scraped)


def scale_up_then_down(file: Path, base: str, metrics: bool = True) -> Scaled:
    """Load until `max` (3) serve, then light load until `min` (1) does: no request fails,
    the count never leaves 1..3, the step down waits for its cooldowns."""
    seen: list[int] = []
    wait_serving(file, 1, seen, 5)
    with Load(base, path="/slow", clients=CLIENTS, pause=0.0) as load:
        up_took = wait_serving(file, 3, seen, 60)
        time.sleep(1.5)  # at max, still loaded: nothing more starts
        assert len(service(file, "slow")["instances"]) == 3
        scraped = scrape(file) if metrics else ""
    assert load.failures == [], load.failures[:5]
    assert load.total > 50
    last = service(file, "slow")["autoscale"]["last"]
    assert last["to"] == 3 and last["reason"].endswith("> target 2"), last
    # While it scales down, one client with pauses keeps well under 1 in flight per instance
    # (the low threshold), and proves that instances are drained before they stop.
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
    return Scaled(up_took, down_took, load.total + light.total, scraped)
