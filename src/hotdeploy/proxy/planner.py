"""Building a location's LocationPlan from its configuration, once per configuration load.

The constant parts are rendered now (proxy_set_header and add_header lines, the request line
tail, the keep-alive lines), the access log formats are compiled against the request
variables, and nginx's derived limits are computed, so that per request the data path only
reads attributes of the plan.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config.model import (
    AccessLog,
    HttpSettings,
    LimitZone,
    LocationConfig,
    ServerConfig,
    Template,
    UpstreamConfig,
    Var,
)
from hotdeploy.proxy import header_rewrite
from hotdeploy.proxy.limiting import LocationLimits, ZoneStates
from hotdeploy.proxy.logs import AccessLogWriter, LogFiles, compile_format
from hotdeploy.proxy.plan import REQUEST_DROP, RESPONSE_HOP, LocationPlan
from hotdeploy.proxy.request import variable_getter


def _const(template: Template) -> str | None:
    if all(isinstance(p, str) for p in template.parts):
        return "".join(p for p in template.parts if isinstance(p, str))
    return None


def _proxy_headers(settings: HttpSettings, proxy_host: str) -> tuple[bytes, tuple, frozenset]:
    # `set_headers` is final (the config front-end merged nginx's defaults `Host $proxy_host`
    # and `Connection close`, and dropped headers set to ""), so it is used as is.
    entries = settings.proxy.set_headers
    static: list[bytes] = []
    dynamic: list[tuple[bytes, Template]] = []
    for name, template in entries:
        value = _const(template)
        if value is None and template.parts == (Var("proxy_host"),):
            value = proxy_host  # fixed per location: render it now, not per request
        if value is None:
            dynamic.append((name.encode("latin-1"), template))
        elif value:  # an empty value means "do not send this header" (nginx)
            static.append(f"{name}: {value}\r\n".encode("latin-1"))
    drop = REQUEST_DROP | {name.lower().encode("latin-1") for name, _ in entries}
    return b"".join(static), tuple(dynamic), frozenset(drop)


def _connection_value(settings: HttpSettings) -> str:
    for name, template in settings.proxy.set_headers:
        if name.lower() == "connection":
            return _const(template) or ""
    return ""  # absent from the final list: configured as ""


def _add_headers(settings: HttpSettings) -> tuple[bytes, bytes, tuple]:
    ok: list[bytes] = []
    always: list[bytes] = []
    dynamic: list[tuple[bytes, Template, bool]] = []
    for add in settings.add_headers:
        value = _const(add.value)
        if value is None:
            dynamic.append((add.name.encode("latin-1"), add.value, add.always))
            continue
        if not value:
            continue
        line = f"{add.name}: {value}\r\n".encode("latin-1")
        (always if add.always else ok).append(line)
    return b"".join(ok), b"".join(always), tuple(dynamic)


def response_buffer_limit(buffering: bool, buffer_size: int,
                          buffers: tuple[int, int] = (d.DEFAULT_PROXY_BUFFERS_NUMBER,
                                                      d.DEFAULT_PROXY_BUFFERS_SIZE),
                          busy: int = 0) -> int:
    """Response bytes held in memory before reading from the upstream pauses.

    `proxy_buffering off`: nginx holds at most one `proxy_buffer_size` buffer and passes data
    on as it comes. `on`: nginx reads ahead into `proxy_buffers` (default 8 x 4k) plus the busy
    buffers (default 2 x proxy_buffer_size) and would then spill to a temp file; hotdeploy
    pauses the upstream at that point instead (back-pressure, never a temp file).
    """
    if not buffering:
        return buffer_size
    return buffers[0] * buffers[1] + (busy or d.PROXY_BUSY_BUFFERS_FACTOR * buffer_size)


class _WhenNotEmpty:
    """A writer for an `access_log ... if=` line: the renderer returns b"" when the condition
    is false, and nothing is written then."""

    def __init__(self, writer: AccessLogWriter) -> None:
        self.writer = writer

    def write(self, line: bytes) -> None:
        if line:
            self.writer.write(line)


def _access_log(log: AccessLog, log_files: LogFiles) -> tuple[Any, Callable[[Any], bytes]]:
    writer = log_files.get(log.path, log.buffer)
    render = compile_format(log.format, variable_getter)
    condition = log.condition
    if condition is None:
        return writer, render  # no per-request work beyond the line itself

    def conditional(req: Any) -> bytes:
        value = condition.render(req)
        return b"" if value in ("", "0") else render(req)

    return _WhenNotEmpty(writer), conditional


def build_plan(server: ServerConfig, location: LocationConfig | None,
               upstreams: dict[str, UpstreamConfig], log_files: LogFiles,
               prefix: str = "", zones: ZoneStates | None = None,
               zone_specs: dict[str, LimitZone] | None = None) -> LocationPlan:
    settings = location.settings if location is not None else server.settings
    kind = "static"  # nginx's content handler when a location has no other: files
    return_ = location.return_ if location is not None else server.return_
    if return_ is not None:
        kind = "return"
    elif location is not None:
        if location.api_write is not None:
            kind = "api"
        elif location.metrics:
            kind = "metrics"
        elif location.stub_status:
            kind = "stub_status"
        elif location.proxy_pass is not None:
            kind = "proxy"
    plan = LocationPlan(server=server, location=location, settings=settings, kind=kind,
                        return_=return_)
    plan.script = (location.rewrites if location is not None else server.rewrites) is not None
    plan.prefix = location.path if location is not None and location.modifier in ("", "^~", "=") \
        else ""
    plan.add_ok, plan.add_always, plan.add_dynamic = _add_headers(settings)
    plan.access_logs = tuple(_access_log(log, log_files) for log in settings.access_logs)
    if settings.keepalive_header_timeout is not None:
        plan.keepalive_header = b"Keep-Alive: timeout=%d\r\n" % int(
            settings.keepalive_header_timeout)
    proxy = settings.proxy
    plan.next_upstream = proxy.next_upstream
    plan.ka_msie6 = "msie6" in settings.keepalive_disable
    plan.ka_safari = "safari" in settings.keepalive_disable
    # proxy_request_buffering off forwards the body as it arrives: nginx uses no temp file.
    # Other locations (return, api) never pass a body on, so it is never spilled either.
    plan.body_spill = settings.client_body_buffer_size if (
        kind == "proxy" and proxy.request_buffering) else 0
    plan.body_temp_dir = settings.client_body_temp_path or os.path.join(
        prefix, d.DEFAULT_CLIENT_BODY_TEMP_PATH)
    plan.body_temp_levels = settings.client_body_temp_levels
    plan.header_limit = proxy.buffer_size
    plan.response_buffer = response_buffer_limit(proxy.buffering, proxy.buffer_size,
                                                 proxy.buffers, proxy.busy_buffers_size)
    plan.upstream_rcvbuf = 0 if proxy.buffering else proxy.buffer_size
    limits = settings.limits
    if (limits.reqs or limits.conns) and zones is not None and zone_specs is not None:
        plan.limits = LocationLimits(limits, zone_specs, zones)
    plan.hide = frozenset(h.encode() for h in proxy.hide_headers - proxy.pass_headers)
    plan.response_drop = RESPONSE_HOP | plan.hide
    if kind == "proxy":
        rewrites = header_rewrite.build(proxy, location)
        if rewrites is not None:
            rewrites.names = rewrites.names - plan.hide  # a hidden header is not sent at all
            plan.rewrites = rewrites
            plan.rewrite_names = rewrites.names
            plan.response_drop = plan.response_drop | rewrites.names
    plan.keepalive_lines = b"Connection: keep-alive\r\n" + plan.keepalive_header
    if settings.expires.kind != "off":
        plan.expires = settings.expires
    plan.add_any = bool(plan.add_ok or plan.add_always or plan.add_dynamic or plan.expires)
    plan.gzip = settings.static.gzip.enabled
    plan.charset = settings.static.charset is not None
    if kind == "proxy" and location is not None and location.proxy_pass is not None:
        pp = location.proxy_pass
        plan.variable_pass = pp if pp.template is not None else None
        plan.upstream = pp.upstream
        plan.upstream_tls = pp.tls
        plan.proxy_uri = pp.uri
        plan.upstream_version = b"HTTP/1.1" if proxy.http_version == "1.1" else b"HTTP/1.0"
        plan.static_set, plan.dynamic_set, plan.drop_request = _proxy_headers(
            settings, pp.proxy_host)
        plan.request_tail = b" " + plan.upstream_version + b"\r\n" + plan.static_set
        upstream = upstreams.get(pp.upstream)
        if upstream is not None:
            # nginx keeps upstream connections only for HTTP/1.1 with an empty Connection
            # header (ngx_http_upstream_keepalive_module docs).
            plan.upstream_keepalive = (upstream.keepalive > 0 and proxy.http_version == "1.1"
                                       and _connection_value(settings) == "")
            plan.upstream_keepalive_requests = upstream.keepalive_requests
            plan.upstream_keepalive_time = upstream.keepalive_time
            plan.hash_key = upstream.hash_key
    return plan
