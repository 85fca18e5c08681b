"""The NGINX Plus-shaped API on real PeerGroups: reads, writes, errors and the state file."""

import json
import time
from types import SimpleNamespace

import pytest

from hotdeploy.admin.api import handle_api
from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.rebuild import rebuild_groups
from hotdeploy.upstream.statefile import load_state


def spec(port, **kw):
    return ServerSpec(name=f"127.0.0.1:{port}", host="127.0.0.1", port=port, **kw)


def make_runtime(method="round_robin", state_file=None, servers=(8081, 8082)):
    upstream = UpstreamConfig(name="backend", servers=tuple(spec(p) for p in servers),
                              method=method, state_file=state_file, zone="backend_zone")
    groups = rebuild_groups({}, {"backend": upstream}, time.monotonic(), mandatory=set(),
                            persistent=set())
    return SimpleNamespace(groups=groups, pools={}, health_checker=None)


def call(runtime, method, path, body=None, write=True):
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    status, headers, payload = handle_api(method, path, "", raw, runtime, write, time.monotonic())
    if payload:
        assert ("Content-Type", "application/json") in headers
    return status, json.loads(payload) if payload else None


@pytest.fixture
def rt():
    return make_runtime()


def test_root_lists_versions_and_version_lists_endpoints(rt):
    assert call(rt, "GET", "/") == (200, list(range(1, 10)))
    status, endpoints = call(rt, "GET", "/9/")
    assert status == 200 and "http" in endpoints and "nginx" in endpoints
    assert call(rt, "GET", "/9/http") == (200, ["upstreams"])
    status, nginx = call(rt, "GET", "/9/nginx")
    assert status == 200 and {"version", "pid"} <= nginx.keys()


def test_upstream_object_has_nginx_plus_fields(rt):
    status, upstream = call(rt, "GET", "/9/http/upstreams/backend")
    assert status == 200
    assert set(upstream) == {"peers", "keepalive", "zombies", "zone"}
    assert upstream["zone"] == "backend_zone" and upstream["zombies"] == 0
    peer = upstream["peers"][0]
    assert peer["server"] == "127.0.0.1:8081" and peer["state"] == "up"
    for key in ("id", "name", "backup", "weight", "active", "requests", "sent", "received",
                "fails", "unavail", "downtime"):
        assert key in peer, key
    assert set(peer["responses"]) == {"1xx", "2xx", "3xx", "4xx", "5xx", "total"}
    assert set(peer["health_checks"]) >= {"checks", "fails", "unhealthy"}


def test_every_api_version_answers_the_same(rt):
    assert call(rt, "GET", "/3/http/upstreams/backend/servers") == call(
        rt, "GET", "/9/http/upstreams/backend/servers")
    status, body = call(rt, "GET", "/10/http/upstreams")
    assert status == 404 and body["error"]["code"] == "UnknownVersion"


def test_list_of_upstreams_is_keyed_by_name(rt):
    status, ups = call(rt, "GET", "/9/http/upstreams")
    assert status == 200 and list(ups) == ["backend"]


def test_unknown_upstream_is_404_with_nginx_plus_error_body(rt):
    status, body = call(rt, "GET", "/9/http/upstreams/nope")
    assert status == 404
    assert body["error"] == {"status": 404, "text": "upstream not found",
                             "code": "UpstreamNotFound"}
    assert body["href"].startswith("https://nginx.org/") and body["request_id"]


def test_servers_are_configuration_objects(rt):
    status, servers = call(rt, "GET", "/9/http/upstreams/backend/servers")
    assert status == 200 and len(servers) == 2
    assert servers[0] == {"id": servers[0]["id"], "server": "127.0.0.1:8081", "weight": 1,
                          "max_conns": 0, "max_fails": 1, "fail_timeout": "10s",
                          "slow_start": "0s", "route": "", "backup": False, "down": False,
                          "drain": False}


def test_post_adds_a_server_that_takes_effect_at_once(rt):
    status, server = call(rt, "POST", "/9/http/upstreams/backend/servers",
                          {"server": "127.0.0.1:8083", "weight": 3, "max_fails": 2,
                           "fail_timeout": "5s"})
    assert status == 201
    assert (server["server"], server["weight"], server["max_fails"], server["fail_timeout"]) == (
        "127.0.0.1:8083", 3, 2, "5s")
    assert "127.0.0.1:8083" in [p.address for p in rt.groups["backend"].peers]
    status, got = call(rt, "GET", f"/9/http/upstreams/backend/servers/{server['id']}")
    assert status == 200 and got == server


def test_patch_changes_weight_drain_and_down(rt):
    sid = rt.groups["backend"].peers[0].id
    path = f"/9/http/upstreams/backend/servers/{sid}"
    status, server = call(rt, "PATCH", path, {"weight": 5})
    assert status == 200 and server["weight"] == 5
    assert rt.groups["backend"].get(sid).weight == 5
    call(rt, "PATCH", path, {"drain": True})
    peers = call(rt, "GET", "/9/http/upstreams/backend")[1]["peers"]
    assert next(p for p in peers if p["id"] == sid)["state"] == "draining"
    call(rt, "PATCH", path, {"drain": False, "down": True})
    peers = call(rt, "GET", "/9/http/upstreams/backend")[1]["peers"]
    assert next(p for p in peers if p["id"] == sid)["state"] == "down"


def test_patch_accepts_what_get_returned(rt):
    sid = rt.groups["backend"].peers[1].id
    path = f"/9/http/upstreams/backend/servers/{sid}"
    _, server = call(rt, "GET", path)
    server["max_fails"] = 7
    status, patched = call(rt, "PATCH", path, server)
    assert status == 200 and patched == server


def test_delete_removes_the_server(rt):
    sid = rt.groups["backend"].peers[0].id
    status, remaining = call(rt, "DELETE", f"/9/http/upstreams/backend/servers/{sid}")
    assert status == 200 and [s["server"] for s in remaining] == ["127.0.0.1:8082"]
    status, body = call(rt, "GET", f"/9/http/upstreams/backend/servers/{sid}")
    assert status == 404 and body["error"]["code"] == "UpstreamServerNotFound"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/9/http/upstreams/backend/servers", {"server": "127.0.0.1:9"}),
        ("PATCH", "/9/http/upstreams/backend/servers/0", {"weight": 2}),
        ("DELETE", "/9/http/upstreams/backend/servers/0", None),
    ],
)
def test_writes_are_refused_without_write_on(rt, method, path, body):
    before = [(p.address, p.weight) for p in rt.groups["backend"].peers]
    status, err = call(rt, method, path, body, write=False)
    assert status == 405 and err["error"]["code"] == "MethodDisabled"
    assert [(p.address, p.weight) for p in rt.groups["backend"].peers] == before
    assert call(rt, "GET", "/9/http/upstreams/backend", write=False)[0] == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"colour": "red"}, 400, "UpstreamConfFormatError"),
        ({"weight": 0}, 400, "UpstreamBadWeight"),
        ({"weight": "heavy"}, 400, "UpstreamBadWeight"),
        ({"max_fails": -1}, 400, "UpstreamBadMaxFails"),
        ({"fail_timeout": "soon"}, 400, "UpstreamBadFailTimeout"),
        ({"down": "yes"}, 400, "UpstreamConfFormatError"),
        ({"weight": [1]}, 400, "UpstreamConfFormatError"),
        ({"server": "10.9.9.9:80"}, 400, "UpstreamServerImmutable"),
        (b"{not json", 415, "JsonError"),
    ],
)
def test_bad_patch_fields_are_refused_and_change_nothing(rt, body, status, code):
    peer = rt.groups["backend"].peers[0]
    got, err = call(rt, "PATCH", f"/9/http/upstreams/backend/servers/{peer.id}", body)
    assert (got, err["error"]["code"]) == (status, code)
    assert (peer.weight, peer.max_fails, peer.down) == (1, 1, False)


def test_post_needs_a_valid_server_address(rt):
    status, err = call(rt, "POST", "/9/http/upstreams/backend/servers", {"weight": 2})
    assert status == 400 and err["error"]["code"] == "UpstreamConfFormatError"
    status, err = call(rt, "POST", "/9/http/upstreams/backend/servers", {"server": "1.2.3.4:x"})
    assert status == 400 and err["error"]["code"] == "UpstreamBadAddress"
    assert len(rt.groups["backend"].peers) == 2


def test_bad_ids_paths_and_methods():
    rt = make_runtime()
    assert call(rt, "GET", "/9/http/upstreams/backend/servers/abc")[1]["error"]["code"] == (
        "UpstreamBadServerId")
    assert call(rt, "GET", "/9/http/upstreams/backend/servers/999")[0] == 404
    assert call(rt, "GET", "/9/stream")[1]["error"]["code"] == "PathNotFound"
    status, err = call(rt, "PUT", "/9/http/upstreams/backend/servers")
    assert status == 405 and err["error"]["code"] == "MethodNotSupported"


def test_backup_is_refused_where_nginx_refuses_it():
    rt = make_runtime(method="ip_hash")
    status, err = call(rt, "POST", "/9/http/upstreams/backend/servers",
                       {"server": "127.0.0.1:8083", "backup": True})
    assert status == 400 and err["error"]["code"] == "UpstreamConfFormatError"


def test_writes_are_saved_to_the_state_file(tmp_path):
    path = str(tmp_path / "backend.state")
    rt = make_runtime(state_file=path)
    call(rt, "POST", "/9/http/upstreams/backend/servers", {"server": "127.0.0.1:8083",
                                                            "backup": True})
    first = rt.groups["backend"].peers[0]
    call(rt, "PATCH", f"/9/http/upstreams/backend/servers/{first.id}", {"weight": 4})
    specs = load_state(path)
    assert [(s.port, s.weight, s.backup) for s in specs] == [(8081, 4, False), (8082, 1, False),
                                                             (8083, 1, True)]
    call(rt, "DELETE", f"/9/http/upstreams/backend/servers/{first.id}")
    assert [s.port for s in load_state(path)] == [8082, 8083]


def test_delete_upstream_resets_statistics(rt):
    peer = rt.groups["backend"].peers[0]
    peer.requests, peer.responses[1], peer.responses[5] = 10, 10, 10
    status, _ = call(rt, "DELETE", "/9/http/upstreams/backend")
    assert status == 204
    assert (peer.requests, peer.responses[1]) == (0, 0)


def test_post_resolves_a_host_name_preferring_ipv4(rt):
    status, server = call(rt, "POST", "/9/http/upstreams/backend/servers",
                          {"server": "localhost:8090"})
    assert status == 201 and server["server"] == "127.0.0.1:8090"
    peers = call(rt, "GET", "/9/http/upstreams/backend")[1]["peers"]
    assert peers[-1]["name"] == "localhost:8090"


def test_removing_a_busy_server_leaves_a_zombie_until_its_request_ends(rt):
    group = rt.groups["backend"]
    busy = group.select(Attempt(), time.monotonic())
    status, _ = call(rt, "DELETE", f"/9/http/upstreams/backend/servers/{busy.id}")
    assert status == 200
    assert call(rt, "GET", "/9/http/upstreams/backend")[1]["zombies"] == 1
    group.release(busy, False, time.monotonic())
    assert call(rt, "GET", "/9/http/upstreams/backend")[1]["zombies"] == 0
