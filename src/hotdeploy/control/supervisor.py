"""Keeps instances alive: a crashed instance is taken out of the balancer and restarted with
back-off; one that keeps crashing is marked failed and reported, not restarted forever.
Also stops a blue-green standby set when its keep time is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hotdeploy import defaults as d
from hotdeploy.deploy import actions
from hotdeploy.deploy import instances as ops
from hotdeploy.deploy.backoff import RestartPolicy, decide
from hotdeploy.errors import ControlError, DeployError
from hotdeploy.runtimes.base import InstanceInfo


class Supervisor:
    def __init__(self, contexts: Callable[[], dict[str, ops.ServiceContext]],
                 locks: dict[str, asyncio.Lock], policy: RestartPolicy,
                 log: Callable[[str], None]) -> None:
        self._contexts = contexts
        self._locks = locks
        self._policy = policy
        self._log = log
        self._restart_at: dict[str, float] = {}

    async def run(self) -> None:
        while True:
            for name, ctx in self._contexts().items():
                lock = self._locks[name]
                if lock.locked():
                    continue  # a deploy owns this service's instances right now
                async with lock:
                    try:
                        await self.check(ctx)
                    except (ControlError, DeployError, OSError) as exc:
                        self._log(f"supervisor: {name}: {exc}")
            await asyncio.sleep(d.CONTROL_POLL_INTERVAL)

    async def check(self, ctx: ops.ServiceContext) -> None:
        now = time.time()
        for info in list(ctx.service.instances):
            if info.state == "serving" and not ctx.runtime.alive(info):
                await self._crashed(ctx, info, now, "exited")
            elif info.state == "crashed" and now >= self._restart_at.get(info.instance_id, 0):
                await self._restart(ctx, info)
        svc = ctx.service
        if svc.standby and svc.standby_until is not None and now >= svc.standby_until:
            ctx.emit(f"{svc.name}: standby keep time over, stopping the old set")
            await actions.drop_standby(ctx)

    async def _crashed(self, ctx: ops.ServiceContext, info: InstanceInfo, now: float,
                       why: str) -> None:
        info.crashes = [*info.crashes, now][-20:]
        await ops.unlist(ctx, info)
        decision = decide(info.crashes, now, self._policy)
        info.state = "crashed" if decision.restart else "failed"
        self._restart_at[info.instance_id] = now + decision.delay
        ctx.persist()
        ctx.emit(f"instance={info.instance_id} state={info.state} was=serving "
                 f"reason=\"{why}; {decision.reason}\"; log: {info.log_path}")

    async def _restart(self, ctx: ops.ServiceContext, old: InstanceInfo) -> None:
        ctx.service.instances.remove(old)
        new = ops.launch(ctx, ctx.service.release, backup=old.backup,
                         instance_id=old.instance_id)
        new.crashes, new.restarts = old.crashes, old.restarts + 1
        try:
            await ops.wait_healthy(ctx, new)
            await ops.add(ctx, new)
        except (DeployError, ControlError) as exc:
            await ops.unlist(ctx, new)
            await ctx.runtime.stop(new, ctx.deploy.stop_grace)
            new.state = "serving"  # so that _crashed records it like any other crash
            await self._crashed(ctx, new, time.time(), f"restart failed: {exc}")
