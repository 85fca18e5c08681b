"""One configuration generation as the data path uses it, and the holder swapped on reload.

A client connection reads `holder.current` at the start of each request, so keep-alive
connections move to a new configuration at their next request while in-flight requests finish
on the generation they started with. Observed peer state is carried across generations by
`rebuild_groups` (issue 3: reloads keep passive failures, health and counters).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import time
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config.model import LocationConfig, MainConfig, ServerConfig, walk_locations
from hotdeploy.config.script import script_locations
from hotdeploy.proxy.limiting import ZoneStates
from hotdeploy.proxy.logs import ErrorLog, LogFiles
from hotdeploy.proxy.plan import LocationPlan
from hotdeploy.proxy.planner import build_plan
from hotdeploy.proxy.request import log_context, request_error_log
from hotdeploy.proxy.upstream import UpstreamPool

POOL_SWEEP_INTERVAL = d.UPSTREAM_POOL_SWEEP_INTERVAL
SERVER_CACHE_SIZE = d.ROUTE_SERVER_CACHE_SIZE
ROUTE_CACHE_SIZE = d.ROUTE_PLAN_CACHE_SIZE


class Runtime:
    def __init__(self, config: MainConfig, router: Any, groups: dict[str, Any],
                 error_log: ErrorLog, log_files: LogFiles,
                 previous_pools: dict[str, UpstreamPool] | None = None,
                 previous_zones: ZoneStates | None = None) -> None:
        self.config = config
        self.router = router
        self.groups = groups
        self.error_log = error_log
        self.log_files = log_files
        self.plans: dict[int, LocationPlan] = {}
        # id(server or location) -> the plan a script's `return` answers with (see
        # _returning_plan); map tables by target name (read by proxy.rewrite).
        self.returning: dict[int, LocationPlan] = {}
        self.maps: dict[str, Any] = {}
        self.set_names: frozenset[str] = frozenset()  # variables some `set` assigns
        self.pools: dict[str, UpstreamPool] = {}
        self.health_checker: Any = None
        self.inherited_checker: Any = None  # the previous generation's, adopted by start()
        self.health_checks: list[Any] = []
        self.zone: Any = None  # lb/zonesync.ZoneSync with worker_processes N, else None
        self.variable_pass: Any = None  # proxy/variable_pass.VariablePass, made on first use
        self._servers: dict[tuple[tuple[str, int], str | None], ServerConfig] = {}
        # listen -> host -> normalized path -> plan: the configuration is immutable for this
        # generation, so the answer of nginx's server + location search never changes.
        # Nested rather than keyed by one (listen, host, path) tuple: that tuple was built,
        # hashed and compared element by element on every request; here only the path (a new
        # string) is hashed, and the listen and host keys are usually the very objects stored.
        self._routes: dict[tuple[str, int], dict[str | None, dict[str, LocationPlan]]] = {}
        self._routes_held = 0  # plans in _routes (bounded by ROUTE_CACHE_SIZE)
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.limit_zones = ZoneStates(previous_zones)  # limit_req / limit_conn states
        http = config.http
        if http is None:
            return
        self.maps = http.maps
        self.set_names = http.set_variables
        self.limit_zones.bind(http.limit_zones)
        zones = (self.limit_zones, http.limit_zones)
        carried = previous_pools if previous_pools is not None else {}
        for name, upstream in http.upstreams.items():
            if upstream.keepalive <= 0:
                continue
            pool = carried.pop(name, None)
            if pool is None:
                pool = UpstreamPool(upstream.keepalive, upstream.keepalive_timeout)
            else:
                # A reload keeps warm upstream connections (no reconnect storm after SIGHUP).
                pool.size, pool.timeout = upstream.keepalive, upstream.keepalive_timeout
                group = groups.get(name)
                pool.adopt({p.key: p for p in group.peers} if group is not None else {})
            self.pools[name] = pool
        for server in http.servers:
            self.plans[id(server)] = build_plan(server, None, http.upstreams, log_files,
                                                config.prefix, *zones)
            for location in walk_locations(server.locations):
                self.plans[id(location)] = build_plan(server, location, http.upstreams,
                                                      log_files, config.prefix, *zones)
            self._script_plans(server, http.upstreams, log_files, config.prefix, zones)
        self._bind_error_logs()

    def _bind_error_logs(self) -> None:
        """Every plan writes its messages to its level's error_log, or to the main one."""
        for plan in (*self.plans.values(), *self.returning.values()):
            targets = plan.settings.error_logs
            plan.error_log = (self.log_files.error_log(
                tuple((log.path, log.level) for log in targets), self.error_log.pid)
                if targets else self.error_log)

    def _script_plans(self, server: ServerConfig, upstreams: dict[str, Any],
                      log_files: LogFiles, prefix: str,
                      zones: tuple[Any, ...]) -> None:
        """Plans for the implicit locations of `if` blocks, and the `script_return` twin of
        every plan a script can end in."""
        ends: list[ServerConfig | LocationConfig] = []
        if server.rewrites is not None:
            ends.append(server)
        for location in walk_locations(server.locations):
            if location.rewrites is None:
                continue
            ends.append(location)
            for implicit in script_locations(location.rewrites):
                self.plans[id(implicit)] = build_plan(server, implicit, upstreams, log_files,
                                                      prefix, *zones)
                ends.append(implicit)
        for end in ends:
            target = end if isinstance(end, LocationConfig) else None
            twin = build_plan(server, target, upstreams, log_files, prefix, *zones)
            twin.kind = "script_return"
            twin.script = False
            # nginx answers `return` in the rewrite phase, before allow/deny (access phase).
            twin.settings = dataclasses.replace(twin.settings, access_rules=())
            twin.limits = None  # and before limit_req / limit_conn (preaccess phase)
            self.returning[id(end)] = twin

    def uninitialized(self, req: Any, name: str) -> None:
        """A `set` variable read before this request assigned it: nginx's warning, unless
        `uninitialized_variable_warn off` where the request is."""
        plan = req.plan
        if plan is not None and not plan.settings.uninitialized_variable_warn:
            return
        error_log = request_error_log(req)
        if error_log.enabled("warn"):
            error_log.log("warn", f'using uninitialized "{name}" variable' + log_context(req),
                          req.cid)

    @property
    def logs(self) -> tuple[ErrorLog, LogFiles]:
        return self.error_log, self.log_files

    # ------------------------------------------------------------------ per request
    def route(self, listen_key: tuple[str, int], host: str | None, path: str) -> LocationPlan:
        """The plan for a request: server by Host, then location by path (nginx's order).
        A server-level `return` runs before location matching."""
        by_host = self._routes.get(listen_key)
        if by_host is not None:
            by_path = by_host.get(host)
            if by_path is not None:
                plan = by_path.get(path)
                if plan is not None:
                    return plan
        plan = self._route(listen_key, host, path)
        if self._routes_held >= ROUTE_CACHE_SIZE:
            self._routes.clear()  # bounded: a client spraying paths or hosts cannot grow it
            self._routes_held = 0
        self._routes.setdefault(listen_key, {}).setdefault(host, {})[path] = plan
        self._routes_held += 1
        return plan

    def _route(self, listen_key: tuple[str, int], host: str | None, path: str) -> LocationPlan:
        cache = self._servers
        key = (listen_key, host)
        server = cache.get(key)
        if server is None:
            server = self.router.find_server(listen_key, host)
            if len(cache) >= SERVER_CACHE_SIZE:
                cache.clear()  # bounded: a client spraying Host values cannot grow it
            cache[key] = server
        if server.return_ is not None or server.rewrites is not None:
            return self.plans[id(server)]  # before location matching (SERVER_REWRITE)
        location = self.router.find_location(server, path)
        return self.plans[id(location if location is not None else server)]

    def default_server(self, listen_key: tuple[str, int]) -> ServerConfig:
        return self.router.find_server(listen_key, None)

    # ------------------------------------------------------------------ lifecycle
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start what runs in the background for this generation.

        The active health checker (NGINX Plus `health_check`) is handed over from the previous
        generation on reload, so unchanged checks keep their schedule and verdicts.
        """
        self._loop = loop
        self._start_health_checks()
        # The configuration, modules and this generation's plans live as long as the process:
        # move them out of the cyclic GC's reach, or every full collection rescans them
        # (measured: a third of the per-request CPU time on a small proxy).
        gc.freeze()
        self._sweeper = loop.call_later(POOL_SWEEP_INTERVAL, self._sweep)

    def _start_health_checks(self) -> None:
        from hotdeploy.upstream.checker import HealthChecker

        checker = self.inherited_checker
        self.inherited_checker = None
        if checker is not None:
            checker.update(self.groups, self.health_checks)
        elif self.health_checks:
            checker = HealthChecker(self.groups, self.health_checks,
                                    _health_event_logger(self.error_log))
            checker.start()
        self.health_checker = checker

    def _sweep(self) -> None:
        if self._loop is None:
            return
        now = time.monotonic()  # the clock of the pools' stamps (Exchange)
        for pool in self.pools.values():
            pool.expire(now)
        self.log_files.flush()  # `access_log ... buffer=`: lines wait at most about a second
        self._sweeper = self._loop.call_later(POOL_SWEEP_INTERVAL, self._sweep)

    def stop(self) -> None:
        """Stop this generation's background work and close its idle upstream connections
        (connections in use finish their request and are then closed, not pooled)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._loop = None
        if self.health_checker is not None:
            stop = getattr(self.health_checker, "stop", None)
            if stop is not None:
                result = stop()
                if asyncio.iscoroutine(result):
                    with contextlib.suppress(RuntimeError):
                        asyncio.get_running_loop().create_task(result)
        for pool in self.pools.values():
            pool.close()
        self.pools = {}

    def reopen_logs(self) -> None:
        self.error_log.reopen()
        self.log_files.reopen()


def _health_sets(config: MainConfig) -> tuple[set[str], set[str]]:
    mandatory: set[str] = set()
    persistent: set[str] = set()
    if config.http is None:
        return mandatory, persistent
    for server in config.http.servers:
        for location in walk_locations(server.locations):
            for check in location.health_checks:
                if check.mandatory:
                    mandatory.add(check.upstream)
                    if check.persistent:
                        persistent.add(check.upstream)
    return mandatory, persistent


def _peer_event_logger(error_log: ErrorLog) -> Any:
    def on_event(event: Any) -> None:
        peer = event.peer
        if peer is not None and event.state in ("unavail", "unavailable"):
            # nginx: "[warn] upstream server temporarily disabled" (one line per transition).
            error_log.log("warn", f'upstream server temporarily disabled, upstream: '
                                  f'"http://{peer.address}/"')
        line = event.line() if hasattr(event, "line") else str(event)
        # The structured state line DESIGN.md asks for (the "no live upstreams" request line
        # itself is logged by the exchange, with its request context).
        error_log.log("notice", line)
    return on_event


def _health_event_logger(error_log: ErrorLog) -> Any:
    def on_event(upstream: str, change: Any) -> None:
        # NGINX Plus logs a peer turning unhealthy at [warn]; every change also gets the
        # structured state line.
        if change.state == "unhealthy":
            error_log.log("warn", f'peer is unhealthy while checking upstream "{upstream}", '
                                  f'peer: "{change.peer.address}", reason: "{change.reason}"')
        error_log.log("notice", f"upstream={upstream} server={change.peer.address} "
                                f'state={change.state} was={change.was} reason="{change.reason}"')
    return on_event


def build_runtime(config: MainConfig, previous: Runtime | None, now: float,
                  error_log: ErrorLog | None = None,
                  zones: ZoneStates | None = None) -> Runtime:
    """Build a generation; peer state, log files, the error log and the limit zones carry over
    from `previous`. `zones`: where the first generation's limit zones live (a worker process
    passes shared ones; by default they are this process's)."""
    from hotdeploy.config.routing import Router
    from hotdeploy.upstream.rebuild import rebuild_groups

    if error_log is None:
        if previous is not None:
            error_log = previous.error_log
        else:
            error_log = ErrorLog([(log.path, log.level) for log in config.error_logs]
                                 or [("stderr", "error")])
    log_files = previous.log_files if previous is not None else LogFiles()
    from hotdeploy.upstream.checker import collect_checks

    groups: dict[str, Any] = {}
    checks = collect_checks(config)
    if config.http is not None:
        mandatory, persistent = _health_sets(config)
        groups = rebuild_groups(previous.groups if previous is not None else {},
                                config.http.upstreams, now, mandatory=mandatory,
                                persistent=persistent, on_event=_peer_event_logger(error_log),
                                health_checked={check.upstream for check in checks},
                                wall_offset=time.time() - time.monotonic())
    router = Router(config.http) if config.http is not None else None
    # Pools carried over are removed from `previous.pools`, so `previous.stop()` closes only
    # the pools of upstreams that no longer exist (or lost `keepalive`).
    runtime = Runtime(config, router, groups, error_log, log_files,
                      previous.pools if previous is not None else None,
                      previous.limit_zones if previous is not None else zones)
    runtime.health_checks = checks
    if previous is not None:
        # Hand the running checker over; `previous.stop()` must then not stop it.
        runtime.inherited_checker, previous.health_checker = previous.health_checker, None
    return runtime


class RuntimeHolder:
    """The current generation; the process code swaps `current` on reload."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime

    def swap(self, runtime: Runtime) -> Runtime:
        old = self.current
        self.current = runtime
        return old
