"""`upstream NAME { ... }` blocks (ngx_http_upstream_module, NGINX Plus `state`, and the
hotdeploy extension `backup_mode`)."""

from __future__ import annotations

import os
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config import addresses as a
from hotdeploy.config import resolver
from hotdeploy.config import values as v
from hotdeploy.config.directives import UPSTREAM
from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.config.reader import Node, ReadState, parse_text, read_text
from hotdeploy.config.settings import Env
from hotdeploy.config.variables import compile_template
from hotdeploy.errors import ConfigError

# Methods whose peers are chosen by key or at random: nginx drops the BACKUP flag for them
# ("balancing method does not support parameter "backup""); NGINX Plus likewise refuses
# slow_start with them.
_NO_BACKUP_METHODS = frozenset({"ip_hash", "hash", "random"})
_MIN_ZONE_SIZE = 8 * 4096  # nginx: a zone is at least 8 pages ("zone "x" is too small")


def _server_params(node: Node, method: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for param in node.args[1:]:
        key, eq, value = param.partition("=")
        if eq and key == "weight":
            out["weight"] = v.param_number(node, param, value, minimum=1)
        elif eq and key == "max_fails":
            out["max_fails"] = v.param_number(node, param, value)
        elif eq and key == "max_conns":
            out["max_conns"] = v.param_number(node, param, value)
        elif eq and key == "fail_timeout":
            out["fail_timeout"] = v.param_seconds(node, param, value)
        elif eq and key == "slow_start":
            out["slow_start"] = v.param_seconds(node, param, value)
        elif param == "backup":
            out["backup"] = True
        elif param == "down":
            out["down"] = True
        else:
            raise node.error(f'invalid parameter "{param}"')
        if method in _NO_BACKUP_METHODS and key in ("backup", "slow_start"):
            raise node.error(f'balancing method does not support parameter "{param}"')
    return out


def parse_server(node: Node, method: str = "round_robin") -> list[ServerSpec]:
    """One upstream `server` line: one ServerSpec per resolved address (`server 127.0.0.1`
    means port 80)."""
    raw = node.args[0]
    if raw.startswith("unix:"):
        raise node.error(f'unix domain sockets are not supported in upstream "{raw}"')
    if "/" in raw:
        raise node.error(f'invalid host in upstream "{raw}"')
    try:
        host, port_text = a.split_host_port(raw)
    except ValueError:
        raise node.error(f'invalid host in upstream "{raw}"') from None
    port = d.DEFAULT_UPSTREAM_PORT if port_text is None else a.valid_port(port_text)
    if port is None:
        raise node.error(f'invalid port in upstream "{raw}"')
    if not host:
        raise node.error(f'no host in upstream "{raw}"')
    params = _server_params(node, method)
    try:
        addrs = resolver.resolve(host, port)
    except OSError:
        raise node.error(f'host not found in upstream "{raw}"') from None
    return [ServerSpec(name=raw, host=addr, port=port, source=node.source, **params)
            for addr in addrs]


def _zone(node: Node) -> str:
    if len(node.args) == 2:
        try:
            size = v.parse_size(node.args[1])
        except ValueError:
            raise node.error(f'invalid zone size "{node.args[1]}"') from None
        if size < _MIN_ZONE_SIZE:
            raise node.error(f'zone "{node.args[0]}" is too small')
    return node.args[0]


def _method(node: Node, fields: dict[str, Any], servers: list[ServerSpec]) -> None:
    name = node.name
    if name in _NO_BACKUP_METHODS:
        for spec in servers:
            if spec.backup:
                raise node.error('balancing method does not support parameter "backup"')
            if spec.slow_start:
                raise node.error('balancing method does not support parameter "slow_start"')
    if name == "hash":
        if len(node.args) == 2 and node.args[1] != "consistent":
            raise node.error(f'invalid parameter "{node.args[1]}"')
        fields["hash_key"] = compile_template(node.args[0], node.source)
        fields["hash_consistent"] = len(node.args) == 2
    elif name == "random":
        if node.args and node.args[0] != "two":
            raise node.error(f'invalid parameter "{node.args[0]}"')
        if len(node.args) == 2 and node.args[1] != "least_conn":
            raise node.error(f'invalid parameter "{node.args[1]}"')
        fields["random_two"] = bool(node.args)
    fields["method"] = name


def _keepalive(node: Node) -> int:
    value = node.args[0]
    if not value.isdigit() or int(value) == 0:
        raise node.error(f'invalid value "{value}" in "keepalive" directive')
    return int(value)


def _backup_mode(node: Node) -> str:
    if node.args[0] not in ("balanced", "ordered"):
        raise node.error(f'invalid value "{node.args[0]}" in "backup_mode" directive')
    return node.args[0]


_SCALARS = {
    "zone": ("zone", _zone),
    "keepalive": ("keepalive", _keepalive),
    "keepalive_requests": ("keepalive_requests", v.number),
    "keepalive_time": ("keepalive_time", v.seconds),
    "keepalive_timeout": ("keepalive_timeout", v.seconds),
    "backup_mode": ("backup_mode", _backup_mode),
}


def _state_servers(node: Node, path: str, method: str, state: ReadState) -> list[ServerSpec]:
    """NGINX Plus keeps the group's servers in the state file, as `server ...;` lines."""
    if not os.path.exists(path):
        return []  # created on the first change made through the API
    text = read_text(path, node)
    specs: list[ServerSpec] = []
    for line in parse_text(text, path, ReadState(state.conf_prefix), UPSTREAM):
        if line.name != "server":
            raise line.error(f'"{line.name}" directive is not allowed here')
        specs.extend(parse_server(line, method))
    return specs


def parse_upstream(node: Node, env: Env, state: ReadState) -> UpstreamConfig:
    assert node.children is not None
    fields: dict[str, Any] = {}
    servers: list[ServerSpec] = []
    server_nodes: list[Node] = []
    state_node: Node | None = None
    for child in node.children:
        if child.name == "server":
            servers.extend(parse_server(child, fields.get("method", "round_robin")))
            server_nodes.append(child)
        elif child.name in ("least_conn", "ip_hash", "hash", "random"):
            # nginx only warns "load balancing method redefined"; the last one wins.
            _method(child, fields, servers)
        elif child.name == "state":
            if state_node is not None:
                raise v.duplicate_error(child)
            state_node = child
        else:
            key, convert = _SCALARS[child.name]
            if key in fields:
                raise v.duplicate_error(child)
            fields[key] = convert(child)
    if state_node is not None:
        # NGINX Plus: "the state directive cannot be used along with the server directive".
        if server_nodes:
            raise server_nodes[0].error('"server" directive is not allowed with "state"')
        fields["state_file"] = env.path(state_node.args[0])
        servers = _state_servers(state_node, fields["state_file"], fields.get("method", ""),
                                 state)
    return UpstreamConfig(name=node.args[0], servers=tuple(servers), source=node.source,
                          **fields)


def implicit_upstream(name: str, host: str, port: int, node: Node) -> UpstreamConfig:
    """`proxy_pass http://host:port` without an upstream block: nginx makes a group of the
    host's addresses with default parameters."""
    try:
        addrs = resolver.resolve(host, port)
    except OSError:
        raise ConfigError(f'host not found in upstream "{name}"', node.file, node.line) from None
    specs = tuple(ServerSpec(name=name, host=addr, port=port, source=node.source)
                  for addr in addrs)
    return UpstreamConfig(name=a.key_text(host, port), servers=specs, source=node.source)
