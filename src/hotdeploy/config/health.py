"""NGINX Plus active health checks: `match NAME { ... }` blocks and `health_check`
parameters (ngx_http_upstream_hc_module), plus `api` (ngx_http_api_module)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotdeploy.config import addresses as a
from hotdeploy.config import values as v
from hotdeploy.config.model import BodyTest, HeaderTest, MatchConfig, StatusTest
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex

_HEADER_OPS = frozenset({"=", "!=", "~", "!~"})


def _status(node: Node) -> StatusTest:
    args = node.args
    negate = args[0] == "!"
    if negate:
        args = args[1:]
    if not args:
        raise node.error(f'invalid number of arguments in "{node.name}" directive')
    ranges: list[tuple[int, int]] = []
    for arg in args:
        lo, _, hi = arg.partition("-")
        hi = hi or lo
        if not (lo.isdigit() and hi.isdigit()) or not 100 <= int(lo) <= int(hi) <= 599:
            raise node.error(f'invalid status "{arg}"')
        ranges.append((int(lo), int(hi)))
    return StatusTest(negate, tuple(ranges))


def _header(node: Node) -> HeaderTest:
    args = node.args
    if len(args) == 1:
        return HeaderTest(args[0].lower(), "present")
    if len(args) == 2:
        if args[0] != "!":
            raise node.error(f'invalid parameter "{args[0]}"')
        return HeaderTest(args[1].lower(), "absent")
    name, op, value = args
    if op not in _HEADER_OPS:
        raise node.error(f'invalid parameter "{op}"')
    pattern = compile_regex(node, value) if "~" in op else None
    return HeaderTest(name.lower(), op, value, pattern)  # type: ignore[arg-type]


def _body(node: Node) -> BodyTest:
    op, value = node.args
    if op not in ("~", "!~"):
        raise node.error(f'invalid parameter "{op}"')
    return BodyTest(op == "!~", compile_regex(node, value))


def parse_match(node: Node) -> MatchConfig:
    assert node.children is not None
    status: list[StatusTest] = []
    headers: list[HeaderTest] = []
    body: list[BodyTest] = []
    for child in node.children:
        if child.name == "status":
            status.append(_status(child))
        elif child.name == "header":
            headers.append(_header(child))
        else:
            body.append(_body(child))
    return MatchConfig(node.args[0], tuple(status), tuple(headers), tuple(body), node.source)


@dataclass(frozen=True, slots=True)
class HealthCheckDraft:
    """Parameters of one `health_check`; completed with the location's upstream, timeouts
    and Host header once the location is merged."""

    node: Node
    params: dict[str, Any]
    match_name: str | None


def parse_health_check(node: Node) -> HealthCheckDraft:
    params: dict[str, Any] = {}
    match_name: str | None = None
    for param in node.args:
        key, eq, value = param.partition("=")
        if eq and key in ("interval", "jitter"):
            params[key] = v.param_seconds(node, param, value)
            if key == "interval" and params[key] <= 0:
                raise node.error(f'invalid parameter "{param}"')
        elif eq and key in ("fails", "passes"):
            params[key] = v.param_number(node, param, value, minimum=1)
        elif eq and key == "uri":
            if not value.startswith("/"):
                raise node.error(f'invalid parameter "{param}"')
            params["uri"] = value
        elif eq and key == "port":
            port = a.valid_port(value)
            if port is None:
                raise node.error(f'invalid parameter "{param}"')
            params["port"] = port
        elif eq and key == "match":
            match_name = value
        elif param in ("mandatory", "persistent"):
            params[param] = True
        else:
            raise node.error(f'invalid parameter "{param}"')
    if params.get("persistent") and not params.get("mandatory"):
        raise node.error('"persistent" parameter requires "mandatory"')
    return HealthCheckDraft(node, params, match_name)


def parse_api(node: Node) -> bool:
    """`api;` (read-only) or `api write=on|off;`."""
    if not node.args:
        return False
    key, _, value = node.args[0].partition("=")
    if key != "write" or value not in ("on", "off"):
        raise node.error(f'invalid parameter "{node.args[0]}"')
    return value == "on"
