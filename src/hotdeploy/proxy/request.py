"""One client request as the data path tracks it, and the nginx variables it answers.

`Request.variable(name)` evaluates exactly the variables listed in
`hotdeploy.config.variables.KNOWN_VARIABLES` (plus the `http_`, `arg_`, `cookie_`,
`sent_http_`, `upstream_http_` prefixes), so `Template.render(request)` works for
proxy_set_header, add_header, log_format, return and hash keys.
"""

from __future__ import annotations

import ipaddress
import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from hotdeploy.proxy import connection_stats
from hotdeploy.proxy.clock import time_local
from hotdeploy.proxy.header_fields import pairs
from hotdeploy.proxy.rewrite import script_variable
from hotdeploy.proxy.static_rules import base_paths, request_filename
from hotdeploy.tls.variables import TLS_VARIABLES, scheme

if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan

_PID = str(os.getpid())


def _refresh_pid() -> None:
    # `$pid` is the worker's: a worker forked from the master must not log the master's pid.
    global _PID
    _PID = str(os.getpid())


os.register_at_fork(after_in_child=_refresh_pid)
# Request start times come from the loop's monotonic clock; wall time for $request_time/$msec
# is derived with this offset instead of a second clock read per request.
_WALL_OFFSET: Final = time.time() - time.monotonic()
NGINX_VERSION = "1.25.0"


class Request:  # a config.model.VariableSource
    # No __slots__: the fields that start equal for every request are class attributes, so
    # creating a request (once per request, on the hot path) sets only the dozen that differ.
    # Immutable defaults only; every mutable field is created in __init__.
    method = ""
    method_bytes = b""
    raw_uri = ""
    path = ""
    args = ""
    version = "1.1"
    host = ""
    keep_alive = True
    chunked = False
    content_length = -1
    expect_continue = False
    has_connection = False  # a Connection header was sent (may name hop-by-hop ones)
    proxy_connection = False  # a Proxy-Connection header was sent (llhttp reads its tokens too)
    upgrade = False
    headers_done = False
    complete = False
    body_size = 0
    request_length = 0
    error = 0  # a status decided while parsing (400, 413, 414, 494)
    close_after = False
    redirected = False  # an error_page redirect already happened (no loops)
    # error_page into a proxied location: the status the client gets instead of the
    # upstream's (nginx's r->err_status; 0: the upstream's, as with `error_page ... =`).
    err_status = 0
    # Where an internal redirect (error_page into another proxied location) began a new
    # group of attempts: nginx separates the groups with " : " instead of ", ".
    attempt_groups: tuple[int, ...] = ()
    url = b""  # the request target as received (on_url may come in pieces)
    server: Any = None
    plan: LocationPlan | None = None
    runtime: Any = None
    status = 0
    body_bytes_sent = 0
    bytes_sent = 0
    # Assigned (never mutated in place): the upstream's response headers; the headers we sent.
    upstream_headers: list[bytes] | tuple[()] = ()  # flat: name, value, ... (header_fields)
    body_file: Any = None  # a BodyFile once the body outgrew client_body_buffer_size
    resp_headers: list[tuple[bytes, bytes]] | tuple[()] = ()
    # The rewrite module (proxy.rewrite): the last regex match's groups ($0 first), the `set`
    # / named capture / map values of this request, and whether a rewrite changed $uri.
    captures: tuple[str, ...] = ()
    vars: dict[str, str] | None = None
    uri_rewritten = 0
    script_return: Any = None  # the Return a script answered with (plan kind "script_return")
    tls: Any = None  # the client connection's SSL object (tls.variables), None without TLS
    # limit_req / limit_conn (proxy/limiting.py): checked once per request, as nginx's
    # r->main->limit_*_status; the limit_conn counts held until the request is freed.
    limited = False
    limit_req_status = ""
    limit_conn_status = ""
    limit_conn_held: tuple[Any, ...] = ()

    def __init__(self, remote_addr: str, remote_port: int, server_addr: str, server_port: int,
                 cid: int, conn_requests: int, start: float) -> None:
        self.remote_addr = remote_addr
        self.realip_remote_addr = remote_addr
        self.remote_port = remote_port
        self.server_addr = server_addr
        self.server_port = server_port
        self.cid = cid
        self.conn_requests = conn_requests
        self.start = start
        self.start_wall = start + _WALL_OFFSET
        self.headers: list[tuple[bytes, bytes, bytes]] = []  # (lower name, name, value)
        self.body: list[bytes] = []
        # One entry per upstream attempt: (peer, or the upstream's name when no server was
        # available; $upstream_status text; response, connect and header seconds, -1.0 for a
        # phase not reached). The peer's address is formatted only when it is logged.
        # Then the attempt's response body length, bytes received and bytes sent.
        self.attempts: list[tuple[Any, str, float, float, float, int, int, int]] = []

    # ------------------------------------------------------------------ header helpers
    def header(self, lname: str) -> str:
        key = lname.encode("latin-1")
        for name, _, value in self.headers:
            if name == key:
                return value.decode("latin-1")
        return ""

    def header_all(self, lname: str, sep: str) -> str:
        key = lname.encode("latin-1")
        return sep.join(v.decode("latin-1") for n, _, v in self.headers if n == key)

    # ------------------------------------------------------------------ variables
    def variable(self, name: str) -> str:
        fn = _VARIABLES.get(name)
        if fn is not None:
            return fn(self)
        for prefix, handler in _PREFIXES:
            if name.startswith(prefix):
                return handler(self, name[len(prefix):])
        return script_variable(self, name)


def _http(req: Request, suffix: str) -> str:
    lname = suffix.replace("_", "-")
    if lname == "cookie":
        return req.header_all("cookie", "; ")
    if lname == "x-forwarded-for":
        return req.header_all("x-forwarded-for", ", ")
    return req.header(lname)


def _arg(req: Request, suffix: str) -> str:
    for pair in req.args.split("&"):
        key, _, value = pair.partition("=")
        if key.lower() == suffix.lower():
            return value
    return ""


def _cookie(req: Request, suffix: str) -> str:
    for pair in req.header_all("cookie", ";").split(";"):
        key, _, value = pair.strip().partition("=")
        if key == suffix:
            return value
    return ""


def _from_list(headers: Sequence[tuple[bytes, bytes]], suffix: str) -> str:
    key = suffix.replace("_", "-").encode("latin-1")
    for name, value in headers:
        if name.lower() == key:
            return value.decode("latin-1")
    return ""


_PREFIXES: tuple[tuple[str, Callable[[Request, str], str]], ...] = (
    ("http_", _http),
    ("arg_", _arg),
    ("cookie_", _cookie),
    ("sent_http_", lambda r, s: _from_list(r.resp_headers, s)),
    ("upstream_http_", lambda r, s: _from_list(pairs(r.upstream_headers), s)),
)


def _request_line(r: Request) -> str:
    return f"{r.method} {r.raw_uri} HTTP/{r.version}" if r.method else ""


def _server_name(r: Request) -> str:
    names = getattr(r.server, "server_names", ()) or ("",)
    return names[0]


def _proxy_pass(r: Request) -> Any:
    return r.plan.location.proxy_pass if r.plan and r.plan.location else None


def _proxy_host(r: Request) -> str:
    pp = _proxy_pass(r)
    return pp.proxy_host if pp else ""


def _proxy_port(r: Request) -> str:
    # The port config.http resolved for proxy_pass (80 when none is written), not a parse of
    # $proxy_host, which leaves the default port out.
    pp = _proxy_pass(r)
    return str(pp.port) if pp else "80"


def _xff(r: Request) -> str:
    prior = r.header_all("x-forwarded-for", ", ")
    return f"{prior}, {r.remote_addr}" if prior else r.remote_addr


def _host(r: Request) -> str:
    # nginx $host: Host header without port, lower-cased; else the server name.
    return r.host or _server_name(r)


def _per_attempt(req: Request, field: int) -> str:
    """An $upstream_* variable: field `field` of each attempt (Request.attempts), `, `
    between attempts, ` : ` between the groups of an internal redirect."""
    if not req.attempt_groups:
        return ", ".join([_attempt_field(a, field) for a in req.attempts])
    parts = []
    for i, attempt in enumerate(req.attempts):
        if i:
            parts.append(" : " if i in req.attempt_groups else ", ")
        parts.append(_attempt_field(attempt, field))
    return "".join(parts)


def _attempt_field(attempt: Any, field: int) -> str:
    value = attempt[field]
    if field == 0:
        return value if isinstance(value, str) else value.address
    if field == 1:
        return value
    if field == 2:
        return f"{value:.3f}"
    if field <= 4:
        return _seconds(value)
    return str(value)


def _seconds(value: float) -> str:
    # nginx writes "-" for a phase the attempt never reached (e.g. no connection).
    return f"{value:.3f}" if value >= 0 else "-"


def request_error_log(req: Request | None, default: Any = None) -> Any:
    """The ErrorLog of the request's level (error_log in http, server or location), else the
    main context's; `default` when there is no request or it has no runtime yet."""
    if req is None:
        return default
    plan = req.plan
    if plan is not None and plan.error_log is not None:
        return plan.error_log
    runtime = req.runtime
    return runtime.error_log if runtime is not None else default


def log_context(req: Request, upstream: str = "") -> str:
    """The tail nginx appends to a request's error log lines (client, server, request, the
    upstream URL when one was chosen, host)."""
    text = (f', client: {req.remote_addr}, server: {_server_name(req)}, '
            f'request: "{req.method} {req.raw_uri} HTTP/{req.version}"')
    if upstream:
        text += f', upstream: "{upstream}"'
    if req.host:
        text += f', host: "{req.header("host")}"'
    return text


def _binary_remote_addr(r: Request) -> str:
    # The address in binary form (4 or 16 bytes), carried as latin-1 text like every value.
    try:
        return ipaddress.ip_address(r.remote_addr).packed.decode("latin-1")
    except ValueError:
        return ""


def _connections(state: str) -> str:
    # stub_status's counters, read off the open connections only when a variable asks.
    return str(getattr(connection_stats.snapshot(connection_stats.TRACKERS), state))


def _content_length(r: Request) -> str:
    return r.header("content-length")


def _document_root(r: Request) -> str:
    # nginx: the root or alias value of the current request's location.
    plan = r.plan
    if plan is None:
        return ""
    root, alias = base_paths(plan.settings.static, r.runtime.config.prefix, r)
    return alias if alias is not None else root


def _request_filename(r: Request) -> str:
    plan = r.plan
    if plan is None:
        return ""
    return request_filename(plan.settings.static, r.runtime.config.prefix, plan.prefix, r)


_VARIABLES: dict[str, Callable[[Request], str]] = {
    "remote_addr": lambda r: r.remote_addr,
    "realip_remote_addr": lambda r: r.realip_remote_addr,
    "remote_port": lambda r: str(r.remote_port),
    "remote_user": lambda r: "",
    "server_addr": lambda r: r.server_addr,
    "server_port": lambda r: str(r.server_port),
    "server_protocol": lambda r: f"HTTP/{r.version}",
    "host": _host,
    "hostname": lambda r: os.uname().nodename,
    "args": lambda r: r.args,
    "query_string": lambda r: r.args,
    "is_args": lambda r: "?" if r.args else "",
    "uri": lambda r: r.path,
    "document_uri": lambda r: r.path,
    "request_uri": lambda r: r.raw_uri,
    "request": _request_line,
    "request_method": lambda r: r.method,
    "request_length": lambda r: str(r.request_length),
    "request_time": lambda r: f"{time.time() - r.start_wall:.3f}",
    "request_id": lambda r: uuid.uuid4().hex,
    "scheme": scheme,
    "proxy_host": _proxy_host,
    "proxy_port": _proxy_port,
    "proxy_add_x_forwarded_for": _xff,
    "upstream_addr": lambda r: _per_attempt(r, 0),
    "upstream_status": lambda r: _per_attempt(r, 1),
    "upstream_response_time": lambda r: _per_attempt(r, 2),
    "upstream_connect_time": lambda r: _per_attempt(r, 3),
    "upstream_header_time": lambda r: _per_attempt(r, 4),
    "upstream_response_length": lambda r: _per_attempt(r, 5),
    "upstream_bytes_received": lambda r: _per_attempt(r, 6),
    "upstream_bytes_sent": lambda r: _per_attempt(r, 7),
    "status": lambda r: str(r.status) if r.status else "000",
    "body_bytes_sent": lambda r: str(r.body_bytes_sent),
    "bytes_sent": lambda r: str(r.bytes_sent),
    "time_local": lambda r: time_local(),
    "time_iso8601": lambda r: time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "msec": lambda r: f"{time.time():.3f}",
    "pid": lambda r: _PID,
    "nginx_version": lambda r: NGINX_VERSION,
    "server_name": _server_name,
    "connection": lambda r: str(r.cid),
    "connection_requests": lambda r: str(r.conn_requests),
    "content_length": _content_length,
    "content_type": lambda r: r.header("content-type"),
    "binary_remote_addr": _binary_remote_addr,
    "limit_req_status": lambda r: r.limit_req_status,
    "limit_conn_status": lambda r: r.limit_conn_status,
    "connections_active": lambda r: _connections("active"),
    "connections_reading": lambda r: _connections("reading"),
    "connections_writing": lambda r: _connections("writing"),
    "connections_waiting": lambda r: _connections("waiting"),
    "document_root": _document_root,
    "realpath_root": lambda r: os.path.realpath(_document_root(r)) if r.plan else "",
    "request_filename": _request_filename,
}
_VARIABLES.update(TLS_VARIABLES)



def variable_getter(name: str) -> Callable[[Request], str]:
    """The evaluator of `$name`, resolved once (for precompiled log formats)."""
    fn = _VARIABLES.get(name)
    if fn is not None:
        return fn
    for prefix, handler in _PREFIXES:
        if name.startswith(prefix):
            suffix = name[len(prefix):]
            return lambda r: handler(r, suffix)
    return lambda r: script_variable(r, name)
