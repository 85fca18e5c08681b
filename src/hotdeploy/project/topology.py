"""Project -> Topology: what any data plane must route, in engine-neutral terms. Pure.

The topology names the listeners, one upstream per service or unit (its balancing method,
passive-check limits, keep-alive pool and active check) and the routes (path prefixes, matched
longest first as nginx matches prefix locations). Servers are not part of it: they come and go
at run time through the DataPlane's add/update/remove.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotdeploy.project.model import Project, split_host_port


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """An active check (NGINX Plus `health_check`): a server passes when `uri` answers 2xx/3xx."""

    uri: str
    interval: float
    fails: int
    passes: int


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    name: str  # the data plane's name for it: svc_<name> or unit_<name>
    owner: str  # the service or unit it balances
    method: str  # round_robin | least_conn | ip_hash | hash | random
    hash_key: str
    keepalive: int
    max_fails: int
    fail_timeout: float
    slow_start: float
    retry_non_idempotent: bool
    health: HealthProbe | None  # None: passive checks only (the seed's strategies 1 and 3)


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    upstream: str
    primary: bool  # the owner's first route (a unit has one per artifact)


@dataclass(frozen=True, slots=True)
class Topology:
    project: str
    listen: tuple[str, int]
    admin_host: str
    upstreams: tuple[UpstreamSpec, ...]
    routes: tuple[Route, ...]  # longest prefix first

    def upstream(self, owner: str) -> UpstreamSpec:
        for spec in self.upstreams:
            if spec.owner == owner:
                return spec
        raise KeyError(owner)

    @property
    def has_catch_all(self) -> bool:
        """A route for "/" answers everything no longer prefix takes (nginx's `location /`)."""
        return any(route.prefix == "/" for route in self.routes)


def upstream_name(project: Project, owner: str) -> str:
    return f"unit_{owner}" if owner in project.units else f"svc_{owner}"


def topology_of(project: Project) -> Topology:
    bal = project.balancer
    upstreams = []
    for owner in project.deployables():
        probe = None
        # Active checks belong to the seed's strategy 2 only; strategies 1 and 3 rely on
        # passive checks, as the seed's configurations do. Deploys are health-gated by the
        # orchestrator's own probe in every strategy.
        if bal.strategy == "active-active-health":
            hc = bal.health_check
            probe = HealthProbe(project.health_of(owner), hc.interval, hc.fails, hc.passes)
        upstreams.append(UpstreamSpec(
            name=upstream_name(project, owner), owner=owner, method=bal.method,
            hash_key=bal.hash_key, keepalive=bal.keepalive, max_fails=bal.max_fails,
            fail_timeout=bal.fail_timeout, slow_start=bal.slow_start,
            retry_non_idempotent=bal.retry_non_idempotent, health=probe))
    routes = [Route(prefix, upstream_name(project, owner), primary=index == 0)
              for owner, prefixes in project.routes().items()
              for index, prefix in enumerate(prefixes)]
    routes.sort(key=lambda route: len(route.prefix), reverse=True)
    admin_host, _ = split_host_port(bal.admin_listen)
    return Topology(project=project.project.name, listen=split_host_port(bal.listen),
                    admin_host=admin_host, upstreams=tuple(upstreams), routes=tuple(routes))
