"""The JSON body of POST/PATCH `/http/upstreams/NAME/servers[/ID]`, validated (pure).

Field names and error codes are NGINX Plus's (ngx_http_api_module, "HTTP Upstream Server"):
times may be nginx time strings ("10s", "500ms") or numbers of seconds.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from hotdeploy.admin.errors import ApiError, format_error
from hotdeploy.config.addresses import parse_server_address
from hotdeploy.units import parse_duration

# Parameters a client may change on a live server (PATCH) or give when adding one (POST).
CHANGEABLE = ("weight", "max_conns", "max_fails", "fail_timeout", "slow_start", "backup", "down",
              "drain")

_INT_CODES = {
    "weight": ("UpstreamBadWeight", 1),
    "max_conns": ("UpstreamBadMaxConns", 0),
    "max_fails": ("UpstreamBadMaxFails", 0),
}
_TIME_CODES = {"fail_timeout": "UpstreamBadFailTimeout", "slow_start": "UpstreamBadSlowStart"}
_BOOLS = ("backup", "down", "drain")


@dataclass(slots=True)
class ServerRequest:
    """A validated request body: the address (POST) and the parameters to set."""

    server: str | None = None
    host: str | None = None
    port: int | None = None
    id: int | None = None
    changes: dict[str, object] = field(default_factory=dict)


def parse_server_request(body: object, *, adding: bool) -> ServerRequest:
    if not isinstance(body, dict):
        raise format_error("request body is not a JSON object")
    req = ServerRequest()
    for key, value in body.items():
        if isinstance(value, dict | list):
            raise format_error("nested object or list")
        if key in CHANGEABLE:
            req.changes[key] = _value(key, value)
        elif key == "server":
            req.server = _address_text(value)
        elif key == "id":
            if not isinstance(value, int) or isinstance(value, bool):
                raise format_error('invalid "id" value')
            req.id = value
        elif key == "route":
            if value != "":  # sticky routes are not implemented: refuse rather than ignore
                raise format_error('invalid "route" value')
        else:
            raise format_error(f'unknown parameter "{key}"')
    if adding:
        if req.server is None:
            raise format_error('missing "server" argument')
        req.host, req.port = resolve(req.server)
    return req


def resolve(text: str) -> tuple[str, int]:
    """`host:port` -> (ip, port); names are resolved now, as NGINX Plus does without `resolve`."""
    try:
        host, port = parse_server_address(text)
    except ValueError:
        raise ApiError(400, f'invalid "server" argument "{text}"', "UpstreamBadAddress") from None
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ApiError(400, f'host not found in "{text}"', "UpstreamBadAddress") from None
    # IPv4 first: "localhost" often lists ::1 first while services listen on 127.0.0.1 only.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port


def _address_text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, 'invalid "server" argument', "UpstreamBadAddress")
    return value


def _value(key: str, value: object) -> object:
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise format_error(f'invalid "{key}" value')
        return value
    if key in _INT_CODES:
        code, minimum = _INT_CODES[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ApiError(400, f'invalid "{key}"', code)
        return value
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(key)
        return parse_duration(value)
    except ValueError:
        raise ApiError(400, f'invalid "{key}"', _TIME_CODES[key]) from None
