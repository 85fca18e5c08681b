"""limit_req_zone / limit_req and limit_conn_zone / limit_conn, parsed as nginx 1.22 parses
them (ngx_http_limit_req_module.c, ngx_http_limit_conn_module.c), with its error texts.

Zones are nginx shared memory zones: one namespace for both modules (`the shared memory zone
"x" is already declared for a different use`), declared in http, referenced from any level;
a reference to a zone never declared fails once the whole configuration is read, as nginx's
`zero size shared memory zone "x"` (which names no file: nginx notices it at cycle init).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hotdeploy.config import values as v
from hotdeploy.config.model import LimitConn, LimitReq, LimitSettings, LimitZone
from hotdeploy.config.reader import Node
from hotdeploy.config.variables import compile_template
from hotdeploy.errors import ConfigError

# nginx refuses zones smaller than 8 pages (`zone "..." is too small`); pages are 4k.
MIN_ZONE_SIZE = 8 * 4096
LOG_LEVELS = ("info", "notice", "warn", "error")
# nginx's ngx_http_limit_req: nodelay is NGX_MAX_INT_T_VALUE / 1000 requests of delay room.
NODELAY = (2**63 - 1) // 1000 * 1000
MAX_CONN = 65535


@dataclass(slots=True)
class ZoneRegistry:
    """Zones declared and referenced while reading `http` (order does not matter to nginx)."""

    zones: dict[str, LimitZone] = field(default_factory=dict)
    uses: dict[str, str] = field(default_factory=dict)  # name -> "req" | "conn"

    def use(self, node: Node, name: str, kind: str) -> None:
        if self.uses.setdefault(name, kind) != kind:
            raise node.error(f'the shared memory zone "{name}" is already declared for a '
                             'different use')

    def check_references(self) -> None:
        for name in self.uses:
            if name not in self.zones:
                raise ConfigError(f'zero size shared memory zone "{name}"')


def _zone_param(node: Node, param: str) -> tuple[str, int]:
    name, colon, size_text = param[5:].partition(":")
    if not colon:
        raise node.error(f'invalid zone size "{param}"')
    try:
        size = v.parse_size(size_text)
    except ValueError:
        raise node.error(f'invalid zone size "{param}"') from None
    if size < MIN_ZONE_SIZE:
        raise node.error(f'zone "{param}" is too small')
    return name, size


def _rate_param(node: Node, param: str) -> int:
    text = param[5:]
    scale = {"r/s": 1, "r/m": 60}.get(text[-3:])
    number = text[:-3]
    if scale is None or not number.isdigit() or int(number) <= 0:
        raise node.error(f'invalid rate "{param}"')
    return int(number) * 1000 // scale


def parse_zone(node: Node, registry: ZoneRegistry) -> None:
    """`limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m [sync];`,
    `limit_conn_zone KEY zone=NAME:SIZE;`"""
    kind = "req" if node.name == "limit_req_zone" else "conn"
    key = compile_template(node.args[0], node.source)
    name, size, rate, sync = "", 0, 1000, False
    for param in node.args[1:]:
        if param.startswith("zone="):
            name, size = _zone_param(node, param)
        elif kind == "req" and param.startswith("rate="):
            rate = _rate_param(node, param)
        elif kind == "req" and param == "sync":
            sync = True  # NGINX Plus: state shared with the cluster; one process has one
        else:
            raise node.error(f'invalid parameter "{param}"')
    if not name:
        raise node.error(f'"{node.name}" must have "zone" parameter')
    registry.use(node, name, kind)
    previous = registry.zones.get(name)
    if previous is not None:
        if previous.size != size:
            raise node.error(f'the size {size} of shared memory zone "{name}" conflicts with '
                             f'already declared size {previous.size}')
        raise node.error(f'{node.name} "{name}" is already bound to key "{previous.key.raw}"')
    registry.zones[name] = LimitZone(kind, name, key, size, rate if kind == "req" else 0, sync,
                                     node.source)


def parse_limit_req(node: Node) -> LimitReq:
    zone, burst, delay, nodelay = "", 0, 0, False
    for param in node.args:
        if param.startswith("zone="):
            zone = param[5:]
        elif param.startswith("burst="):
            text = param[6:]
            if not text.isdigit() or int(text) <= 0:
                raise node.error(f'invalid burst value "{param}"')
            burst = int(text)
        elif param.startswith("delay="):
            text = param[6:]
            if not text.isdigit() or int(text) <= 0:
                raise node.error(f'invalid delay value "{param}"')
            delay = int(text)
        elif param == "nodelay":
            nodelay = True
        else:
            raise node.error(f'invalid parameter "{param}"')
    if not zone:
        raise node.error(f'"{node.name}" must have "zone" parameter')
    return LimitReq(zone, burst * 1000, NODELAY if nodelay else delay * 1000)


def parse_limit_conn(node: Node) -> LimitConn:
    zone, count = node.args
    if not count.isdigit() or int(count) <= 0:
        raise node.error(f'invalid number of connections "{count}"')
    if int(count) > MAX_CONN:
        raise node.error(f"connection limit must be less {MAX_CONN + 1}")
    return LimitConn(zone, int(count))


def _status(node: Node) -> int:
    code = v.number(node)
    if not 400 <= code <= 599:
        raise node.error("value must be between 400 and 599")
    return code


def _log_level(node: Node) -> str:
    if node.args[0] not in LOG_LEVELS:
        raise node.error(f'invalid value "{node.args[0]}"')
    return node.args[0]


def apply(node: Node, level: v.Level, registry: ZoneRegistry) -> None:
    """Record one limit directive of a level (the caller checked the name is one of them)."""
    name = node.name
    if name in ("limit_req_zone", "limit_conn_zone"):
        parse_zone(node, registry)
    elif name in ("limit_req", "limit_conn"):
        limit = parse_limit_req(node) if name == "limit_req" else parse_limit_conn(node)
        kind = "req" if name == "limit_req" else "conn"
        registry.use(node, limit.zone, kind)
        key = f"limits.{kind}s"
        if any(prior.zone == limit.zone for prior in level.lists.get(key, ())):
            raise v.duplicate_error(node)
        level.append(key, limit)
    elif name.endswith("_status"):
        level.set(node, f"limits.{name[6:]}", _status(node))
    elif name.endswith("_log_level"):
        level.set(node, f"limits.{name[6:]}", _log_level(node))
    else:  # limit_req_dry_run, limit_conn_dry_run
        level.set(node, f"limits.{name[6:]}", v.flag(node))


DIRECTIVE_NAMES = frozenset({
    "limit_req_zone", "limit_req", "limit_req_status", "limit_req_log_level",
    "limit_req_dry_run", "limit_conn_zone", "limit_conn", "limit_conn_status",
    "limit_conn_log_level", "limit_conn_dry_run",
})


def merge(parent: LimitSettings, level: v.Level) -> LimitSettings:
    """nginx's merge: the limit arrays come from the parent only when this level has none;
    status, log level and dry run field by field."""
    values: dict[str, object] = {k[7:]: val for k, val in level.scalars.items()
                                 if k.startswith("limits.")}
    for key in ("reqs", "conns"):
        if f"limits.{key}" in level.lists:
            values[key] = tuple(level.lists[f"limits.{key}"])
    if not values:
        return parent
    return dataclasses.replace(parent, **values)  # type: ignore[arg-type]
