"""One instance's life against the runtime and the balancer: start, wait until healthy,
add, drain, stop. The executor, the supervisor and `scale` are all made of these."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from hotdeploy.control.lbclient import LbClient
from hotdeploy.control.state import ProjectPaths, ServiceState
from hotdeploy.errors import ControlError, DeployError
from hotdeploy.project.model import BalancerSection, DeploySection
from hotdeploy.runtimes.base import InstanceInfo, InstanceSpec, Release, Runtime

POLL = 0.1


@dataclass(slots=True)
class ServiceContext:
    """Everything an operation on one service's instances needs."""

    service: ServiceState
    upstream: str
    health: str
    cwd: str
    paths: ProjectPaths
    deploy: DeploySection
    balancer: BalancerSection
    runtime: Runtime
    lb: LbClient
    persist: Callable[[], None]
    emit: Callable[[str], None]


def log_tail(path: str, lines: int = 10) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def launch(ctx: ServiceContext, release: Release, backup: bool = False,
           instance_id: str | None = None) -> InstanceInfo:
    instance_id = instance_id or ctx.service.new_instance_id()
    spec = InstanceSpec(service=ctx.service.name, instance_id=instance_id, release=release,
                        health=ctx.health, cwd=ctx.cwd,
                        log_path=str(ctx.paths.instance_log(instance_id)))
    info = ctx.runtime.start(spec)
    info.backup = backup
    ctx.service.instances.append(info)
    ctx.persist()
    ctx.emit(f"started {info.instance_id} version={info.version} port={info.port} pid={info.pid}")
    return info


async def wait_healthy(ctx: ServiceContext, info: InstanceInfo) -> None:
    """Probe the instance's health URL until it answers 2xx/3xx (nginx's health_check rule);
    fail at once if the process exits, or after health_timeout, saying why."""
    url = f"http://{info.address}{ctx.health}"
    deadline = time.monotonic() + ctx.deploy.health_timeout
    last = "no answer yet"
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
        while True:
            if not ctx.runtime.alive(info):
                raise DeployError(f"{info.instance_id} (version {info.version}) exited before "
                                  f"it became healthy; last lines of {info.log_path}:\n"
                                  f"{log_tail(info.log_path)}")
            try:
                resp = await http.get(url)
                if 200 <= resp.status_code < 400:
                    ctx.emit(f"{info.instance_id} healthy ({url} -> {resp.status_code})")
                    return
                last = f"HTTP {resp.status_code} {resp.text[:200]!r}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise DeployError(f"{info.instance_id} (version {info.version}) did not become "
                                  f"healthy within {ctx.deploy.health_timeout:g}s: {url} -> "
                                  f"{last}; last lines of {info.log_path}:\n"
                                  f"{log_tail(info.log_path)}")
            await asyncio.sleep(POLL)


async def add(ctx: ServiceContext, info: InstanceInfo, weight: int = 1) -> None:
    """Add to the balancer and wait until the balancer reports it `up` (with `mandatory`
    health checks it is `checking` until its first check passes and gets no traffic)."""
    bal = ctx.balancer
    info.lb_id = await ctx.lb.add(ctx.upstream, info.address, weight=weight, backup=info.backup,
                                  max_fails=bal.max_fails, fail_timeout=bal.fail_timeout,
                                  slow_start=bal.slow_start)
    ctx.persist()
    deadline = time.monotonic() + ctx.deploy.health_timeout
    state = "?"
    while time.monotonic() < deadline:
        peer = next((p for p in await ctx.lb.peers(ctx.upstream) if p.id == info.lb_id), None)
        state = peer.state if peer else "missing"
        if state == "up":
            info.state = "serving"
            ctx.persist()
            ctx.emit(f"{info.instance_id} in service at {info.address} "
                     f"({'backup' if info.backup else 'weight ' + str(weight)})")
            return
        await asyncio.sleep(POLL)
    raise DeployError(f"{info.instance_id}: the balancer still reports it {state!r} after "
                      f"{ctx.deploy.health_timeout:g}s (health check {ctx.health})")


async def unlist(ctx: ServiceContext, info: InstanceInfo) -> None:
    """Drain in the balancer, wait until no request is in flight (up to drain_timeout),
    remove it from the balancer."""
    if info.lb_id is None:
        return
    info.state = "draining"
    ctx.persist()
    peer_id = info.lb_id
    with contextlib.suppress(ControlError):  # gone already is fine: removed below anyway
        await ctx.lb.patch(ctx.upstream, peer_id, drain=True)
    deadline = time.monotonic() + ctx.deploy.drain_timeout
    while time.monotonic() < deadline:
        peers = {p.id: p for p in await ctx.lb.peers(ctx.upstream)}
        if peer_id not in peers or peers[peer_id].active == 0:
            break
        await asyncio.sleep(POLL)
    else:
        ctx.emit(f"{info.instance_id}: requests still in flight after "
                 f"{ctx.deploy.drain_timeout:g}s drain_timeout; removing anyway")
    if peer_id in {p.id for p in await ctx.lb.peers(ctx.upstream)}:
        await ctx.lb.remove(ctx.upstream, peer_id)
    info.lb_id = None
    ctx.persist()


async def stop(ctx: ServiceContext, info: InstanceInfo) -> None:
    info.state = "stopping"
    ctx.persist()
    await ctx.runtime.stop(info, ctx.deploy.stop_grace)
    for pool in (ctx.service.instances, ctx.service.standby):
        if info in pool:
            pool.remove(info)
    ctx.persist()
    ctx.emit(f"stopped {info.instance_id}")


async def retire(ctx: ServiceContext, info: InstanceInfo) -> None:
    """Drain, remove from the balancer, stop."""
    await unlist(ctx, info)
    await stop(ctx, info)
    ctx.emit(f"retired {info.instance_id} (version {info.version})")
