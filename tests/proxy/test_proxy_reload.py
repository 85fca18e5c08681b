"""Configuration generations: a reload reaches keep-alive clients at their next request and
keeps warm upstream connections; a draining shutdown waits for in-flight requests."""

from __future__ import annotations

import asyncio
import time

import httpx
from proxy_harness import Balancer

from hotdeploy.config.loader import load_config
from hotdeploy.proxy.runtime import build_runtime

CONF = """
events {}
http {
  upstream backend { server UP1; keepalive 4; }
  server {
    listen LISTEN;
    location /pooled/ {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
"""


def reload(lb: Balancer, tmp_path, text: str | None = None) -> None:
    path = tmp_path / "nginx.conf"
    if text is not None:
        path.write_text(text)
    new = build_runtime(load_config(str(path), str(tmp_path) + "/"), lb.runtime,
                        time.monotonic())
    old = lb.holder.swap(new)
    lb.runtime = new
    old.stop()


async def test_reload_applies_to_next_request_on_same_keepalive_connection(
        backends, balancer, tmp_path):
    (one, two) = await backends("one", "two")
    lb: Balancer = await balancer(CONF, UP1=one.address)
    text = (tmp_path / "nginx.conf").read_text().replace(one.address, two.address)
    (tmp_path / "nginx.conf").write_text(text)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        assert (await client.get(lb.url + "/pooled/")).text == "one"
        reload(lb, tmp_path)
        assert (await client.get(lb.url + "/pooled/")).text == "two"
    assert len(lb.tracker.connections) == 1


async def test_reload_keeps_warm_upstream_connections(backends, balancer, tmp_path):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        assert (await client.get(lb.url + "/pooled/")).status_code == 200
        reload(lb, tmp_path)
        assert (await client.get(lb.url + "/pooled/")).status_code == 200
    assert b.connections == 1


async def test_graceful_drain_waits_for_in_flight_request(backends, balancer):
    async def slow(backend, seen):
        await asyncio.sleep(0.3)
        return 200, [], b"done"

    (b,) = await backends(slow)
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        idle = httpx.AsyncClient()
        await idle.get(lb.url + "/pooled/")  # leaves an idle keep-alive connection
        pending = asyncio.create_task(client.get(lb.url + "/pooled/"))
        await asyncio.sleep(0.1)
        assert lb.tracker.active_requests == 1
        assert lb.tracker.close_idle() == 1  # the idle one closes, the busy one is kept
        assert await lb.tracker.wait_drained(2.0)
        r = await pending
        assert r.status_code == 200 and r.text == "done"
        assert r.headers["connection"] == "close"  # shutting down: no more keep-alive
        await idle.aclose()
