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
from typing import Literal, Protocol

from hotdeploy import defaults as d
from hotdeploy.config.addresses import key_text

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
    """One `access_log PATH [FORMAT] [buffer=SIZE] [flush=TIME];` (absolute path)."""

    path: str
    format: LogFormat
    buffer: int = 0  # 0 = unbuffered: a line is written when its request completes
    flush: float = 0.0


@dataclass(frozen=True, slots=True)
class ErrorLog:
    path: str  # absolute, or "stderr"
    level: str = d.DEFAULT_ERROR_LOG_LEVEL


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
    set_real_ip_from: tuple[IPNetwork, ...] = ()
    real_ip_header: str = d.DEFAULT_REAL_IP_HEADER
    real_ip_recursive: bool = False
    access_rules: tuple[AccessRule, ...] = ()  # allow / deny
    proxy: ProxySettings = field(default_factory=ProxySettings)


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
    locations: tuple[LocationConfig, ...] = ()  # nested locations
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
    return_: Return | None = None  # server-level `return` (runs before location matching)
    locations: tuple[LocationConfig, ...] = ()
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class HttpConfig:
    upstreams: dict[str, UpstreamConfig]
    servers: tuple[ServerConfig, ...]
    matches: dict[str, MatchConfig] = field(default_factory=dict)
    log_formats: dict[str, LogFormat] = field(default_factory=dict)


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
    files: tuple[str, ...] = ()  # every file read (main + includes), for `-T`
    file_texts: tuple[str, ...] = ()  # their text as read, parallel to `files` (for `-T`)
