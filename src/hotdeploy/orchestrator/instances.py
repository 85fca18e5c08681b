"""One instance's life against the runtime and the data plane: start, wait until healthy,
add, drain, stop. The executor, the supervisor and `scale` are all made of these.

What the data plane can do is read from its capabilities: with live drain counts an instance
leaves when its last request is done; without them it is removed and given `drain_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from hotdeploy.dataplane.base import DataPlane, NewServer
from hotdeploy.errors import ControlError, DeployError
from hotdeploy.orchestrator.model import Instance, InstanceState, ServiceState
from hotdeploy.orchestrator.releases import Release
from hotdeploy.project.model import DeploySection
from hotdeploy.project.topology import UpstreamSpec
from hotdeploy.runtimes.base import InstanceSpec, RunState, Runtime

POLL = 0.1
LOG_LINES = 10

Probe = Callable[[str], Awaitable[tuple[bool, str]]]


async def http_probe(url: str) -> tuple[bool, str]:
    """(healthy, what was seen): 2xx/3xx is healthy, as nginx's health_check counts it."""
    try:
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
            resp = await http.get(url)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return 200 <= resp.status_code < 400, f"HTTP {resp.status_code} {resp.text[:200]!r}"


@dataclass(slots=True)
class ServiceContext:
    """Everything an operation on one service's instances needs."""

    project: str
    service: ServiceState
    upstream: UpstreamSpec
    health: str
    deploy: DeploySection
    runtime: Runtime
    dataplane: DataPlane
    persist: Callable[[], None]
    emit: Callable[[str], None]
    probe: Probe = http_probe
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


async def log_tail(ctx: ServiceContext, info: Instance) -> str:
    try:
        lines = await ctx.runtime.logs(info.handle, LOG_LINES)
    except Exception as exc:  # a log that cannot be read must not hide the error, but says why
        return f"(no log: {exc})"
    return "\n".join(lines) or "(empty log)"


async def launch(ctx: ServiceContext, release: Release, backup: bool = False,
                 instance_id: str | None = None, relocatable: bool = False) -> Instance:
    """`relocatable`: a restart or a rollback's replacement (see InstanceSpec)."""
    instance_id = instance_id or ctx.service.new_instance_id()
    spec = InstanceSpec(project=ctx.project, service=ctx.service.name, instance_id=instance_id,
                        release=release, health=ctx.health, relocatable=relocatable)
    handle = await ctx.runtime.start(spec)
    info = Instance(service=ctx.service.name, instance_id=instance_id, version=release.version,
                    digest=release.digest, handle=handle, backup=backup)
    ctx.service.instances.append(info)
    ctx.persist()
    ctx.emit(f"started {info.instance_id} version={info.version} "
             f"release={release.short_digest} at {info.address}")
    return info


async def wait_healthy(ctx: ServiceContext, info: Instance) -> None:
    """Probe the instance's health URL until it answers 2xx/3xx (nginx's health_check rule);
    fail at once if it exits, or after health_timeout, saying why."""
    url = f"http://{info.address}{ctx.health}"
    deadline = ctx.clock() + ctx.deploy.health_timeout
    last = "no answer yet"
    while True:
        if await ctx.runtime.state(info.handle) == RunState.EXITED:
            raise DeployError(f"{info.instance_id} (version {info.version}) exited before "
                              f"it became healthy; its last log lines:\n"
                              f"{await log_tail(ctx, info)}")
        healthy, seen = await ctx.probe(url)
        if healthy:
            ctx.emit(f"{info.instance_id} healthy ({url} -> {seen[:60]})")
            return
        last = seen
        if ctx.clock() >= deadline:
            raise DeployError(f"{info.instance_id} (version {info.version}) did not become "
                              f"healthy within {ctx.deploy.health_timeout:g}s: {url} -> "
                              f"{last}; its last log lines:\n{await log_tail(ctx, info)}")
        await ctx.sleep(POLL)


async def add(ctx: ServiceContext, info: Instance, weight: int = 1) -> None:
    """Add to the data plane and wait until it reports the server `up` (with `mandatory`
    active checks it is `checking` until its first check passes, and gets no traffic)."""
    spec = ctx.upstream
    info.server_id = await ctx.dataplane.add(spec.name, NewServer(
        address=info.address, weight=weight, backup=info.backup, max_fails=spec.max_fails,
        fail_timeout=spec.fail_timeout, slow_start=spec.slow_start))
    ctx.persist()
    deadline = ctx.clock() + ctx.deploy.health_timeout
    state = "?"
    while ctx.clock() < deadline:
        view = next((s for s in await ctx.dataplane.servers(spec.name)
                     if s.id == info.server_id), None)
        state = view.state if view else "missing"
        if state == "up":
            info.move(InstanceState.SERVING)
            ctx.persist()
            ctx.emit(f"{info.instance_id} in service at {info.address} "
                     f"({'backup' if info.backup else 'weight ' + str(weight)})")
            return
        await ctx.sleep(POLL)
    raise DeployError(f"{info.instance_id}: the balancer still reports it {state!r} after "
                      f"{ctx.deploy.health_timeout:g}s (health check {ctx.health})")


async def unlist(ctx: ServiceContext, info: Instance) -> None:
    """Take out of the data plane without cutting a request short: drain and wait until
    nothing is in flight (up to drain_timeout) where the engine counts in-flight requests;
    otherwise remove it and give the requests it has drain_timeout."""
    if info.server_id is None:
        return
    info.move(InstanceState.DRAINING)
    ctx.persist()
    upstream, server_id = ctx.upstream.name, info.server_id
    if ctx.dataplane.capabilities.drain_counts:
        with contextlib.suppress(ControlError):  # gone already is fine: removed below anyway
            await ctx.dataplane.update(upstream, server_id, drain=True)
        deadline = ctx.clock() + ctx.deploy.drain_timeout
        while ctx.clock() < deadline:
            views = {s.id: s for s in await ctx.dataplane.servers(upstream)}
            if server_id not in views or views[server_id].active == 0:
                break
            await ctx.sleep(POLL)
        else:
            ctx.emit(f"{info.instance_id}: requests still in flight after "
                     f"{ctx.deploy.drain_timeout:g}s drain_timeout; removing anyway")
        if server_id in {s.id for s in await ctx.dataplane.servers(upstream)}:
            await ctx.dataplane.remove(upstream, server_id)
    else:
        await ctx.dataplane.remove(upstream, server_id)
        ctx.emit(f"{info.instance_id}: removed; the {ctx.dataplane.engine} engine does not "
                 f"count in-flight requests, so it gets {ctx.deploy.drain_timeout:g}s "
                 f"drain_timeout")
        await ctx.sleep(ctx.deploy.drain_timeout)
    info.server_id = None
    ctx.persist()


async def stop(ctx: ServiceContext, info: Instance) -> None:
    info.move(InstanceState.STOPPING)
    ctx.persist()
    await ctx.runtime.stop(info.handle, ctx.deploy.stop_grace)
    for pool in (ctx.service.instances, ctx.service.standby):
        if info in pool:
            pool.remove(info)
    ctx.persist()
    ctx.emit(f"stopped {info.instance_id}")


async def retire(ctx: ServiceContext, info: Instance) -> None:
    """Drain, remove from the data plane, stop."""
    await unlist(ctx, info)
    await stop(ctx, info)
    ctx.emit(f"retired {info.instance_id} (version {info.version})")
