"""Directives for serving files (ngx_http_core_module, index, autoindex, charset, gzip) and the
settings nginx accepts that have no observable effect in hotdeploy, with nginx's checks and
messages; `merge_static` applies nginx's inheritance for them.

Inherited field by field: everything but `alias` and `try_files`, which nginx keeps per
location (a server-level `try_files` serves only requests that match no location). `index`,
`types` and `gzip_types` are arrays: a level that writes them replaces the parent's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hotdeploy.config import values as v
from hotdeploy.config.model import StaticSettings
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.variables import compile_template

GZIP_PROXIED_VALUES = frozenset({"off", "expired", "no-cache", "no-store", "private",
                                 "no_last_modified", "no_etag", "auth", "any"})
_IMS_VALUES = ("off", "exact", "before")
_AUTOINDEX_FORMATS = ("html", "xml", "json", "jsonp")
_GZIP_STATIC_VALUES = ("on", "off", "always")
_TOKENS_VALUES = ("on", "off", "build")

Handler = Callable[[Node, v.Level, Any], None]


def _flag(key: str) -> Handler:
    def handle(node: Node, level: v.Level, env: Any) -> None:
        level.set(node, key, v.flag(node))

    return handle


def _enum(key: str, allowed: tuple[str, ...]) -> Handler:
    def handle(node: Node, level: v.Level, env: Any) -> None:
        if node.args[0] not in allowed:  # ngx_conf_set_enum_slot
            raise node.error(f'invalid value "{node.args[0]}"')
        level.set(node, key, node.args[0])

    return handle


def _path(node: Node, level: v.Level, env: Any) -> None:
    # `root` and `alias` are one setting in nginx: the second of either is a duplicate.
    other = "alias" if node.name == "root" else "root"
    if "static.root_kind" in level.scalars:
        if level.scalars["static.root_kind"] == node.name:
            raise v.duplicate_error(node)
        raise node.error(f'"{node.name}" directive is duplicate, "{other}" directive was '
                         'specified earlier')
    level.scalars["static.root_kind"] = node.name
    value = node.args[0]
    if node.name == "root" and value.endswith("/") and len(value) > 1:
        value = value.rstrip("/") or "/"  # nginx drops the trailing slash of a root
    level.scalars[f"static.{node.name}"] = compile_template(value, node.source)


def _index(node: Node, level: v.Level, env: Any) -> None:
    for name in node.args:
        if not name:
            raise node.error(f'index "" in "{node.name}" directive is invalid')
        level.append("static.index", compile_template(name, node.source))


def _try_files(node: Node, level: v.Level, env: Any) -> None:
    last = node.args[-1]
    # ngx_http_core_try_files: a number after "=" (444 closes the connection).
    if last.startswith("=") and not last[1:].isdigit():
        raise node.error(f'invalid code "{last}"')
    level.set(node, "static.try_files",
              tuple(compile_template(arg, node.source) for arg in node.args))


def _default_type(node: Node, level: v.Level, env: Any) -> None:
    level.set(node, "static.default_type", node.args[0])


def _types(node: Node, level: v.Level, env: Any) -> None:
    assert node.children is not None
    level.touch("static.types")  # an empty block still replaces the inherited types
    for entry in node.children:
        content_type = entry.name
        for ext in entry.args:
            # nginx warns about a duplicate extension and keeps the last type.
            level.append("static.types", (ext.lower(), content_type))


def _charset(node: Node, level: v.Level, env: Any) -> None:
    value = node.args[0]
    level.set(node, "static.charset", None if value == "off" else value)


def _type_list(key: str) -> Handler:
    def handle(node: Node, level: v.Level, env: Any) -> None:
        level.set(node, key, frozenset(arg.lower() for arg in node.args))

    return handle


def _gzip_comp_level(node: Node, level: v.Level, env: Any) -> None:
    value = v.number(node)
    if not 1 <= value <= 9:
        raise node.error(f'"{node.name}" directive value must be between 1 and 9')
    level.set(node, "static.gzip_comp_level", value)


def _gzip_proxied(node: Node, level: v.Level, env: Any) -> None:
    for arg in node.args:
        if arg not in GZIP_PROXIED_VALUES:
            raise node.error(f'invalid value "{arg}"')
    level.set(node, "static.gzip_proxied", frozenset(node.args))


def _gzip_disable(node: Node, level: v.Level, env: Any) -> None:
    msie6 = "msie6" in node.args
    patterns = tuple(compile_regex(node, arg, caseless=True) for arg in node.args
                     if arg != "msie6")
    level.set(node, "static.gzip_disable", patterns)
    level.scalars["static.gzip_disable_msie6"] = msie6


def _no_effect_number(node: Node, level: v.Level, env: Any) -> None:
    level.set(node, f"static.{node.name}", v.size(node))


HANDLERS: dict[str, Handler] = {
    "root": _path,
    "alias": _path,
    "index": _index,
    "autoindex": _flag("static.autoindex"),
    "autoindex_exact_size": _flag("static.autoindex_exact_size"),
    "autoindex_format": _enum("static.autoindex_format", _AUTOINDEX_FORMATS),
    "autoindex_localtime": _flag("static.autoindex_localtime"),
    "try_files": _try_files,
    "types": _types,
    "default_type": _default_type,
    "etag": _flag("static.etag"),
    "if_modified_since": _enum("static.if_modified_since", _IMS_VALUES),
    "server_tokens": _enum("static.server_tokens", _TOKENS_VALUES),
    "charset": _charset,
    "charset_types": _type_list("static.charset_types"),
    "absolute_redirect": _flag("static.absolute_redirect"),
    "port_in_redirect": _flag("static.port_in_redirect"),
    "server_name_in_redirect": _flag("static.server_name_in_redirect"),
    "log_not_found": _flag("static.log_not_found"),
    "gzip": _flag("static.gzip_enabled"),
    "gzip_types": _type_list("static.gzip_types"),
    "gzip_min_length": lambda node, level, env: level.set(node, "static.gzip_min_length",
                                                          v.size(node)),
    "gzip_comp_level": _gzip_comp_level,
    "gzip_vary": _flag("static.gzip_vary"),
    "gzip_proxied": _gzip_proxied,
    "gzip_disable": _gzip_disable,
    "gzip_http_version": _enum("static.gzip_http_version", ("1.0", "1.1")),
    "gzip_static": _enum("static.gzip_static", _GZIP_STATIC_VALUES),
    "max_ranges": lambda node, level, env: level.set(node, "static.max_ranges",
                                                     v.number(node)),
    # Accepted, no observable effect (docs/configuration.md says why for each).
    "sendfile": _flag("static.sendfile"),
    "tcp_nopush": _flag("static.tcp_nopush"),
    "types_hash_max_size": _no_effect_number,
    "types_hash_bucket_size": _no_effect_number,
}

_PLAIN_FIELDS = ("default_type", "etag", "if_modified_since", "charset", "charset_types",
                 "absolute_redirect", "port_in_redirect", "server_name_in_redirect",
                 "log_not_found", "server_tokens", "autoindex", "autoindex_exact_size",
                 "autoindex_format", "autoindex_localtime", "gzip_static",
                 "max_ranges")
_GZIP_FIELDS = {"gzip_enabled": "enabled", "gzip_min_length": "min_length",
                "gzip_comp_level": "comp_level", "gzip_vary": "vary",
                "gzip_proxied": "proxied", "gzip_disable": "disable",
                "gzip_http_version": "http_version",
                "gzip_disable_msie6": "disable_msie6"}


def merge_static(parent: StaticSettings, level: v.Level) -> StaticSettings:
    """This level's static settings over its parent's (see the module doc)."""
    s = level.scalars
    changes: dict[str, Any] = {name: s[f"static.{name}"] for name in _PLAIN_FIELDS
                               if f"static.{name}" in s}
    kind = s.get("static.root_kind")
    if kind == "root":
        changes["root"] = s["static.root"]
    changes["alias"] = s["static.alias"] if kind == "alias" else None
    changes["try_files"] = s.get("static.try_files", ())
    if "static.index" in level.lists:
        changes["index"] = tuple(level.lists["static.index"])
    if "static.types" in level.lists:
        changes["types"] = dict(level.lists["static.types"])
    gzip_changes = {field: s[f"static.{key}"] for key, field in _GZIP_FIELDS.items()
                    if f"static.{key}" in s}
    if "static.gzip_types" in s:
        # nginx always compresses text/html once gzip is on, whatever gzip_types lists.
        gzip_changes["types"] = s["static.gzip_types"] | {"text/html"}
    if gzip_changes:
        changes["gzip"] = dataclasses.replace(parent.gzip, **gzip_changes)
    return dataclasses.replace(parent, **changes)
