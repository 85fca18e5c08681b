"""The verbs that change a service: deploy, rollback, restart, scale. Each one plans (pure)
and executes (Executor); the control process serialises them per service."""

from __future__ import annotations

import time
from dataclasses import replace

from hotdeploy.deploy import instances as ops
from hotdeploy.deploy.executor import Executor, _all
from hotdeploy.deploy.planner import BlueGreen, Canary, Current, Rolling, Strategy, plan
from hotdeploy.deploy.verdict import Thresholds
from hotdeploy.errors import DeployError
from hotdeploy.project.model import DeploySection
from hotdeploy.runtimes.base import Release


def strategy_of(name: str, cfg: DeploySection) -> Strategy:
    rolling = Rolling(cfg.max_surge, cfg.max_unavailable)
    if name == "blue-green":
        return BlueGreen(keep=cfg.blue_green_keep)
    if name == "canary":
        return Canary(steps=cfg.canary.steps, pause=cfg.canary.pause, rolling=rolling)
    if name == "rolling":
        return rolling
    raise DeployError(f"unknown strategy {name!r}: expected rolling, blue-green or canary")


def thresholds_of(cfg: DeploySection) -> Thresholds:
    c = cfg.canary
    return Thresholds(c.max_error_rate_increase, c.max_latency_ratio, c.min_requests)


async def drop_standby(ctx: ops.ServiceContext) -> None:
    """Stop a blue-green standby set (its keep time is over, or a new deploy starts)."""
    svc = ctx.service
    await _all(ops.stop(ctx, i) for i in list(svc.standby))
    svc.standby_release = None
    svc.standby_until = None
    ctx.persist()


async def deploy(ctx: ops.ServiceContext, release: Release, strategy: str) -> None:
    svc = ctx.service
    await drop_standby(ctx)
    current = [Current(i.instance_id, i.backup) for i in svc.instances if i.state == "serving"]
    steps = plan(current, strategy_of(strategy, ctx.deploy))
    ctx.emit(f"deploying {svc.name} {svc.release.version} -> {release.version} ({strategy}, "
             f"{len(current)} instances, {len(steps)} steps)")
    started = time.time()
    svc.last_deploy = {"version": release.version, "strategy": strategy, "status": "running",
                       "started": started}
    ctx.persist()
    try:
        await Executor(ctx, release, thresholds_of(ctx.deploy)).run(steps)
    except DeployError as exc:
        svc.last_deploy.update(status="rolled back", message=str(exc), finished=time.time())
        ctx.persist()
        raise
    svc.previous, svc.release = svc.release, release
    svc.last_deploy.update(status="done", finished=time.time())
    ctx.persist()
    ctx.emit(f"{svc.name} is at version {release.version}")


async def rollback(ctx: ops.ServiceContext, strategy: str) -> None:
    """Back to the previous release: an instant swap while a blue-green standby is still
    running, otherwise a deploy of the previous release."""
    svc = ctx.service
    if svc.standby and svc.standby_release is not None:
        ctx.emit(f"swapping back to the standby set (version {svc.standby_release.version})")
        back = list(svc.standby)
        svc.standby.clear()
        svc.instances.extend(back)
        await _all(ops.add(ctx, i) for i in back)
        current = [i for i in svc.instances if i not in back]
        await _all(ops.retire(ctx, i) for i in current)
        svc.previous, svc.release = svc.release, svc.standby_release
        svc.standby_release = svc.standby_until = None
        svc.last_deploy = {"version": svc.release.version, "strategy": "rollback",
                           "status": "done", "finished": time.time()}
        ctx.persist()
        return
    if svc.previous is None:
        raise DeployError(f"{svc.name} has no previous version to roll back to")
    await deploy(ctx, svc.previous, "rolling" if strategy == "canary" else strategy)


async def restart(ctx: ops.ServiceContext) -> None:
    """A rolling replacement by fresh processes of the same release."""
    previous = ctx.service.previous
    await deploy(ctx, ctx.service.release, "rolling")
    ctx.service.previous = previous  # a restart is not a version to roll back to
    ctx.persist()


async def scale(ctx: ops.ServiceContext, count: int, active_passive: bool) -> None:
    svc = ctx.service
    if count < 1 or (active_passive and count < 2):
        raise DeployError(f"{svc.name}: expected at least {2 if active_passive else 1} instances")
    serving = [i for i in svc.instances if i.state == "serving"]
    if count > len(serving):
        new = [ops.launch(ctx, svc.release) for _ in range(count - len(serving))]
        try:
            await _all(ops.wait_healthy(ctx, i) for i in new)
            await _all(ops.add(ctx, i) for i in new)
        except DeployError:
            await _all(ops.retire(ctx, i) for i in new)
            raise
    else:
        primaries = [i for i in serving if not i.backup]
        await _all(ops.retire(ctx, i) for i in primaries[count - len(serving):][::-1])
    svc.desired = count
    ctx.persist()
    ctx.emit(f"{svc.name} runs {count} instances")


def release_with(base: Release, version: str | None, app: str | None, command: str | None,
                 env: dict[str, str]) -> Release:
    """The release a `deploy` asks for: the current one with the given changes."""
    changed = replace(base, env={**base.env, **env})
    if app is not None:
        changed = replace(changed, app=app, command=None, artifacts=None)
    if command is not None:
        changed = replace(changed, command=command, app=None, artifacts=None)
    return replace(changed, version=version or base.version)
