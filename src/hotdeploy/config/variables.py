"""nginx complex values ("$host:$server_port", "${scheme}x") compiled into `Template`s.

The set of variables hotdeploy evaluates is fixed here, once: the proxy evaluates exactly
`KNOWN_VARIABLES` plus the `VARIABLE_PREFIXES` families. An unknown variable is a
configuration error, as in nginx (`unknown "foo" variable`), rather than an empty string at
request time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hotdeploy.config.model import Source, Template, Var
from hotdeploy.config.tls import TLS_VARIABLE_NAMES
from hotdeploy.errors import ConfigError

KNOWN_VARIABLES: frozenset[str] = frozenset(
    (
        "remote_addr", "remote_port", "remote_user", "server_addr", "server_port",
        "server_protocol", "host", "hostname", "args", "query_string", "is_args", "uri",
        "document_uri", "request_uri", "request", "request_method", "request_length",
        "request_time", "request_id", "scheme", "proxy_host", "proxy_port",
        "proxy_add_x_forwarded_for", "upstream_addr", "upstream_status", "upstream_response_time",
        "upstream_connect_time", "upstream_header_time", "status", "body_bytes_sent", "bytes_sent",
        "time_local", "time_iso8601", "msec", "pid", "nginx_version", "server_name", "connection",
        "connection_requests", "content_length", "content_type", "realip_remote_addr",
        # limits (proxy/limiting.py), stub_status, the rest of nginx's $upstream_* family:
        "binary_remote_addr", "limit_req_status", "limit_conn_status", "connections_active",
        "connections_reading", "connections_writing", "connections_waiting",
        "upstream_response_length", "upstream_bytes_received", "upstream_bytes_sent",
        "document_root", "realpath_root", "request_filename",
    )
) | TLS_VARIABLE_NAMES

# Families keyed by a suffix: $http_user_agent, $arg_page, $cookie_sid, $sent_http_etag,
# $upstream_http_x_id. Checked in this order; "upstream_http_" must not be shadowed.
VARIABLE_PREFIXES: tuple[str, ...] = ("http_", "arg_", "cookie_", "sent_http_", "upstream_http_")

# Variables the configuration itself declares (`set $x`, `map ... $x`, named regex captures):
# nginx knows them in every directive of http, whatever the order they are written in, so
# `config.http` collects them before parsing the block and declares them here for its duration
# (parsing is synchronous; outside `declared_variables` none are known).
_declared: frozenset[str] = frozenset()


@contextlib.contextmanager
def declared_variables(names: frozenset[str]) -> Iterator[None]:
    """Make `names` (lower-case) known to `compile_template` while the block runs."""
    global _declared
    saved, _declared = _declared, _declared | names
    try:
        yield
    finally:
        _declared = saved


def is_capture(name: str) -> bool:
    """`$1`..`$9`: the captures of the last regex that matched (nginx has single digits)."""
    return len(name) == 1 and "1" <= name <= "9"


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def is_known_variable(name: str) -> bool:
    """True when the proxy can evaluate `$name` (names are case-insensitive in nginx)."""
    name = name.lower()
    if name in KNOWN_VARIABLES or name in _declared or is_capture(name):
        return True
    return any(name.startswith(p) and len(name) > len(p) for p in VARIABLE_PREFIXES)


def _error(message: str, source: Source | None) -> ConfigError:
    if source is None:
        return ConfigError(message)
    return ConfigError(message, source.file, source.line)


def _read_name(raw: str, start: int, source: Source | None) -> tuple[str, int]:
    """Parse the name after `$` at `start`; return (name, index after it)."""
    if start < len(raw) and raw[start] == "{":
        end = start + 1
        while end < len(raw) and raw[end] in _NAME_CHARS:
            end += 1
        name = raw[start + 1 : end]
        if not name:
            raise _error("invalid variable name", source)
        if end >= len(raw) or raw[end] != "}":
            # nginx: the closing bracket in "host" variable is missing
            raise _error(f'the closing bracket in "{name}" variable is missing', source)
        return name, end + 1
    if start < len(raw) and raw[start].isdigit():
        return raw[start], start + 1  # "$12" is capture 1 then "2", as in nginx
    end = start
    while end < len(raw) and raw[end] in _NAME_CHARS:
        end += 1
    if end == start:
        raise _error("invalid variable name", source)
    return raw[start:end], end


def compile_template(raw: str, source: Source | None = None) -> Template:
    """Compile an nginx complex value; unknown variables raise `ConfigError`.

    Variable names are lower-cased (nginx looks variables up case-insensitively). Regex
    captures are `Var("1")`..`Var("9")`; the proxy resolves them against the request's last
    successful match (rewrite module).
    """
    parts: list[str | Var] = []
    literal: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "$":
            literal.append(ch)
            i += 1
            continue
        name, i = _read_name(raw, i + 1, source)
        if not is_known_variable(name):
            raise _error(f'unknown "{name}" variable', source)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(Var(name.lower()))
    if literal:
        parts.append("".join(literal))
    return Template(raw=raw, parts=tuple(parts))
