"""How client connections end: lingering_close / lingering_time / lingering_timeout,
reset_timedout_connection, and how request paths are read: merge_slashes
(ngx_http_core_module; defaults from nginx's documentation)."""

from __future__ import annotations

from hotdeploy.config import values as v
from hotdeploy.config.reader import Node

LINGERING_CLOSE_VALUES = ("off", "on", "always")


def _lingering_close(node: Node, level: v.Level) -> None:
    value = node.args[0]
    if value not in LINGERING_CLOSE_VALUES:
        raise node.error(f'invalid value "{value}"')
    level.set(node, "lingering_close", value)


def apply(node: Node, level: v.Level) -> None:
    name = node.name
    if name == "lingering_close":
        _lingering_close(node, level)
    elif name in ("lingering_time", "lingering_timeout"):
        level.set(node, name, v.seconds(node))
    elif name == "reset_timedout_connection":
        level.set(node, name, v.flag(node))
    else:  # merge_slashes: a server-level setting (the default server's, as nginx reads it)
        level.set(node, "srv.merge_slashes", v.flag(node))


DIRECTIVE_NAMES = frozenset({"lingering_close", "lingering_time", "lingering_timeout",
                             "reset_timedout_connection", "merge_slashes"})
