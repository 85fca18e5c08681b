"""The typed configuration model: what the nginx front-end produces and the data plane reads.

Every value here is already validated, unit-converted (seconds as float, bytes as int) and
*merged*: inheritance http -> server -> location has been applied by the front-end, so the data
plane never walks up the tree at request time. Defaults come from `hotdeploy.defaults`.

This module is pure data: no I/O, no asyncio.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hotdeploy import defaults as d
from hotdeploy.config.addresses import key_text
from hotdeploy.config.tls import ServerTls, UpstreamTls

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Source:
    """Where a directive was written (for error messages and `-T`)."""

    file: str
    line: int


# --------------------------------------------------------------------------------------------
# Variables and complex values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Var:
    """A variable reference inside a complex value: `$http_x_real_ip` -> `http_x_real_ip`."""

    name: str


@dataclass(frozen=True, slots=True)
class Template:
    """An nginx complex value: literal text and variables, e.g. `"$host:$server_port"`.

    The data plane renders it against a request: ``template.render(ctx)`` where `ctx` offers
    ``ctx.variable(name) -> str`` (unknown/unset variables render as the empty string, as nginx).
    """

    raw: str
    parts: tuple[str | Var, ...]

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def render(self, ctx: VariableSource) -> str:
        out = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else ctx.variable(part.name))
        return "".join(out)


class VariableSource(Protocol):
    """Anything that resolves `$name` for a request (structural: no base class needed)."""

    def variable(self, name: str) -> str: ...


# --------------------------------------------------------------------------------------------
# Upstreams
# --------------------------------------------------------------------------------------------

BalancingMethod = Literal["round_robin", "least_conn", "ip_hash", "hash", "random"]
BackupMode = Literal["balanced", "ordered"]


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One `server` line of an upstream, after name resolution (one spec per address).

    `name` is the address as written (`127.0.0.1`, `app.local:8080`), `address` the resolved
    `host:port` the peer is reached at (`127.0.0.1:80`; IPv6 as `[::1]:80`).
    """

    name: str
    host: str
    port: int
    weight: int = d.DEFAULT_WEIGHT
    max_fails: int = d.DEFAULT_MAX_FAILS
    fail_timeout: float = d.DEFAULT_FAIL_TIMEOUT
    backup: bool = False
    down: bool = False
    max_conns: int = d.DEFAULT_MAX_CONNS
    slow_start: float = d.DEFAULT_SLOW_START  # NGINX Plus
    source: Source | None = None

    @property
    def address(self) -> str:
        return key_text(self.host, self.port)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    name: str
    servers: tuple[ServerSpec, ...]
    method: BalancingMethod = "round_robin"
    hash_key: Template | None = None  # `hash KEY`
    hash_consistent: bool = False  # `hash KEY consistent` (ketama)
    random_two: bool = False  # `random two`
    keepalive: int = d.DEFAULT_UPSTREAM_KEEPALIVE  # idle connections cached; 0 = none
    keepalive_requests: int = d.DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS
    keepalive_time: float = d.DEFAULT_UPSTREAM_KEEPALIVE_TIME
    keepalive_timeout: float = d.DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT
    zone: str | None = None
    state_file: str | None = None  # NGINX Plus `state FILE;` (absolute, resolved on the prefix)
    # hotdeploy extension `backup_mode balanced|ordered;`: nginx balances among backups
    # ("balanced", the default); "ordered" sends everything to the first available backup in
    # definition order, as the seed's active-passive text describes.
    backup_mode: BackupMode = "balanced"
    source: Source | None = None


# --------------------------------------------------------------------------------------------
# NGINX Plus: match blocks, health checks, api
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusTest:
    """`status 200;`, `status ! 500;`, `status 200 204;`, `status 200-399;`, `status ! 400-599;`."""

    negate: bool
    ranges: tuple[tuple[int, int], ...]  # inclusive ranges; a single code is (c, c)


@dataclass(frozen=True, slots=True)
class HeaderTest:
    """`header H = v;` `header H != v;` `header H ~ re;` `header H !~ re;` `header H;`
    `header ! H;`."""

    name: str  # lower-case
    op: Literal["present", "absent", "=", "!=", "~", "!~"]
    value: str | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class BodyTest:
    """`body ~ re;` / `body !~ re;` (tested against the first 256k of the body)."""

    negate: bool
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class MatchConfig:
    name: str
    status: tuple[StatusTest, ...] = ()
    headers: tuple[HeaderTest, ...] = ()
    body: tuple[BodyTest, ...] = ()
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckConfig:
    """`health_check [interval=] [jitter=] [fails=] [passes=] [uri=] [port=] [match=]
    [mandatory [persistent]];` inside a location that proxies to `upstream`."""

    upstream: str
    interval: float = d.DEFAULT_HEALTH_CHECK_INTERVAL
    jitter: float = d.DEFAULT_HEALTH_CHECK_JITTER
    fails: int = d.DEFAULT_HEALTH_CHECK_FAILS
    passes: int = d.DEFAULT_HEALTH_CHECK_PASSES
    uri: str = d.DEFAULT_HEALTH_CHECK_URI
    port: int | None = None
    match: MatchConfig | None = None
    mandatory: bool = False
    persistent: bool = False
    # Probe timeouts: the location's proxy_connect_timeout / proxy_read_timeout (NGINX Plus
    # uses the location's proxy settings for its checks).
    connect_timeout: float = d.DEFAULT_PROXY_CONNECT_TIMEOUT
    read_timeout: float = d.DEFAULT_PROXY_READ_TIMEOUT
    # Request headers for the probe: the location's proxy_set_header Host etc.
    host_header: Template | None = None
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class AccessRule:
    """`allow ADDR|CIDR|all;` / `deny ...;` (evaluated in order, first match wins)."""

    allow: bool
    network: IPNetwork | None  # None = all


# --------------------------------------------------------------------------------------------
# Proxy settings (ngx_http_proxy_module), merged down to a location
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """`resolver address[:port] ... [valid=time] [ipv4=on|off] [ipv6=on|off]`."""

    servers: tuple[tuple[str, int], ...]
    valid: float | None = None  # None: the TTL of each answer
    ipv4: bool = True
    ipv6: bool = True
    timeout: float = d.DEFAULT_RESOLVER_TIMEOUT  # resolver_timeout


@dataclass(frozen=True, slots=True)
class ProxyPass:
    """`proxy_pass http://backend/uri;`

    `upstream` names an upstream block, or is None when the target is a literal host:port
    (then `host`/`port` are set and the front-end created an implicit one-server upstream named
    `host:port`, as nginx does). `uri` is None when proxy_pass has no URI part (the request URI
    is passed unchanged); otherwise the matched location prefix is replaced by it.
    """

    raw: str
    upstream: str  # name of the upstream group (explicit or implicit)
    proxy_host: str  # value of $proxy_host: "backend" or "127.0.0.1:8080"
    uri: str | None
    port: int = 80  # value of $proxy_port: the port written in proxy_pass, 80 by default
    tls: UpstreamTls | None = None  # `proxy_pass https://`: the proxy_ssl_* settings
    # proxy_pass with variables: the whole URL, rendered per request (proxy/variable_pass.py);
    # `upstream` and `proxy_host` are "" then. `resolver` None: no resolver configured.
    template: Template | None = None
    resolver: ResolverConfig | None = None


@dataclass(frozen=True, slots=True)
class HeaderRewrite:
    """One proxy_redirect / proxy_cookie_domain / proxy_cookie_path rule: `default` (resolved
    from the location's proxy_pass), a `prefix` (pattern and replacement may hold variables)
    or a `regex` whose replacement `pieces` are text and capture numbers."""

    kind: Literal["default", "prefix", "regex"]
    pattern: Template | None = None
    replacement: Template | None = None
    regex: re.Pattern[str] | None = None
    pieces: tuple[str | int, ...] = ()


@dataclass(frozen=True, slots=True)
class ProxySettings:
    set_headers: tuple[tuple[str, Template], ...] = ()  # merged with nginx's defaults
    http_version: Literal["1.0", "1.1"] = "1.0"
    pass_request_headers: bool = True
    pass_request_body: bool = True
    connect_timeout: float = d.DEFAULT_PROXY_CONNECT_TIMEOUT
    read_timeout: float = d.DEFAULT_PROXY_READ_TIMEOUT
    send_timeout: float = d.DEFAULT_PROXY_SEND_TIMEOUT
    # Conditions from `proxy_next_upstream` ("error", "timeout", "invalid_header", "http_500",
    # "http_502", "http_503", "http_504", "http_403", "http_404", "http_429", "non_idempotent");
    # empty when `off`.
    next_upstream: frozenset[str] = frozenset(d.DEFAULT_PROXY_NEXT_UPSTREAM)
    next_upstream_tries: int = d.DEFAULT_PROXY_NEXT_UPSTREAM_TRIES
    next_upstream_timeout: float = d.DEFAULT_PROXY_NEXT_UPSTREAM_TIMEOUT
    intercept_errors: bool = False
    buffering: bool = True
    request_buffering: bool = True
    hide_headers: frozenset[str] = frozenset(d.DEFAULT_PROXY_HIDE_HEADERS)  # lower-case
    pass_headers: frozenset[str] = frozenset()  # lower-case; removed from hide_headers
    buffer_size: int = d.DEFAULT_PROXY_BUFFER_SIZE
    # config/proxy_rewrites.py. redirects None: never written, nginx's `default`; (): off.
    redirects: tuple[HeaderRewrite, ...] | None = None
    cookie_domains: tuple[HeaderRewrite, ...] = ()
    cookie_paths: tuple[HeaderRewrite, ...] = ()
    ignore_headers: frozenset[str] = frozenset()  # lower-case
    buffers: tuple[int, int] = (d.DEFAULT_PROXY_BUFFERS_NUMBER, d.DEFAULT_PROXY_BUFFERS_SIZE)
    busy_buffers_size: int = 0  # 0: nginx's default, 2 * proxy_buffer_size
    max_temp_file_size: int | None = None  # None: nginx's default 1024m


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogFormat:
    name: str
    template: Template
    escape: Literal["default", "json", "none"] = "default"


@dataclass(frozen=True, slots=True)
class AccessLog:
    """One `access_log PATH [FORMAT] [buffer=SIZE] [flush=TIME] [if=CONDITION];` (absolute
    path)."""

    path: str
    format: LogFormat
    buffer: int = 0  # 0 = unbuffered: a line is written when its request completes
    flush: float = 0.0
    condition: Template | None = None  # `if=`: not logged when it renders "" or "0"


@dataclass(frozen=True, slots=True)
class ErrorLog:
    path: str  # absolute, or "stderr"
    level: str = d.DEFAULT_ERROR_LOG_LEVEL


# --------------------------------------------------------------------------------------------
# Request limits (ngx_http_limit_req_module, ngx_http_limit_conn_module)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitZone:
    """`limit_req_zone KEY zone=NAME:SIZE rate=R;` or `limit_conn_zone KEY zone=NAME:SIZE;`.

    `rate` is nginx's ctx->rate: milli-requests per second (`10r/s` -> 10000, `30r/m` -> 500);
    0 for a limit_conn zone. Zones share one namespace, as nginx's shared memory zones do."""

    kind: Literal["req", "conn"]
    name: str
    key: Template
    size: int
    rate: int = 0
    sync: bool = False  # NGINX Plus `sync`
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class LimitReq:
    """`limit_req zone=NAME [burst=N] [nodelay | delay=N];` burst and delay in milli-requests
    (nginx multiplies both by 1000); nodelay is an unbounded delay threshold."""

    zone: str
    burst: int = 0
    delay: int = 0


@dataclass(frozen=True, slots=True)
class LimitConn:
    """`limit_conn NAME N;`"""

    zone: str
    conn: int


@dataclass(frozen=True, slots=True)
class LimitSettings:
    reqs: tuple[LimitReq, ...] = ()
    req_status: int = d.DEFAULT_LIMIT_STATUS
    req_log_level: str = d.DEFAULT_LIMIT_LOG_LEVEL
    req_dry_run: bool = False
    conns: tuple[LimitConn, ...] = ()
    conn_status: int = d.DEFAULT_LIMIT_STATUS
    conn_log_level: str = d.DEFAULT_LIMIT_LOG_LEVEL
    conn_dry_run: bool = False


# --------------------------------------------------------------------------------------------
# Locations, virtual servers, http, main
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddHeader:
    name: str
    value: Template
    always: bool = False


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """`error_page 502 503 [=[code]] uri;` for one status code."""

    uri: Template
    response_code: int | None = None  # `=404`; None when not overridden
    use_upstream_code: bool = False  # bare `=`


@dataclass(frozen=True, slots=True)
class Return:
    """`return code [text|URL];` / `return URL;`"""

    code: int
    text: Template | None = None


@dataclass(frozen=True, slots=True)
class GzipSettings:
    """ngx_http_gzip_module: `gzip`, `gzip_types`, `gzip_min_length`, `gzip_comp_level`,
    `gzip_vary`, `gzip_proxied` (nginx's defaults)."""

    enabled: bool = False
    types: frozenset[str] = frozenset({"text/html"})  # "*" = any type
    min_length: int = 20
    comp_level: int = 1
    vary: bool = False
    proxied: frozenset[str] = frozenset({"off"})
    http_version: str = "1.1"  # gzip_http_version: the lowest client version compressed for
    # gzip_disable: User-Agent regexes (case-insensitive), and the "msie6" mask.
    disable: tuple[re.Pattern[str], ...] = ()
    disable_msie6: bool = False


# ngx_http_core_module's types when a configuration has no `types` block.
DEFAULT_MIME_TYPES: dict[str, str] = {"html": "text/html", "gif": "image/gif",
                                      "jpg": "image/jpeg"}
# `charset_types` default (ngx_http_charset_module).
DEFAULT_CHARSET_TYPES = frozenset({"text/html", "text/xml", "text/plain", "text/vnd.wap.wml",
                                   "application/javascript", "application/rss+xml"})


@dataclass(frozen=True, slots=True)
class StaticSettings:
    """What serving files needs (ngx_http_core_module, index, autoindex, charset), merged.

    `root` and `alias` are templates (they may contain variables); `alias` and `try_files` are
    not inherited (nginx keeps them per location), the rest are.
    """

    root: Template | None = None  # None: nginx's default `html` under the prefix
    alias: Template | None = None
    index: tuple[Template, ...] = ()  # () = nginx's default `index.html`
    try_files: tuple[Template, ...] = ()  # the last one is the fallback (=code, @name, uri)
    types: dict[str, str] | None = None  # extension (lower case) -> type; None = defaults
    default_type: str = "text/plain"
    etag: bool = True
    if_modified_since: Literal["off", "exact", "before"] = "exact"
    charset: str | None = None  # `charset off` = None
    charset_types: frozenset[str] = DEFAULT_CHARSET_TYPES
    absolute_redirect: bool = True
    port_in_redirect: bool = True
    server_name_in_redirect: bool = False
    log_not_found: bool = True
    server_tokens: str = "on"
    gzip: GzipSettings = field(default_factory=GzipSettings)
    # ngx_http_autoindex_module: a listing for a directory request no index file answers.
    autoindex: bool = False
    autoindex_exact_size: bool = True
    autoindex_format: Literal["html", "xml", "json", "jsonp"] = "html"
    autoindex_localtime: bool = False
    # ngx_http_gzip_static_module: serve FILE.gz as it is (on: to clients that take gzip).
    gzip_static: Literal["on", "off", "always"] = "off"
    max_ranges: int = -1  # ranges in one request beyond which the whole file is sent; 0: none


@dataclass(frozen=True, slots=True)
class Expires:
    """`expires` (ngx_http_headers_module). kind: "off", "epoch", "max", "access" (now +
    seconds), "modified" (Last-Modified + seconds) or "daily" (`@TIME`: the next time of day,
    seconds after local midnight)."""

    kind: str = "off"
    seconds: int = 0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Directives valid in http, server and location, merged to the level that uses them."""

    client_max_body_size: int = d.DEFAULT_CLIENT_MAX_BODY_SIZE
    client_body_timeout: float = d.DEFAULT_CLIENT_BODY_TIMEOUT
    client_body_buffer_size: int = d.DEFAULT_CLIENT_BODY_BUFFER_SIZE
    # `client_body_temp_path PATH [L1 [L2 [L3]]]`: absolute path; "" = nginx's default
    # `client_body_temp` under the prefix (resolved by the runtime, which knows the prefix).
    client_body_temp_path: str = ""
    client_body_temp_levels: tuple[int, ...] = ()
    send_timeout: float = d.DEFAULT_SEND_TIMEOUT
    keepalive_timeout: float = d.DEFAULT_KEEPALIVE_TIMEOUT
    keepalive_header_timeout: float | None = None  # second parameter: "Keep-Alive: timeout=N"
    keepalive_requests: int = d.DEFAULT_KEEPALIVE_REQUESTS
    keepalive_time: float = d.DEFAULT_KEEPALIVE_TIME
    keepalive_disable: tuple[str, ...] = d.DEFAULT_KEEPALIVE_DISABLE
    add_headers: tuple[AddHeader, ...] = ()
    error_pages: dict[int, ErrorPage] = field(default_factory=dict)
    access_logs: tuple[AccessLog, ...] = ()  # empty = `access_log off`
    error_logs: tuple[ErrorLog, ...] = ()  # empty = the main context's error_log
    expires: Expires = field(default_factory=Expires)
    set_real_ip_from: tuple[IPNetwork, ...] = ()
    real_ip_header: str = d.DEFAULT_REAL_IP_HEADER
    real_ip_recursive: bool = False
    access_rules: tuple[AccessRule, ...] = ()  # allow / deny
    rewrite_log: bool = False  # notice-level lines for the rewrite module's matches
    # `internal`: only internal redirects (error_page, try_files, index, a rewrite that
    # changed the URI) may use this location; an external request gets 404. Not inherited.
    internal: bool = False
    uninitialized_variable_warn: bool = True  # warn when an unassigned `set` variable is read
    proxy: ProxySettings = field(default_factory=ProxySettings)
    limits: LimitSettings = field(default_factory=LimitSettings)  # limit_req, limit_conn
    # How a connection ends (config/connection_handling.py).
    lingering_close: Literal["off", "on", "always"] = "on"
    lingering_time: float = d.DEFAULT_LINGERING_TIME
    lingering_timeout: float = d.DEFAULT_LINGERING_TIMEOUT
    reset_timedout_connection: bool = False
    static: StaticSettings = field(default_factory=StaticSettings)


LocationModifier = Literal["", "=", "^~", "~", "~*", "@"]


@dataclass(frozen=True, slots=True)
class LocationConfig:
    modifier: LocationModifier
    path: str  # prefix, exact path, regex source, or @name
    regex: re.Pattern[str] | None
    settings: HttpSettings
    proxy_pass: ProxyPass | None = None
    return_: Return | None = None
    health_checks: tuple[HealthCheckConfig, ...] = ()
    api_write: bool | None = None  # `api [write=on|off];` None = no api here
    metrics: bool = False  # hotdeploy extension `metrics;`: Prometheus exposition
    stub_status: bool = False  # `stub_status;` (ngx_http_stub_status_module)
    locations: tuple[LocationConfig, ...] = ()  # nested locations
    # The rewrite module's directives (config.script.Script), None when there are none or
    # when `return_` alone says everything (a request then takes the path it always took).
    # Typed Any: config.script imports this module.
    rewrites: Any = None
    source: Source | None = None


def walk_locations(locations: tuple[LocationConfig, ...]) -> list[LocationConfig]:
    """Every location and its nested ones, in file order (depth first)."""
    found: list[LocationConfig] = []
    for location in locations:
        found.append(location)
        found.extend(walk_locations(location.locations))
    return found


@dataclass(frozen=True, slots=True)
class Listen:
    host: str  # "0.0.0.0", "127.0.0.1", "::" ...
    port: int
    default_server: bool = False
    backlog: int = d.DEFAULT_BACKLOG
    ipv6only: bool = True
    source: Source | None = None
    ssl: bool = False  # `listen ... ssl`: connections on this addr:port speak TLS

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listens: tuple[Listen, ...]
    server_names: tuple[str, ...]  # as written: "example.com", "*.example.com", "~^re$", ""
    settings: HttpSettings  # server-level merged settings (used when no location matches)
    client_header_timeout: float = d.DEFAULT_CLIENT_HEADER_TIMEOUT
    client_header_buffer_size: int = d.DEFAULT_CLIENT_HEADER_BUFFER_SIZE
    large_client_header_buffers: tuple[int, int] = d.DEFAULT_LARGE_CLIENT_HEADER_BUFFERS
    # nginx: a request header name with '_' is invalid unless underscores_in_headers is on;
    # invalid header lines are dropped while ignore_invalid_headers is on (the default).
    underscores_in_headers: bool = False
    ignore_invalid_headers: bool = True
    merge_slashes: bool = True  # `merge_slashes`: "//a///b" is "/a/b" for location matching
    return_: Return | None = None  # server-level `return` (runs before location matching)
    # Server-level rewrite module directives (config.script.Script, nginx's SERVER_REWRITE
    # phase, before location matching); None when there are none beyond `return_`.
    rewrites: Any = None
    locations: tuple[LocationConfig, ...] = ()
    source: Source | None = None
    tls: ServerTls | None = None  # ssl_certificate & co. (None: no certificate here)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    upstreams: dict[str, UpstreamConfig]
    servers: tuple[ServerConfig, ...]
    matches: dict[str, MatchConfig] = field(default_factory=dict)
    log_formats: dict[str, LogFormat] = field(default_factory=dict)
    maps: dict[str, Any] = field(default_factory=dict)  # target name -> config.script.MapConfig
    set_variables: frozenset[str] = frozenset()  # names some `set` assigns (rewrite module)
    limit_zones: dict[str, LimitZone] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MainConfig:
    """The whole configuration, as `hotdeploy lb` runs it."""

    path: str  # absolute path of the main file
    prefix: str  # absolute prefix directory (with trailing slash)
    http: HttpConfig | None
    daemon: bool = d.DEFAULT_DAEMON
    pid_path: str | None = None  # absolute; None = `pid off`? (nginx has no off: always a path)
    error_logs: tuple[ErrorLog, ...] = ()
    worker_processes: int = d.DEFAULT_WORKER_PROCESSES
    # `worker_cpu_affinity`: one CPU set per worker (cycled), () = not set; "auto" is resolved
    # by the master (hotdeploy/cpus.py) against the cores it may use.
    worker_cpu_affinity: tuple[frozenset[int], ...] | str = ()
    worker_connections: int = d.DEFAULT_WORKER_CONNECTIONS
    # `user NAME [GROUP]` (None when absent) and `worker_rlimit_nofile N` (0 = not set): see
    # config/process.py for what hotdeploy does with them.
    user: tuple[str, str] | None = None
    user_source: Source | None = None
    worker_rlimit_nofile: int = 0
    files: tuple[str, ...] = ()  # every file read (main + includes), for `-T`
    file_texts: tuple[str, ...] = ()  # their text as read, parallel to `files` (for `-T`)
    # The loaded certificates as ssl.SSLContexts (hotdeploy.tls.contexts.TlsContexts), None
    # without TLS: loaded with the configuration, as nginx loads them (so -t checks them).
    tls: Any = None
