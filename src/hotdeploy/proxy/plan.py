"""What a location's configuration fixes, computed once per configuration generation.

Per request the data path then only looks up attributes: the constant proxy_set_header lines
are pre-rendered bytes, the response header additions are bytes, the access log writers are
resolved. (DESIGN.md "Measuring speed": every microsecond of Python per request costs ~7%.)
`proxy.planner.build_plan` fills a LocationPlan; this module only describes it, so that the
request (which refers to its plan) and the plan builder (which compiles log formats from the
request's variables) do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from hotdeploy import defaults as d
from hotdeploy.config.model import HttpSettings, LocationConfig, Return, ServerConfig, Template

# Request headers never forwarded as the client sent them: hop-by-hop per RFC 9110 §7.6.1
# (Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), plus
# the ones nginx's proxy module clears or recomputes by default (Expect, Content-Length, Host).
REQUEST_DROP: Final = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"expect", b"content-length", b"host",
})

# Response headers that describe the upstream hop, not the response (RFC 9110 §7.6.1); the
# proxy writes its own Connection / Transfer-Encoding / Keep-Alive for the client hop.
RESPONSE_HOP: Final = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade",
})

# add_header applies to these codes unless `always` (ngx_http_headers_module docs).
ADD_HEADER_CODES: Final = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})

SERVER_HEADER: Final = b"Server: hotdeploy\r\n"


@dataclass(slots=True)
class LocationPlan:
    server: ServerConfig
    location: LocationConfig | None
    settings: HttpSettings
    # "proxy" | "return" | "api" | "metrics" | "stub_status" | "static" (files: no other
    # handler, as nginx) | "none"; "script_return": a rewrite script's `return`/redirect (the
    # Return is the request's `script_return`).
    kind: str
    prefix: str = ""
    # The server or location has rewrite module directives: proxy.rewrite.process decides the
    # request's final plan (False: the plan found by routing is final, the path as before).
    script: bool = False
    return_: Return | None = None
    upstream: str | None = None
    proxy_uri: str | None = None
    # proxy_pass with variables: its ProxyPass (proxy/variable_pass.py picks a derived plan per
    # request); in a derived plan `fixed_uri` is the evaluated URI part, sent as it is.
    variable_pass: Any = None
    fixed_uri: str | None = None
    upstream_version: bytes = b"HTTP/1.0"
    static_set: bytes = b""
    dynamic_set: tuple[tuple[bytes, Template], ...] = ()
    drop_request: frozenset[bytes] = REQUEST_DROP
    upstream_keepalive: bool = False
    upstream_keepalive_requests: int = d.DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS
    upstream_keepalive_time: float = d.DEFAULT_UPSTREAM_KEEPALIVE_TIME
    hide: frozenset[bytes] = frozenset()
    add_ok: bytes = b""  # constant add_header lines for ADD_HEADER_CODES
    add_always: bytes = b""  # constant `always` lines
    add_dynamic: tuple[tuple[bytes, Template, bool], ...] = ()
    # (writer, line renderer): an AccessLogWriter, or for `if=` a writer that skips b"".
    access_logs: tuple[tuple[Any, Callable[[Any], bytes]], ...] = ()
    keepalive_header: bytes = b""
    # Derived once (planner.build_plan), read per response by response_head.client_head:
    response_drop: frozenset[bytes] = RESPONSE_HOP  # hop-by-hop + proxy_hide_header
    keepalive_lines: bytes = b"Connection: keep-alive\r\n"  # + keepalive_header
    add_any: bool = False  # any add_header line (or `expires`) at all
    # `expires` here (a config.model.Expires), None when off: Expires and Cache-Control.
    expires: Any = None
    request_tail: bytes = b" HTTP/1.0\r\n"  # " " + upstream_version + CRLF + static_set
    hash_key: Template | None = None
    next_upstream: frozenset[str] = field(default_factory=frozenset)
    # keepalive_disable: checked per response only when set (msie6 only for POST requests).
    ka_msie6: bool = False
    ka_safari: bool = False
    # client_body_buffer_size: a larger body goes to a file in body_temp_dir (body_file.py).
    body_spill: int = 0  # client_body_buffer_size, or 0: never (body streamed upstream)
    body_temp_dir: str = ""
    body_temp_levels: tuple[int, ...] = ()
    # proxy_buffer_size bounds the upstream response header (nginx: "too big header", 502).
    header_limit: int = d.DEFAULT_PROXY_BUFFER_SIZE
    # Response bytes held for the client before the upstream is paused (response_buffer_limit).
    response_buffer: int = d.DEFAULT_PROXY_BUFFERED_LIMIT
    # proxy_buffering off: SO_RCVBUF of new upstream sockets, so that one read stays about
    # proxy_buffer_size (nginx reads into that one buffer); 0 = the kernel's default.
    upstream_rcvbuf: int = 0
    # `proxy_pass https://`: its proxy_ssl_* settings (config.tls.UpstreamTls), whose context
    # is runtime.config.tls.upstream[upstream_tls]; None: plain HTTP to the upstream.
    upstream_tls: Any = None
    # The error_log of this location's level (a proxy.logs.ErrorLog): the http, server or
    # location error_log lines, else the main context's (set by the runtime).
    error_log: Any = None
    # limit_req / limit_conn of this location (a proxy.limiting.LocationLimits), or None: the
    # request path then does nothing more for them.
    limits: Any = None
    # proxy_redirect / proxy_cookie_* rules (a proxy.header_rewrite.LocationRewrites) or None;
    # the headers they rewrite are in response_drop, so only responses with them pay.
    rewrites: Any = None
    rewrite_names: frozenset[bytes] = frozenset()  # rewrites.names (empty without rewrites)
    # Upstream header name as received -> what client_head does with it (response_head's
    # HEADER_* codes): filled as names are first seen, so a response pays one dict lookup per
    # header instead of lowering it and testing it against the drop and rewrite sets.
    header_actions: dict[bytes, int] = field(default_factory=dict)
    # The last responses' headers by position (response_head.HeaderSlot: name, action, last
    # line): an upstream sends the same names in the same order response after response.
    layout: list[Any] = field(default_factory=list)
    # The status line and Server header last written for this location (response_head).
    head_status: int = 0
    head_reason: bytes = b""
    head_line: bytes = b""
    # `gzip on` here: proxied responses are checked for compression (static.gzip_upstream_head).
    gzip: bool = False
    charset: bool = False  # `charset NAME` here: added to proxied Content-Types
