"""Directives valid in http, server and location, and nginx's inheritance between levels.

Scalars inherit field by field (a value written at a level wins, otherwise the parent's).
Arrays (`add_header`, `proxy_set_header`, `access_log`, `error_page`, `allow`/`deny`,
`set_real_ip_from`, `proxy_hide_header`, `proxy_pass_header`) are inherited from the
previous level only when the current level has none of them: nginx's merge rule
(`if (conf->x == NULL) conf->x = prev->x`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config import (
    connection_handling,
    limits,
    proxy_rewrites,
    resolver_directives,
    tls_directives,
)
from hotdeploy.config import values as v
from hotdeploy.config.model import (
    AccessLog,
    AccessRule,
    AddHeader,
    ErrorLog,
    ErrorPage,
    Expires,
    HttpSettings,
    LogFormat,
    ProxySettings,
    Template,
)
from hotdeploy.config.reader import Node
from hotdeploy.config.static import HANDLERS as STATIC_HANDLERS
from hotdeploy.config.static import merge_static
from hotdeploy.config.variables import compile_template
from hotdeploy.units import parse_time

NEXT_UPSTREAM_VALUES = frozenset(
    {"error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504",
     "http_403", "http_404", "http_429", "non_idempotent", "off"}
)
KEEPALIVE_DISABLE_VALUES = frozenset({"none", "msie6", "safari"})


@dataclass(slots=True)
class Env:
    """What handlers need beyond the directive: the prefix and the log formats seen so far."""

    prefix: str
    log_formats: dict[str, LogFormat]
    limits: limits.ZoneRegistry = dataclasses.field(default_factory=limits.ZoneRegistry)

    def path(self, raw: str) -> str:
        # pid, logs and state files resolve against the prefix (ngx_conf_full_name(.., 0)).
        return raw if os.path.isabs(raw) else os.path.join(self.prefix, raw)


Handler = Callable[[Node, v.Level, Env], None]


def _scalar(key: str, convert: Callable[[Node], Any]) -> Handler:
    def handle(node: Node, level: v.Level, env: Env) -> None:
        level.set(node, key, convert(node))

    return handle


def _keepalive_timeout(node: Node, level: v.Level, env: Env) -> None:
    level.set(node, "keepalive_timeout", v.seconds(node))
    if len(node.args) == 2:
        level.scalars["keepalive_header_timeout"] = v.seconds(node, node.args[1])


def _keepalive_disable(node: Node, level: v.Level, env: Env) -> None:
    for arg in node.args:
        if arg not in KEEPALIVE_DISABLE_VALUES:
            raise node.error(f'invalid value "{arg}"')
    chosen = tuple(a for a in node.args if a != "none")
    level.set(node, "keepalive_disable", chosen)


def _large_buffers(node: Node, level: v.Level, env: Env) -> None:
    count = v.number(node, node.args[0]) if node.args[0].isdigit() else -1
    buf = v.size(node, node.args[1])
    if count <= 0 or buf <= 0:
        raise node.error(f'"{node.name}" directive invalid value')
    level.set(node, "srv.large_client_header_buffers", (count, buf))


def _add_header(node: Node, level: v.Level, env: Env) -> None:
    always = False
    if len(node.args) == 3:
        if node.args[2] != "always":
            raise node.error(f'invalid parameter "{node.args[2]}"')
        always = True
    value = compile_template(node.args[1], node.source)
    level.append("add_headers", AddHeader(node.args[0], value, always))


def _error_page(node: Node, level: v.Level, env: Env) -> None:
    args = node.args
    uri = compile_template(args[-1], node.source)
    codes = args[:-1]
    response: int | None = None
    use_upstream = False
    if codes and codes[-1].startswith("="):
        override = codes[-1]
        codes = codes[:-1]
        if override == "=":
            use_upstream = True
        elif override[1:].isdigit():
            response = int(override[1:])
        else:
            raise node.error(f'invalid value "{override}"')
    if not codes:
        raise node.error(f'invalid number of arguments in "{node.name}" directive')
    for code in codes:
        # 499 is nginx's "client closed the request": never an error_page code.
        if not code.isdigit() or code == "499":
            raise node.error(f'invalid value "{code}"')
        if not 300 <= int(code) <= 599:
            raise node.error(f'value "{code}" must be between 300 and 599')
        level.append("error_pages", (int(code), ErrorPage(uri, response, use_upstream)))


ERROR_LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")


def error_log_target(node: Node, env: Env) -> ErrorLog:
    """One `error_log FILE [LEVEL];` line, in any context."""
    target = node.args[0]
    if target.startswith(("syslog:", "memory:")):
        raise node.error(f'error_log "{target}" is not supported by hotdeploy')
    level = d.DEFAULT_ERROR_LOG_LEVEL
    if len(node.args) == 2:
        level = node.args[1]
        if level not in ERROR_LOG_LEVELS:
            raise node.error(f'invalid log level "{level}"')
    path = target if target == "stderr" else env.path(target)
    return ErrorLog(path, level)


def _expires(node: Node, level: v.Level, env: Env) -> None:
    """ngx_http_headers_expires: [modified] [@|+|-]TIME, or epoch | max | off."""
    args = node.args
    if any("$" in arg for arg in args):
        raise node.error('"expires" with variables is not supported by hotdeploy')
    invalid = node.error('"expires" directive invalid value')
    kind, value = "access", args[-1]
    if len(args) == 2:
        if args[0] != "modified":
            raise invalid
        kind = "modified"
    elif value in ("epoch", "max", "off"):
        level.set(node, "expires", Expires(value))
        return
    sign = 1
    if value.startswith("@"):
        if kind == "modified":
            raise node.error('"expires" directive daily time cannot be used with "modified" '
                             "parameter")
        kind, value = "daily", value[1:]
    elif value[:1] in ("+", "-"):
        sign, value = (-1 if value[0] == "-" else 1), value[1:]
    try:
        seconds = parse_time(value)
    except ValueError:
        raise invalid from None
    if "ms" in value:  # nginx parses it as a time in seconds: no milliseconds
        raise invalid
    if kind == "daily" and seconds > 24 * 60 * 60:
        raise node.error('"expires" directive daily time value must be less than 24 hours')
    level.set(node, "expires", Expires(kind, sign * int(seconds)))


def _error_log(node: Node, level: v.Level, env: Env) -> None:
    # nginx: the error_log lines of http, a server or a location replace the inherited ones
    # for the requests there; the main context's serve everything else.
    level.append("error_logs", error_log_target(node, env))


def _access_log(node: Node, level: v.Level, env: Env) -> None:
    if node.args == ["off"]:
        level.touch("access_logs")  # an empty list here: nothing is inherited from above
        return
    path = node.args[0]
    if "$" in path or path.startswith("syslog:"):
        raise node.error(f'access_log path "{path}" is not supported (variables, syslog)')
    fmt_name = "combined"
    rest = node.args[1:]
    if rest and "=" not in rest[0]:
        fmt_name = rest[0]
        rest = rest[1:]
    fmt = env.log_formats.get(fmt_name)
    if fmt is None:
        raise node.error(f'unknown log format "{fmt_name}"')
    buffer, flush, condition = 0, 0.0, None
    for param in rest:
        key, _, value = param.partition("=")
        if key == "buffer":
            try:
                buffer = v.parse_size(value)
            except ValueError:
                raise node.error(f'invalid buffer size "{value}"') from None
        elif key == "flush":
            try:
                flush = v.parse_time(value)
            except ValueError:
                raise node.error(f'invalid flush time "{value}"') from None
        elif key == "if":  # nginx accepts an empty `if=`: nothing is ever logged then
            condition = compile_template(value, node.source)
        else:
            raise node.error(f'invalid parameter "{param}"')
    level.append("access_logs", AccessLog(env.path(path), fmt, buffer, flush, condition))


_OPEN_LOG_FILE_CACHE_PARAMS = ("max", "inactive", "min_uses", "valid")


def _open_log_file_cache(node: Node, level: v.Level, env: Env) -> None:
    """Accepted without effect: nginx caches descriptors of log files whose path has
    variables, and hotdeploy refuses such paths (every log file stays open anyway). The
    parameters are checked as nginx checks them."""
    if node.args == ["off"]:
        level.set(node, "ignored.open_log_file_cache", None)
        return
    seen = set()
    for param in node.args:
        key, eq, value = param.partition("=")
        if not eq or key not in _OPEN_LOG_FILE_CACHE_PARAMS or not value:
            raise node.error(f'invalid "{node.name}" parameter "{param}"')
        try:
            if key in ("max", "min_uses"):
                if not value.isdigit():
                    raise ValueError
            else:
                v.parse_time(value)
        except ValueError:
            raise node.error(f'invalid "{node.name}" parameter "{param}"') from None
        if key != "max" or int(value) > 0:  # nginx: max=0 is no max at all
            seen.add(key)
    if "max" not in seen:
        raise node.error(f'"{node.name}" must have "max" parameter')
    level.set(node, "ignored.open_log_file_cache", None)


def _access_rule(node: Node, level: v.Level, env: Env) -> None:
    allow = node.name == "allow"
    if node.args[0] == "all":
        level.append("access_rules", AccessRule(allow, None))
        return
    level.append("access_rules", AccessRule(allow, v.network(node, node.args[0])))


def _real_ip_from(node: Node, level: v.Level, env: Env) -> None:
    net = v.network(node, node.args[0], resolve_label="set_real_ip_from")
    level.append("set_real_ip_from", net)


def _real_ip_header(node: Node, level: v.Level, env: Env) -> None:
    if node.args[0].lower() == "proxy_protocol":
        raise node.error('invalid value "proxy_protocol" (the PROXY protocol is not supported)')
    level.set(node, "real_ip_header", node.args[0])


# --- proxy ---------------------------------------------------------------------------------


def _proxy_set_header(node: Node, level: v.Level, env: Env) -> None:
    value = compile_template(node.args[1], node.source)
    level.append("proxy.set_headers", (node.args[0], value))


def _proxy_http_version(node: Node, level: v.Level, env: Env) -> None:
    if node.args[0] not in ("1.0", "1.1"):
        raise node.error(f'invalid value "{node.args[0]}"')
    level.set(node, "proxy.http_version", node.args[0])


def _next_upstream(node: Node, level: v.Level, env: Env) -> None:
    for arg in node.args:
        if arg not in NEXT_UPSTREAM_VALUES:
            raise node.error(f'invalid value "{arg}"')
    # nginx: "off" anywhere in the list disables passing to the next server.
    chosen = frozenset() if "off" in node.args else frozenset(node.args)
    level.set(node, "proxy.next_upstream", chosen)


def _header_list(key: str) -> Handler:
    def handle(node: Node, level: v.Level, env: Env) -> None:
        level.append(key, node.args[0].lower())

    return handle


def _proxy_buffer_size(node: Node, level: v.Level, env: Env) -> None:
    # Checked against proxy_buffers and proxy_busy_buffers_size once merged
    # (proxy_rewrites.check_buffers), as nginx does.
    level.set(node, "proxy.buffer_size", v.size(node))


def _ignored(node: Node, level: v.Level, env: Env) -> None:
    """proxy/fastcgi/uwsgi/scgi temp paths: accepted for compatibility; hotdeploy never spills
    responses to files (it applies back-pressure instead)."""


def _client_body_temp_path(node: Node, level: v.Level, env: Env) -> None:
    # nginx: `client_body_temp_path path [level1 [level2 [level3]]]`, each level 1 or 2 digits
    # of the file name (ngx_conf_set_path_slot: "invalid value" otherwise); the path resolves
    # against the prefix.
    levels = []
    for arg in node.args[1:]:
        if arg not in ("1", "2"):
            raise node.error(f'invalid value "{arg}"')
        levels.append(int(arg))
    level.set(node, "client_body_temp_path", env.path(node.args[0]))
    level.set(node, "client_body_temp_levels", tuple(levels))


HANDLERS: dict[str, Handler] = {
    "client_max_body_size": _scalar("client_max_body_size", v.size),
    "client_body_timeout": _scalar("client_body_timeout", v.seconds),
    "client_body_buffer_size": _scalar("client_body_buffer_size", v.size),
    "send_timeout": _scalar("send_timeout", v.seconds),
    "keepalive_timeout": _keepalive_timeout,
    "keepalive_requests": _scalar("keepalive_requests", v.number),
    "keepalive_time": _scalar("keepalive_time", v.seconds),
    "keepalive_disable": _keepalive_disable,
    "client_header_timeout": _scalar("srv.client_header_timeout", v.seconds),
    "client_header_buffer_size": _scalar("srv.client_header_buffer_size", v.size),
    "large_client_header_buffers": _large_buffers,
    "underscores_in_headers": _scalar("srv.underscores_in_headers", v.flag),
    "ignore_invalid_headers": _scalar("srv.ignore_invalid_headers", v.flag),
    "add_header": _add_header,
    "error_page": _error_page,
    "access_log": _access_log,
    "error_log": _error_log,
    "expires": _expires,
    "internal": lambda node, level, env: level.set(node, "internal", True),
    "open_log_file_cache": _open_log_file_cache,
    "allow": _access_rule,
    "deny": _access_rule,
    "set_real_ip_from": _real_ip_from,
    "real_ip_header": _real_ip_header,
    "real_ip_recursive": _scalar("real_ip_recursive", v.flag),
    "proxy_set_header": _proxy_set_header,
    "proxy_http_version": _proxy_http_version,
    "proxy_pass_request_headers": _scalar("proxy.pass_request_headers", v.flag),
    "proxy_pass_request_body": _scalar("proxy.pass_request_body", v.flag),
    "proxy_connect_timeout": _scalar("proxy.connect_timeout", v.seconds),
    "proxy_read_timeout": _scalar("proxy.read_timeout", v.seconds),
    "proxy_send_timeout": _scalar("proxy.send_timeout", v.seconds),
    "proxy_next_upstream": _next_upstream,
    "proxy_next_upstream_tries": _scalar("proxy.next_upstream_tries", v.number),
    "proxy_next_upstream_timeout": _scalar("proxy.next_upstream_timeout", v.seconds),
    "proxy_intercept_errors": _scalar("proxy.intercept_errors", v.flag),
    "proxy_buffering": _scalar("proxy.buffering", v.flag),
    "proxy_request_buffering": _scalar("proxy.request_buffering", v.flag),
    "proxy_hide_header": _header_list("proxy.hide_headers"),
    "proxy_pass_header": _header_list("proxy.pass_headers"),
    "proxy_buffer_size": _proxy_buffer_size,
    "client_body_temp_path": _client_body_temp_path,
    "rewrite_log": _scalar("rewrite_log", v.flag),
    "uninitialized_variable_warn": _scalar("uninitialized_variable_warn", v.flag),
    "proxy_temp_path": _ignored,
    "fastcgi_temp_path": _ignored,
    "uwsgi_temp_path": _ignored,
    "scgi_temp_path": _ignored,
    **STATIC_HANDLERS,
}


HANDLERS.update(tls_directives.HANDLERS)
HANDLERS.update(resolver_directives.HANDLERS)
def _limit(node: Node, level: v.Level, env: Env) -> None:
    limits.apply(node, level, env.limits)


HANDLERS.update(dict.fromkeys(limits.DIRECTIVE_NAMES, _limit))
HANDLERS.update(dict.fromkeys(proxy_rewrites.DIRECTIVE_NAMES,
                              lambda node, level, env: proxy_rewrites.apply(node, level)))
HANDLERS.update(dict.fromkeys(connection_handling.DIRECTIVE_NAMES,
                              lambda node, level, env: connection_handling.apply(node, level)))


def apply(node: Node, level: v.Level, env: Env) -> bool:
    """Record `node` in `level` if it is a settings directive; False if it is not one."""
    handler = HANDLERS.get(node.name)
    if handler is None:
        return False
    handler(node, level, env)
    return True


# --- merging ---------------------------------------------------------------------------------

_DEFAULT_SET_HEADERS = tuple((name, compile_template(value)) for name, value in
                             d.DEFAULT_PROXY_SET_HEADERS)


@dataclass(frozen=True, slots=True)
class Effective:
    """Merged settings at one level plus the raw arrays that the next level may inherit."""

    settings: HttpSettings
    set_headers: tuple[tuple[str, Template], ...] = ()  # as written, before nginx's defaults
    hide_headers: tuple[str, ...] = ()
    pass_headers: tuple[str, ...] = ()
    server: dict[str, Any] = dataclasses.field(default_factory=dict)


def _final_set_headers(raw: tuple[tuple[str, Template], ...]) -> tuple[tuple[str, Template], ...]:
    # nginx sends the configured headers, then each default the configuration does not name;
    # a header whose value is "" is not sent at all.
    named = {name.lower() for name, _ in raw}
    kept = tuple((n, t) for n, t in raw if t.raw != "")
    return kept + tuple((n, t) for n, t in _DEFAULT_SET_HEADERS if n.lower() not in named)


def root(access_log_path: str, log_formats: dict[str, LogFormat]) -> Effective:
    """The implicit level above http: nginx's defaults, including `access_log
    logs/access.log combined`."""
    default_log = AccessLog(access_log_path, log_formats["combined"])
    proxy = ProxySettings(set_headers=_final_set_headers(()))
    return Effective(HttpSettings(access_logs=(default_log,), proxy=proxy))


def merge(parent: Effective, level: v.Level) -> Effective:
    """The settings of a level: its own values over its parent's (see the module doc)."""
    s = level.scalars
    lists = level.lists
    plain = {k: val for k, val in s.items() if "." not in k}
    proxy_values = {k[6:]: val for k, val in s.items() if k.startswith("proxy.")}
    settings = parent.settings
    if "keepalive_timeout" in s and "keepalive_header_timeout" not in s:
        plain["keepalive_header_timeout"] = None
    for key in ("add_headers", "access_logs", "error_logs", "access_rules", "set_real_ip_from"):
        if key in lists:
            plain[key] = tuple(lists[key])
    if "error_pages" in lists:
        plain["error_pages"] = dict(lists["error_pages"])
    plain["internal"] = s.get("internal", False)  # nginx keeps it per location
    set_headers = tuple(lists.get("proxy.set_headers", parent.set_headers))
    hide = tuple(lists.get("proxy.hide_headers", parent.hide_headers))
    pass_ = tuple(lists.get("proxy.pass_headers", parent.pass_headers))
    proxy_values["set_headers"] = _final_set_headers(set_headers)
    hidden = (set(d.DEFAULT_PROXY_HIDE_HEADERS) | set(hide)) - set(pass_)
    proxy_values["hide_headers"] = frozenset(hidden)
    proxy_values["pass_headers"] = frozenset(pass_)
    proxy_values.update(proxy_rewrites.merge_values(level))
    plain["proxy"] = dataclasses.replace(settings.proxy, **proxy_values)
    plain["limits"] = limits.merge(settings.limits, level)
    plain["static"] = merge_static(settings.static, level)
    server = dict(parent.server)
    server.update({k[4:]: val for k, val in s.items() if k.startswith("srv.")})
    return Effective(dataclasses.replace(settings, **plain), set_headers, hide, pass_, server)


