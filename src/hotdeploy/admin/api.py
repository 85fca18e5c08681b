"""The NGINX Plus REST API (ngx_http_api_module) for upstreams: `api [write=on];`.

`handle_api` is transport-free: the proxy passes the part of the URI after the location prefix,
the query string, the request body and the `write` flag of the location, and sends back
`(status, headers, body)`. Versions 1..9 answer the same (NGINX Plus keeps old versions
compatible for the endpoints we serve). Changes take effect at once; after a change to an
upstream with `state FILE;`, the file is rewritten atomically so that reloads and restarts keep
what the API did.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from hotdeploy import __version__
from hotdeploy import defaults as d
from hotdeploy.admin import errors as e
from hotdeploy.admin.objects import iso_time, server_object, upstream_object
from hotdeploy.admin.serverconf import ServerRequest, parse_server_request
from hotdeploy.config.model import ServerSpec
from hotdeploy.upstream.statefile import save_state

Response = tuple[int, list[tuple[str, str]], bytes]
JSON_HEADERS = [("Content-Type", "application/json")]
WRITE_METHODS = ("POST", "PATCH", "DELETE")
# nginx refuses `backup` with these balancing methods ("invalid parameter backup").
NO_BACKUP_METHODS = ("hash", "ip_hash", "random")


def handle_api(
    method: str,
    subpath: str,
    query: str,
    body: bytes,
    runtime: Any,
    write: bool,
    now: float,
    wall: float | None = None,
) -> Response:
    """Answer one API request. `now` is the balancer's monotonic clock, `wall` Unix time."""
    ctx = _Request(method.upper(), query, body, runtime, write, now,
                   time.time() if wall is None else wall)
    zone = getattr(runtime, "zone", None)
    if zone is None:
        return _answer(ctx, subpath)
    if ctx.method in WRITE_METHODS and write:
        # worker_processes N: one writer at a time, starting from the other workers' changes;
        # `_after_write` hands the change to them (lb/zonesync.py).
        with zone.writing():
            return _answer(ctx, subpath)
    zone.tick()  # the other workers' latest API changes and state, not the last tick's
    zone.refresh_elsewhere()  # counters of every worker
    return _answer(ctx, subpath)


def _answer(ctx: _Request, subpath: str) -> Response:
    try:
        status, payload = _route(ctx, [p for p in subpath.split("/") if p])
    except e.ApiError as err:
        status, payload = err.status, err.body()
    except ValueError as err:  # the group refused a value the parser let through
        err400 = e.format_error(str(err))
        status, payload = err400.status, err400.body()
    if status == 204:
        return status, [], b""
    return status, list(JSON_HEADERS), _dump(payload)


class _Request:
    def __init__(self, method: str, query: str, body: bytes, runtime: Any, write: bool,
                 now: float, wall: float) -> None:
        self.method = method
        self.query = query
        self.body = body
        self.runtime = runtime
        self.write = write
        self.now = now
        self.wall = wall

    def allow(self, *methods: str) -> None:
        """NGINX Plus checks the method, then whether writes are enabled."""
        if self.method not in methods:
            raise e.method_not_supported()
        if self.method in WRITE_METHODS and not self.write:
            raise e.method_disabled()

    def json(self) -> object:
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as err:
            raise e.json_error(str(err)) from None


def _dump(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


def _route(req: _Request, parts: list[str]) -> tuple[int, object]:
    if not parts:
        req.allow("GET")
        return 200, list(d.API_VERSIONS)
    if not parts[0].isdigit() or int(parts[0]) not in d.API_VERSIONS:
        raise e.unknown_version()
    rest = parts[1:]
    if not rest:
        req.allow("GET")
        return 200, ["nginx", "http"]
    if rest == ["nginx"]:
        req.allow("GET")
        return 200, _nginx_object(req)
    if rest[0] != "http":
        raise e.path_not_found()
    if len(rest) == 1:
        req.allow("GET")
        return 200, ["upstreams"]
    if rest[1] != "upstreams":
        raise e.path_not_found()
    return _upstreams(req, rest[2:])


def _upstreams(req: _Request, parts: list[str]) -> tuple[int, object]:
    groups = req.runtime.groups
    if not parts:
        req.allow("GET")
        return 200, {name: _upstream(req, name, g) for name, g in groups.items()}
    group = groups.get(parts[0])
    if group is None:
        raise e.upstream_not_found()
    if len(parts) == 1:
        req.allow("GET", "DELETE")
        if req.method == "DELETE":
            _reset_statistics(group)
            return 204, None
        return 200, _upstream(req, parts[0], group)
    if parts[1] != "servers" or len(parts) > 3:
        raise e.path_not_found()
    if len(parts) == 2:
        req.allow("GET", "POST")
        if req.method == "GET":
            return 200, [server_object(p) for p in group.peers]
        return 201, _add_server(req, group)
    return _one_server(req, group, parts[2])


def _one_server(req: _Request, group: Any, id_text: str) -> tuple[int, object]:
    req.allow("GET", "PATCH", "DELETE")
    if not id_text.isdigit():
        raise e.bad_server_id()
    peer = _find(group, int(id_text))
    if req.method == "GET":
        return 200, server_object(peer)
    if req.method == "PATCH":
        return 200, _patch_server(req, group, peer)
    group.remove(peer.id, req.now)
    _after_write(req, group)
    return 200, [server_object(p) for p in group.peers]


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


def _upstream(req: _Request, name: str, group: Any) -> dict[str, Any]:
    pool = getattr(req.runtime, "pools", {}).get(name)
    idle = len(pool.idle) if pool is not None else 0
    return upstream_object(group, req.now, req.wall, idle)


def _nginx_object(req: _Request) -> dict[str, Any]:
    loaded = getattr(req.runtime, "load_timestamp", None)
    obj: dict[str, Any] = {
        "version": __version__,
        "build": "hotdeploy",
        "address": "127.0.0.1",
        "generation": getattr(req.runtime, "generation", 0),
        "timestamp": iso_time(req.wall),
        "pid": os.getpid(),
        "ppid": os.getppid(),
    }
    if loaded is not None:
        obj["load_timestamp"] = iso_time(loaded)
    return obj


def _find(group: Any, peer_id: int) -> Any:
    try:
        peer = group.get(peer_id)
    except (KeyError, LookupError):
        peer = None
    if peer is None:
        raise e.server_not_found()
    return peer


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


def _add_server(req: _Request, group: Any) -> dict[str, Any]:
    sreq = parse_server_request(req.json(), adding=True)
    _check_backup(group, sreq)
    changes = dict(sreq.changes)
    drain = bool(changes.pop("drain", False))
    spec = ServerSpec(name=sreq.server or "", host=sreq.host or "", port=sreq.port or 0,
                      **changes)  # type: ignore[arg-type]
    peer = group.add(spec, req.now)
    if drain:
        group.update(peer.id, req.now, drain=True)
    _after_write(req, group)
    return server_object(peer)


def _patch_server(req: _Request, group: Any, peer: Any) -> dict[str, Any]:
    sreq = parse_server_request(req.json(), adding=False)
    if sreq.id is not None and sreq.id != peer.id:
        raise e.ApiError(400, "server id is immutable", "UpstreamServerImmutable")
    if sreq.server is not None and sreq.server not in (peer.address, peer.spec.name):
        raise e.ApiError(400, f'server "{peer.id}" address is immutable',
                         "UpstreamServerImmutable")
    _check_backup(group, sreq)
    if sreq.changes:
        group.update(peer.id, req.now, **sreq.changes)
    _after_write(req, group)
    return server_object(peer)


def _check_backup(group: Any, sreq: ServerRequest) -> None:
    if sreq.changes.get("backup") and group.config.method in NO_BACKUP_METHODS:
        raise e.format_error(f'"backup" is not allowed with "{group.config.method}"')


def _after_write(req: _Request, group: Any) -> None:
    """Persist the change (NGINX Plus `state FILE;`) and let health checks see new servers."""
    path = group.config.state_file
    if path:
        save_state(path, group.peers)
    zone = getattr(req.runtime, "zone", None)
    if zone is not None:
        zone.publish(group)  # every worker applies it at its next zone tick
    checker = getattr(req.runtime, "health_checker", None)
    reconcile: Callable[[], None] | None = getattr(checker, "reconcile", None)
    if reconcile is not None:
        reconcile()


def _reset_statistics(group: Any) -> None:
    """DELETE `/http/upstreams/NAME`: zero the counters, keep the configuration and state."""
    for peer in group.peers:
        peer.requests = peer.sent = peer.received = 0
        peer.fails_total = peer.unavail = 0
        peer.hc_checks = peer.hc_fails = peer.hc_unhealthy = 0
        peer.responses[:] = [0] * len(peer.responses)
        peer.downtime = 0.0
