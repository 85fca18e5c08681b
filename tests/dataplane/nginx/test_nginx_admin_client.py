"""The live-mode admin protocol client against a fake admin server (httpx.MockTransport):
the requests it sends and how it reads the answers. No nginx needed."""

from __future__ import annotations

import json

import httpx
import pytest

from hotdeploy.dataplane.base import NewServer
from hotdeploy.dataplane.nginx.admin import AdminClient
from hotdeploy.errors import ControlError

PEER = {"id": 3, "server": "127.0.0.1:7001", "state": "draining", "active": 2,
        "requests": 10, "responses": {"5xx": 1, "total": 9}, "weight": 2, "backup": False,
        "response_time": 12.5, "fails": 1}


def client(seen):
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        path = request.url.path
        if path == "/api/9/hotdeploy":
            return httpx.Response(200, json={"generation": "abc", "next_id": 7})
        if path == "/api/9/http/upstreams":
            return httpx.Response(200, json={"svc_a": {}, "svc_b": {}})
        if path == "/api/9/http/upstreams/svc_a" and request.method == "GET":
            return httpx.Response(200, json={"peers": [PEER]})
        if path == "/api/9/http/upstreams/svc_a/servers" and request.method == "POST":
            return httpx.Response(201, json={"id": 8, **body})
        if path == "/api/9/http/upstreams/svc_a/servers" and request.method == "GET":
            return httpx.Response(200, json=[{"id": 3, "server": "127.0.0.1:7001"}])
        if path == "/api/9/http/upstreams/svc_b/servers":
            return httpx.Response(200, json={})  # cjson's empty list
        if path.startswith("/api/9/http/upstreams/svc_a/servers/3"):
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"error": {"status": 404, "text": "nope"}})

    return AdminClient("127.0.0.1:9", transport=httpx.MockTransport(handle))


async def test_add_sends_the_server_parameters_in_plus_units():
    seen = []
    api = client(seen)
    new = await api.add("svc_a", NewServer("127.0.0.1:7002", weight=3, backup=True,
                                           max_fails=2, fail_timeout=30.0))
    assert new == 8
    assert seen[-1] == ("POST", "/api/9/http/upstreams/svc_a/servers", {
        "server": "127.0.0.1:7002", "weight": 3, "backup": True, "max_fails": 2,
        "fail_timeout": "30s"})


async def test_peers_are_read_into_server_views_with_seconds():
    api = client([])
    (view,) = await api.peers("svc_a")
    assert (view.id, view.state, view.active, view.server_errors) == (3, "draining", 2, 1)
    assert view.response_time == pytest.approx(0.0125)


async def test_patch_remove_and_errors():
    seen = []
    api = client(seen)
    await api.patch("svc_a", 3, drain=True)
    assert seen[-1] == ("PATCH", "/api/9/http/upstreams/svc_a/servers/3", {"drain": True})
    await api.remove("svc_a", 3)
    assert seen[-1][:2] == ("DELETE", "/api/9/http/upstreams/svc_a/servers/3")
    with pytest.raises(ControlError, match="404"):
        await api.peers("svc_nope")


async def test_generation_and_saved_servers():
    api = client([])
    assert await api.generation() == "abc"
    saved = await api.saved_servers()
    assert saved == {"nextid": 7, "upstreams": {
        "svc_a": [{"id": 3, "server": "127.0.0.1:7001"}], "svc_b": []}}


async def test_no_answer_is_none_not_an_error():
    def refuse(request):
        raise httpx.ConnectError("refused")

    api = AdminClient("127.0.0.1:9", transport=httpx.MockTransport(refuse))
    assert await api.about() is None and await api.ping() is False
