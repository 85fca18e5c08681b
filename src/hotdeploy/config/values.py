"""Typed directive arguments, failing with the exact text nginx's slot setters use.

nginx's generic setters return a short reason that ngx_conf_handler prints after the
directive name (`"proxy_read_timeout" directive invalid value`); custom handlers print
their own (`invalid value "maybe" in "daemon" directive, it must be "on" or "off"`).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from hotdeploy.config.model import IPNetwork
from hotdeploy.config.reader import Node
from hotdeploy.errors import ConfigError
from hotdeploy.units import parse_size, parse_time


def flag(node: Node, arg: str | None = None) -> bool:
    value = node.args[0] if arg is None else arg
    if value.lower() == "on":
        return True
    if value.lower() == "off":
        return False
    raise node.error(
        f'invalid value "{value}" in "{node.name}" directive, it must be "on" or "off"'
    )


def seconds(node: Node, arg: str | None = None) -> float:
    try:
        return parse_time(node.args[0] if arg is None else arg)
    except ValueError:
        raise node.error(f'"{node.name}" directive invalid value') from None


def size(node: Node, arg: str | None = None) -> int:
    try:
        return parse_size(node.args[0] if arg is None else arg)
    except ValueError:
        raise node.error(f'"{node.name}" directive invalid value') from None


def number(node: Node, arg: str | None = None) -> int:
    value = node.args[0] if arg is None else arg
    if not value.isdigit():
        raise node.error(f'"{node.name}" directive invalid number')
    return int(value)


def param_number(node: Node, param: str, value: str, minimum: int = 0) -> int:
    """`name=N` parameters: nginx reports the whole parameter (`invalid parameter "weight=0"`)."""
    if not value.isdigit() or int(value) < minimum:
        raise node.error(f'invalid parameter "{param}"')
    return int(value)


def param_seconds(node: Node, param: str, value: str) -> float:
    try:
        return parse_time(value)
    except ValueError:
        raise node.error(f'invalid parameter "{param}"') from None


def network(node: Node, value: str, *, resolve_label: str | None = None) -> IPNetwork:
    """An address or CIDR (`allow`, `deny`, `set_real_ip_from`); low host bits are masked
    as nginx does (it only warns "low address bits ... are meaningless")."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        pass
    if resolve_label is not None and "/" not in value:
        try:
            info = socket.getaddrinfo(value, None, type=socket.SOCK_STREAM)
            return ipaddress.ip_network(info[0][4][0])
        except (OSError, IndexError, ValueError):
            raise node.error(f'host not found in {resolve_label} "{value}"') from None
    raise node.error(f'invalid parameter "{value}"')


class Level:
    """The directives written at one level (http, server or location), not yet merged.

    `set` enforces nginx's `"x" directive is duplicate`; list directives (`add_header`,
    `proxy_set_header`, `access_log`, ...) accumulate with `append` and replace the parent's
    list as a whole, which is how nginx inherits arrays ("only if there are none here").
    """

    __slots__ = ("lists", "scalars")

    def __init__(self) -> None:
        self.scalars: dict[str, Any] = {}
        self.lists: dict[str, list[Any]] = {}

    def set(self, node: Node, key: str, value: Any) -> None:
        if key in self.scalars:
            raise node.error(f'"{node.name}" directive is duplicate')
        self.scalars[key] = value

    def append(self, key: str, value: Any) -> None:
        self.lists.setdefault(key, []).append(value)

    def touch(self, key: str) -> None:
        """Mark a list as present (e.g. `access_log off` makes an empty, non-inherited list)."""
        self.lists.setdefault(key, [])


def duplicate_error(node: Node) -> ConfigError:
    return node.error(f'"{node.name}" directive is duplicate')
