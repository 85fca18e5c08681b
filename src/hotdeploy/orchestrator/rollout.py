"""How a service changes: deploy a release, swap back to a standby set, restart, scale, top
up. Each plans (pure) and executes (Executor); the commands call these, one service at a time
(the controller holds a lock per service)."""

from __future__ import annotations

import time

from hotdeploy.errors import DeployError
from hotdeploy.orchestrator import instances as ops
from hotdeploy.orchestrator.executor import Executor, run_all
from hotdeploy.orchestrator.model import Instance, InstanceState
from hotdeploy.orchestrator.planner import BlueGreen, Canary, Current, Rolling, Strategy, plan
from hotdeploy.orchestrator.releases import Release
from hotdeploy.orchestrator.verdict import Thresholds
from hotdeploy.project.model import DeploySection


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
    await run_all(ops.stop(ctx, i) for i in list(svc.standby))
    svc.standby_release = None
    svc.standby_until = None
    ctx.persist()


async def prune(ctx: ops.ServiceContext) -> None:
    """Forget crashed and failed instances (a deploy or scale replaces them)."""
    for info in [i for i in ctx.service.instances
                 if i.state in (InstanceState.CRASHED, InstanceState.FAILED)]:
        await ops.unlist(ctx, info)
        await ops.stop(ctx, info)


async def top_up(ctx: ops.ServiceContext, active_passive: bool,
                 counting: list[Instance] | None = None) -> None:
    """Start instances of the current release until `desired` serve, counting `counting`
    (default: every serving instance), one of them a backup under active-passive. They join
    the balancer only once healthy; if one fails, all of them are taken out again."""
    svc = ctx.service
    serving = svc.serving() if counting is None else counting
    backups_missing = int(active_passive) - sum(1 for i in serving if i.backup)
    new = [await ops.launch(ctx, svc.release, backup=index < backups_missing)
           for index in range(max(0, svc.desired - len(serving)))]
    try:
        await run_all(ops.wait_healthy(ctx, i) for i in new)
        await run_all(ops.add(ctx, i) for i in new)
    except DeployError:
        await run_all(ops.retire(ctx, i) for i in new)
        raise


async def converge(ctx: ops.ServiceContext, active_passive: bool) -> None:
    """After adoption (a control process that died mid-deploy): back to `desired` serving
    instances of the current release. Replacements start and pass their checks before the
    instances of another release, and any beyond `desired`, are drained and stopped."""
    svc = ctx.service
    foreign = [i for i in svc.serving() if i.version != svc.release.version]
    if foreign:
        ctx.emit(f"{len(foreign)} instances of an interrupted deploy serve another release: "
                 f"replacing them with {svc.release.version}")
        await top_up(ctx, active_passive, [i for i in svc.serving() if i not in foreign])
        await run_all(ops.retire(ctx, i) for i in foreign)
    await run_all(ops.retire(ctx, i) for i in reversed(svc.serving()[svc.desired:]))
    await top_up(ctx, active_passive)  # a backup retired above comes back as a backup


async def deploy(ctx: ops.ServiceContext, release: Release, strategy: str,
                 active_passive: bool = False) -> None:
    svc = ctx.service
    if strategy == "canary" and not ctx.dataplane.capabilities.server_counters:
        raise DeployError(f"a canary deploy compares per-server counters, and the "
                          f"{ctx.dataplane.engine} engine has none: use rolling or blue-green")
    await drop_standby(ctx)
    await prune(ctx)
    current = [Current(i.instance_id, i.backup) for i in svc.serving()]
    steps = plan(current, strategy_of(strategy, ctx.deploy))
    ctx.emit(f"deploying {svc.name} {svc.release.version} -> {release.version} "
             f"(release {release.short_digest}, {strategy}, {len(current)} instances, "
             f"{len(steps)} steps)")
    started = time.time()
    svc.last_deploy = {"version": release.version, "digest": release.digest,
                       "strategy": strategy, "status": "running", "started": started}
    ctx.persist()
    try:
        await Executor(ctx, release, thresholds_of(ctx.deploy)).run(steps)
    except DeployError as exc:
        svc.last_deploy.update(status="rolled back", message=str(exc), finished=time.time())
        ctx.persist()
        raise
    svc.previous, svc.release = svc.release, release
    await top_up(ctx, active_passive)  # instances lost to crashes come back as the new release
    svc.last_deploy.update(status="done", finished=time.time())
    ctx.persist()
    ctx.emit(f"{svc.name} is at version {release.version}")


def can_swap_back(ctx: ops.ServiceContext, target: Release | None) -> bool:
    """A blue-green standby set still runs the release asked for (or, with none asked, the
    previous one): rollback is then an instant swap, with no instance started."""
    svc = ctx.service
    if not svc.standby or svc.standby_release is None:
        return False
    return target is None or target.version == svc.standby_release.version


async def swap_back(ctx: ops.ServiceContext) -> Release:
    svc = ctx.service
    assert svc.standby_release is not None
    ctx.emit(f"swapping back to the standby set (version {svc.standby_release.version})")
    back = list(svc.standby)
    svc.standby.clear()
    svc.instances.extend(back)
    await run_all(ops.add(ctx, i) for i in back)
    current = [i for i in svc.instances if i not in back]
    await run_all(ops.retire(ctx, i) for i in current)
    svc.previous, svc.release = svc.release, svc.standby_release
    svc.standby_release = svc.standby_until = None
    svc.last_deploy = {"version": svc.release.version, "digest": svc.release.digest,
                       "strategy": "rollback", "status": "done", "finished": time.time()}
    ctx.persist()
    return svc.release


async def restart(ctx: ops.ServiceContext, active_passive: bool = False) -> None:
    """A rolling replacement by fresh processes of the same release."""
    previous = ctx.service.previous
    await deploy(ctx, ctx.service.release, "rolling", active_passive)
    ctx.service.previous = previous  # a restart is not a version to roll back to
    ctx.persist()


async def scale(ctx: ops.ServiceContext, count: int, active_passive: bool) -> None:
    svc = ctx.service
    if count < 1 or (active_passive and count < 2):
        raise DeployError(f"{svc.name}: expected at least {2 if active_passive else 1} instances")
    await prune(ctx)
    serving = svc.serving()
    if count > len(serving):
        before, svc.desired = svc.desired, count
        try:
            await top_up(ctx, active_passive)
        except DeployError:
            # The new instances were taken out again: keep asking for what serves, or the
            # next boot's converge would retry a step that just failed.
            svc.desired = before
            ctx.persist()
            raise
    else:
        primaries = [i for i in serving if not i.backup]
        await run_all(ops.retire(ctx, i) for i in primaries[count - len(serving):][::-1])
    svc.desired = count
    ctx.persist()
    ctx.emit(f"{svc.name} runs {count} instances")
