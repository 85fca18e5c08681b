"""`status`: services, releases, instances, and the data plane's view of each server."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from hotdeploy.errors import ControlError
from hotdeploy.orchestrator.commands.base import Args, Emit, Result
from hotdeploy.orchestrator.controller import Controller
from hotdeploy.orchestrator.model import Instance
from hotdeploy.runtimes.base import RunState


class ServerStatus(Result):
    id: int
    state: str
    active: int
    requests: int
    errors: int
    weight: int


class InstanceStatus(Result):
    id: str
    version: str
    digest: str
    endpoint: str
    runtime: str
    ref: str
    state: str
    alive: bool
    backup: bool
    restarts: int
    details: dict[str, str]
    server: ServerStatus | None


class AutoscaleStatus(Result):
    min: int
    max: int
    inflight: int  # the target per instance
    window: float
    cooldown: float
    load: float | None  # in flight per instance over the last full window; None: measuring
    last: dict[str, Any]  # the last step: from, to, reason, status, at


class ServiceStatus(Result):
    name: str
    kind: str
    routes: list[str]
    upstream: str
    version: str
    digest: str
    previous: str | None
    desired: int
    strategy: str
    identical: bool  # every instance runs the current release's digest
    last_deploy: dict[str, Any]
    autoscale: AutoscaleStatus | None = None
    instances: list[InstanceStatus]
    standby: list[InstanceStatus]


class StatusResult(Result):
    project: str
    url: str
    control_pid: int
    ready: bool
    boot_error: str | None
    boot_log: list[str]
    strategy: str
    runtime: str
    dataplane: dict[str, Any]
    services: list[ServiceStatus]


async def run(ctl: Controller, args: Args, emit: Emit) -> StatusResult:
    up = await ctl.dataplane.running()
    services = []
    for name, routes in ctl.project.routes().items():
        svc = ctl.state.services.get(name)
        if svc is None:
            continue
        upstream = ctl.topology.upstream(name).name
        views: dict[str, ServerStatus] = {}
        if up:
            with contextlib.suppress(ControlError):
                views = {v.address: ServerStatus(
                    id=v.id, state=v.state, active=v.active, requests=v.requests,
                    errors=v.server_errors, weight=v.weight)
                    for v in await ctl.dataplane.servers(upstream)}
        instances = [await _instance(ctl, i, views) for i in svc.instances]
        services.append(ServiceStatus(
            name=name, kind="unit" if name in ctl.project.units else "service",
            routes=list(routes), upstream=upstream, version=svc.release.version,
            digest=svc.release.digest,
            previous=svc.previous.version if svc.previous else None, desired=svc.desired,
            strategy=ctl.project.strategy_for(name),
            identical=all(i.digest == svc.release.digest for i in svc.instances),
            last_deploy=svc.last_deploy, autoscale=_autoscale(ctl, name), instances=instances,
            standby=[await _instance(ctl, i, views) for i in svc.standby]))
    host, port = ctl.topology.listen
    return StatusResult(
        project=ctl.project.project.name, url=f"http://{host}:{port}",
        control_pid=os.getpid(), ready=ctl.ready, boot_error=ctl.boot_error,
        boot_log=ctl.boot_log, strategy=ctl.project.balancer.strategy,
        runtime=ctl.runtime.name, dataplane={**ctl.dataplane.describe(), "running": up},
        services=services)


def _autoscale(ctl: Controller, name: str) -> AutoscaleStatus | None:
    section = ctl.project.deployables()[name].autoscale
    if section is None:
        return None
    scaler = ctl.autoscaler().scalers.get(name)
    return AutoscaleStatus(min=section.min, max=section.max, inflight=section.inflight,
                           window=section.window, cooldown=section.cooldown,
                           load=scaler.load if scaler else None,
                           last=ctl.state.services[name].last_autoscale)


async def _instance(ctl: Controller, info: Instance,
                    views: dict[str, ServerStatus]) -> InstanceStatus:
    runtime = ctl.runtime_of_handle(info.handle)
    alive = await runtime.state(info.handle) == RunState.RUNNING
    return InstanceStatus(
        id=info.instance_id, version=info.version, digest=info.digest, endpoint=info.address,
        runtime=info.handle.runtime, ref=info.handle.ref, state=str(info.state), alive=alive,
        backup=info.backup, restarts=info.restarts, details=dict(info.handle.details),
        server=views.get(info.address))
