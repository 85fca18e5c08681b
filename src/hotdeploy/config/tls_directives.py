"""The ssl_* and proxy_ssl_* directives, recorded in a level for `config.tls` to build
its settings from once merged (see config/tls.py for how they inherit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotdeploy.config import values as v
from hotdeploy.config.reader import Node
from hotdeploy.config.tls import PROTOCOL_NAMES, SessionCache

_P = "srv."  # the key prefix that settings.merge inherits down to locations (config/tls.py)

Handler = Callable[[Node, v.Level, Any], None]


def _no_variables(node: Node) -> str:
    value = node.args[0]
    if "$" in value:
        raise node.error(f'variables in "{node.name}" are not supported by hotdeploy')
    return value


def _file_list(key: str) -> Handler:
    # ssl_certificate / ssl_certificate_key: several per server (RSA + ECDSA); an array
    # inherited as a whole. Paths are kept as written: `hotdeploy.tls.contexts` resolves them
    # against the configuration prefix (nginx's ngx_conf_full_name(.., 1): the directory of
    # the main file) when it loads them.
    def handle(node: Node, level: v.Level, env: Any) -> None:
        path = _no_variables(node)
        entries = level.scalars.get(_P + key, ())
        level.scalars[_P + key] = (*entries, (path, node.source.file, node.source.line))
    return handle


def _protocols(key: str) -> Handler:
    def handle(node: Node, level: v.Level, env: Any) -> None:
        for arg in node.args:
            if arg not in PROTOCOL_NAMES:
                raise node.error(f'invalid value "{arg}"')
        level.set(node, _P + key, tuple(node.args))
    return handle


def _session_cache(node: Node, level: v.Level, env: Any) -> None:
    mode, size = "on", 0
    for arg in node.args:
        if arg in ("off", "none"):
            if len(node.args) > 1:
                raise node.error(f'invalid session cache "{arg}"')
            mode = arg
        elif arg == "builtin" or arg.startswith("builtin:"):
            count = arg[8:]
            if count and not count.isdigit():
                raise node.error(f'invalid session cache "{arg}"')
            size = int(count) if count else 0
        elif arg.startswith("shared:"):
            name, sep, zone = arg[7:].rpartition(":")
            if not sep or not name:
                raise node.error(f'invalid session cache "{arg}"')
            try:
                zone_bytes = v.parse_size(zone)
            except ValueError:
                raise node.error(f'invalid session cache "{arg}"') from None
            if zone_bytes < 8 * 4096:  # nginx: a zone of at least 8 pages
                raise node.error(f'session cache "{arg}" is too small')
        else:
            raise node.error(f'invalid session cache "{arg}"')
    level.set(node, _P + "ssl_session_cache", SessionCache(mode, size))


def _scalar(key: str, convert: Callable[[Node], Any]) -> Handler:
    def handle(node: Node, level: v.Level, env: Any) -> None:
        level.set(node, _P + key, convert(node))
    return handle


def _trusted(node: Node, level: v.Level, env: Any) -> None:
    path = _no_variables(node)
    level.set(node, _P + "proxy_ssl_trusted_certificate",
              (path, node.source.file, node.source.line))


def _verify_depth(node: Node, level: v.Level, env: Any) -> None:
    level.set(node, _P + "proxy_ssl_verify_depth", v.number(node))


HANDLERS: dict[str, Handler] = {
    "ssl_certificate": _file_list("ssl_certificate"),
    "ssl_certificate_key": _file_list("ssl_certificate_key"),
    "ssl_protocols": _protocols("ssl_protocols"),
    "ssl_ciphers": _scalar("ssl_ciphers", _no_variables),
    "ssl_prefer_server_ciphers": _scalar("ssl_prefer_server_ciphers", v.flag),
    "ssl_session_cache": _session_cache,
    "ssl_session_timeout": _scalar("ssl_session_timeout", v.seconds),
    "ssl_session_tickets": _scalar("ssl_session_tickets", v.flag),
    "proxy_ssl_server_name": _scalar("proxy_ssl_server_name", v.flag),
    "proxy_ssl_name": _scalar("proxy_ssl_name", _no_variables),
    "proxy_ssl_verify": _scalar("proxy_ssl_verify", v.flag),
    "proxy_ssl_verify_depth": _verify_depth,
    "proxy_ssl_trusted_certificate": _trusted,
    "proxy_ssl_protocols": _protocols("proxy_ssl_protocols"),
    "proxy_ssl_ciphers": _scalar("proxy_ssl_ciphers", _no_variables),
    "proxy_ssl_session_reuse": _scalar("proxy_ssl_session_reuse", v.flag),
}

SERVER_DIRECTIVES = tuple(name for name in HANDLERS if name.startswith("ssl_"))
PROXY_DIRECTIVES = tuple(name for name in HANDLERS if name.startswith("proxy_ssl_"))


