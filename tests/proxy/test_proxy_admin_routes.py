"""Locations answered in-process: `api` (NGINX Plus API) and `metrics`, behind allow/deny;
and an upstream that answers garbage."""

from __future__ import annotations

import json

import httpx

CONF = """
events {}
http {
  upstream backend { server UP1; }
  server {
    listen LISTEN;
    location / { proxy_pass http://backend; }
    location /api { api write=on; allow 127.0.0.1; deny all; }
    location /ro/api { api; }
    location = /metrics { metrics; }
  }
}
"""


async def test_api_location_answers_and_changes_take_effect(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url + "/api/9/http/upstreams/backend")
        assert r.status_code == 200
        peers = r.json()["peers"]
        assert [p["server"] for p in peers] == [b.address]
        patch = await client.patch(lb.url + f"/api/9/http/upstreams/backend/servers/"
                                   f"{peers[0]['id']}", content=json.dumps({"down": True}))
        assert patch.status_code == 200
        # The server is down now: no live upstreams.
        assert (await client.get(lb.url + "/")).status_code == 502
        refused = await client.patch(lb.url + f"/ro/api/9/http/upstreams/backend/servers/"
                                     f"{peers[0]['id']}", content=json.dumps({"down": False}))
        assert refused.status_code == 405


async def test_metrics_location(backends, balancer):
    (b,) = await backends("b")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        await client.get(lb.url + "/")
        r = await client.get(lb.url + "/metrics")
    assert r.status_code == 200
    assert b.address in r.text


async def test_invalid_upstream_response_is_502(backends, balancer):
    (b,) = await backends(lambda backend, seen: b"NOT HTTP AT ALL\r\n\r\n")
    lb = await balancer(CONF, UP1=b.address)
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url + "/")
    assert r.status_code == 502
    assert "upstream sent invalid header while reading response header from upstream" \
        in lb.error_log()
