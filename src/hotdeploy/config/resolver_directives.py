"""`resolver` and `resolver_timeout` (ngx_http_core_module): the DNS servers that resolve the
host of a `proxy_pass` with variables at request time. The values go into the inherited
server dict (key prefix `srv.`), read back by config/http.py into ProxyPass.resolver."""

from __future__ import annotations

from typing import Any

from hotdeploy.config import values as v
from hotdeploy.config.addresses import is_ip, split_host_port, valid_port
from hotdeploy.config.model import ResolverConfig
from hotdeploy.config.reader import Node
from hotdeploy.config.resolver import resolve
from hotdeploy.units import parse_time

DNS_PORT = 53


def _addresses(node: Node, word: str) -> list[tuple[str, int]]:
    try:
        host, port_text = split_host_port(word)
    except ValueError:
        raise node.error(f'invalid host in resolver "{word}"') from None
    port = DNS_PORT if port_text is None else valid_port(port_text)
    if not host or port is None:
        raise node.error(f'invalid port in resolver "{word}"' if host
                         else f'invalid host in resolver "{word}"')
    if is_ip(host):
        return [(host, port)]
    try:  # nginx resolves a name written here once, when it reads the configuration
        return [(addr, port) for addr in resolve(host, port)]
    except OSError:
        raise node.error(f'host not found in resolver "{word}"') from None


def parse_resolver(node: Node) -> ResolverConfig:
    servers: list[tuple[str, int]] = []
    valid: float | None = None
    ipv4 = ipv6 = True
    for word in node.args:
        key, eq, value = word.partition("=")
        if eq and key == "valid":
            try:
                valid = parse_time(value)
            except ValueError:
                raise node.error(f"invalid parameter: {word}") from None
        elif eq and key in ("ipv4", "ipv6"):  # nginx 1.23.1+ (ipv4=); 1.22 knows ipv6= only
            if value not in ("on", "off"):
                raise node.error(f"invalid parameter: {word}")
            if key == "ipv4":
                ipv4 = value == "on"
            else:
                ipv6 = value == "on"
        else:
            servers.extend(_addresses(node, word))
    if not ipv4 and not ipv6:
        raise node.error('"ipv4" and "ipv6" cannot both be "off"')
    return ResolverConfig(servers=tuple(servers), valid=valid, ipv4=ipv4, ipv6=ipv6)


def _resolver(node: Node, level: v.Level, env: Any) -> None:
    level.set(node, "srv.resolver", parse_resolver(node))


def _timeout(node: Node, level: v.Level, env: Any) -> None:
    level.set(node, "srv.resolver_timeout", v.seconds(node))


HANDLERS = {"resolver": _resolver, "resolver_timeout": _timeout}
