"""A `proxy_pass` with variables (ngx_http_proxy_eval): the URL is evaluated per request; a
host naming an upstream group uses that group, any other name is resolved with the location's
`resolver` and reached through a one-off group of its addresses (nginx's implicit upstream:
no state kept between requests). Plans without variables never come here."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from hotdeploy.config.addresses import is_ip, key_text
from hotdeploy.config.model import ProxyPass, ServerSpec, UpstreamConfig
from hotdeploy.proxy.dns_client import DnsClient, ResolveError
from hotdeploy.proxy.exchange import Exchange
from hotdeploy.proxy.planner import build_plan
from hotdeploy.proxy.request import log_context, request_error_log
from hotdeploy.proxy.variable_target import Target, parse_target
from hotdeploy.upstream.group import PeerGroup

if TYPE_CHECKING:
    from hotdeploy.proxy.request import Request

# `client` is a proxy.client.ClientConnection (which imports this module, so typed Any).
PLAN_CACHE_LIMIT = 1024  # derived plans kept per generation (emptied when it grows past)


class VariablePass:
    """Per runtime generation: the derived plans and the DNS cache."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        http = runtime.config.http
        self.upstreams = http.upstreams if http is not None else {}
        self.explicit = {name.lower(): name for name, up in self.upstreams.items()
                         if ":" not in name}  # implicit upstreams are named host:port
        self.plans: dict[tuple[int, str, str, int, str | None], Any] = {}
        self.dns = DnsClient()
        self.waiting: set[int] = set()  # id(request) while its name resolves

    def plan_for(self, plan: Any, upstream: str, target: Target) -> Any:
        """`plan` with the evaluated target: its Host header, URI and upstream group."""
        key = (id(plan), upstream, target.proxy_host, target.connect_port, target.uri)
        derived = self.plans.get(key)
        if derived is None:
            runtime = self.runtime
            base: ProxyPass = plan.variable_pass
            pp = dataclasses.replace(base, upstream=upstream, proxy_host=target.proxy_host,
                                     port=target.connect_port)
            location = dataclasses.replace(plan.location, proxy_pass=pp)
            http = runtime.config.http
            derived = build_plan(plan.server, location, self.upstreams, runtime.log_files,
                                 runtime.config.prefix, runtime.limit_zones, http.limit_zones)
            # What a script decided for this request's plan stays as it was.
            derived.kind, derived.script, derived.limits = plan.kind, plan.script, plan.limits
            derived.settings = plan.settings
            derived.fixed_uri = target.uri
            derived.variable_pass = None  # this plan's target is decided
            if len(self.plans) >= PLAN_CACHE_LIMIT:
                self.plans.clear()
            self.plans[key] = derived
        return derived


def _state(runtime: Any) -> VariablePass:
    state = runtime.variable_pass
    if state is None:
        state = runtime.variable_pass = VariablePass(runtime)
    return state


def dispatch(client: Any, req: Request) -> None:
    plan: Any = req.plan
    state = _state(req.runtime)
    if id(req) in state.waiting:
        return  # dispatched again when its body completed: the resolution is under way
    url = plan.variable_pass.template.render(req)
    target = parse_target(url)
    if isinstance(target, str):
        _log(client, req, target)
        client.respond(req, 500)
        return
    if target.port is None:
        explicit = state.explicit.get(target.host.lower())
        if explicit is not None:
            _start(client, req, state.plan_for(plan, explicit, target), None)
            return
    implicit = key_text(target.host, target.connect_port)
    if implicit in state.upstreams:  # an implicit upstream of a literal proxy_pass
        _start(client, req, state.plan_for(plan, implicit, target), None)
        return
    if is_ip(target.host.strip("[]")):
        _start(client, req, state.plan_for(plan, target.proxy_host, target),
               (target.host.strip("[]"),))
        return
    resolver = plan.variable_pass.resolver
    if resolver is None:
        _log(client, req, f"no resolver defined to resolve {target.host}")
        client.respond(req, 502)
        return
    try:
        addrs = state.dns.cached(target.host, resolver)
    except ResolveError as exc:
        _log(client, req, f"{target.host} could not be resolved ({exc.text})")
        client.respond(req, 502)
        return
    if addrs is not None:
        _start(client, req, state.plan_for(plan, target.proxy_host, target), addrs)
        return
    state.waiting.add(id(req))
    client.loop.create_task(_resolve_then_start(client, req, state, target))


async def _resolve_then_start(client: Any, req: Request, state: VariablePass,
                              target: Target) -> None:
    plan: Any = req.plan
    try:
        addrs: tuple[str, ...] | None = await state.dns.resolve(
            target.host, plan.variable_pass.resolver)
        error = ""
    except ResolveError as exc:
        addrs, error = None, exc.text
    finally:
        state.waiting.discard(id(req))
    if client.closed or not client.queue or client.queue[0] is not req or req.status:
        return  # the client went away meanwhile
    if addrs is None:
        _log(client, req, f"{target.host} could not be resolved ({error})")
        client.respond(req, 502)
        return
    _start(client, req, state.plan_for(plan, target.proxy_host, target), addrs)


def _start(client: Any, req: Request, plan: Any,
           addrs: tuple[str, ...] | None) -> None:
    req.plan = plan
    exchange = client.exchange = Exchange(client, req, req.runtime)
    if addrs is not None:
        port = plan.location.proxy_pass.port
        name = plan.location.proxy_pass.proxy_host
        specs = tuple(ServerSpec(name=name, host=addr, port=port) for addr in addrs)
        exchange.group = PeerGroup(UpstreamConfig(name=name, servers=specs))
    exchange.start()


def _log(client: Any, req: Request, message: str) -> None:
    error_log = request_error_log(req)
    if error_log.enabled("error"):
        error_log.log("error", message + log_context(req), req.cid)
