"""`listen` (ngx_http_core_module) and nginx's checks across the servers of one http block."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hotdeploy import defaults as d
from hotdeploy.config import addresses as a
from hotdeploy.config import resolver
from hotdeploy.config.model import Listen
from hotdeploy.config.reader import Node

WILDCARD_V4 = "0.0.0.0"
WILDCARD_V6 = "::"


def default_listen() -> Listen:
    """A server without `listen` listens on *:80 as root and *:8000 otherwise (nginx docs)."""
    port = d.DEFAULT_LISTEN_PORT_ROOT if os.geteuid() == 0 else d.DEFAULT_LISTEN_PORT_USER
    return Listen(WILDCARD_V4, port)


def _addresses(node: Node) -> list[tuple[str, int]]:
    raw = node.args[0]
    where = f'"{raw}" of the "listen" directive'
    if raw.startswith("unix:"):
        raise node.error(f'unix domain sockets are not supported in {where}')
    if raw.isdigit():
        port = a.valid_port(raw)
        if port is None:
            raise node.error(f"invalid port in {where}")
        return [(WILDCARD_V4, port)]
    try:
        host, port_text = a.split_host_port(raw)
    except ValueError:
        raise node.error(f"invalid host in {where}") from None
    port = d.DEFAULT_LISTEN_PORT_ROOT if port_text is None else a.valid_port(port_text)
    if port is None:
        raise node.error(f"invalid port in {where}")
    if host in ("*", ""):
        return [(WILDCARD_V4, port)]
    try:
        return [(addr, port) for addr in resolver.resolve(host, port)]
    except OSError:
        raise node.error(f"host not found in {where}") from None


def parse_listen(node: Node) -> tuple[list[Listen], bool]:
    """The sockets one `listen` line asks for, and whether it sets socket options."""
    default_server = False
    backlog = d.DEFAULT_BACKLOG
    ipv6only = True
    has_options = False
    for param in node.args[1:]:
        key, _, value = param.partition("=")
        if param in ("default_server", "default"):
            default_server = True
        elif key == "backlog":
            if not value.lstrip("-").isdigit() or int(value) == 0:
                raise node.error(f'invalid backlog "{param}"')
            backlog, has_options = int(value), True
        elif key == "ipv6only":
            if value not in ("on", "off"):
                raise node.error(f'invalid ipv6only flags "{value}"')
            ipv6only, has_options = value == "on", True
        elif param == "ssl":
            # nginx built without TLS says `the "ssl" parameter requires
            # ngx_http_ssl_module`; hotdeploy has no TLS yet.
            raise node.error('the "ssl" parameter is not supported by hotdeploy (no TLS)')
        else:
            raise node.error(f'invalid parameter "{param}"')
    listens = [
        Listen(host, port, default_server, backlog, ipv6only, node.source)
        for host, port in _addresses(node)
    ]
    return listens, has_options


@dataclass(slots=True)
class _Entry:
    server: int
    default_server: bool
    has_options: bool


@dataclass(slots=True)
class ListenRegistry:
    """Every addr:port of an http block with the servers on it (ngx_http_add_listen checks)."""

    entries: dict[tuple[str, int], list[_Entry]] = field(default_factory=dict)

    def add(self, node: Node, server: int, listen: Listen, has_options: bool) -> None:
        text = a.key_text(listen.host, listen.port)
        entries = self.entries.setdefault(listen.key, [])
        for entry in entries:
            if entry.server == server:
                raise node.error(f"a duplicate listen {text}")
            if listen.default_server and entry.default_server:
                raise node.error(f"a duplicate default server for {text}")
            if has_options and entry.has_options:
                raise node.error(f"duplicate listen options for {text}")
        entries.append(_Entry(server, listen.default_server, has_options))
