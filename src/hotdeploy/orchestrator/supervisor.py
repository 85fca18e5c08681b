"""Keeps instances alive: a crashed instance is taken out of the balancer and restarted with
back-off; one that keeps crashing is marked failed and reported, not restarted forever.
Also stops a blue-green standby set when its keep time is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hotdeploy import defaults as d
from hotdeploy.errors import ControlError, DeployError
from hotdeploy.orchestrator import instances as ops
from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.backoff import RestartPolicy, decide
from hotdeploy.orchestrator.model import Instance, InstanceState
from hotdeploy.runtimes.base import RunState


class Supervisor:
    def __init__(self, contexts: Callable[[], dict[str, ops.ServiceContext]],
                 locks: dict[str, asyncio.Lock], policy: RestartPolicy,
                 log: Callable[[str], None], clock: Callable[[], float] = time.time) -> None:
        self._contexts = contexts
        self._locks = locks
        self._policy = policy
        self._log = log
        self._restart_at: dict[str, float] = {}
        self._clock = clock

    async def run(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(d.CONTROL_POLL_INTERVAL)

    async def sweep(self) -> None:
        """One look at every service whose instances no command is changing right now."""
        for name, ctx in self._contexts().items():
            lock = self._locks[name]
            if lock.locked():
                continue  # a deploy owns this service's instances right now
            async with lock:
                try:
                    await self.check(ctx)
                except (ControlError, DeployError, OSError) as exc:
                    self._log(f"supervisor: {name}: {exc}")

    async def check(self, ctx: ops.ServiceContext) -> None:
        now = self._clock()
        for info in list(ctx.service.instances):
            if (info.state == InstanceState.SERVING
                    and await ctx.runtime.state(info.handle) == RunState.EXITED):
                await self._crashed(ctx, info, now, "exited")
            elif (info.state == InstanceState.CRASHED
                  and now >= self._restart_at.get(info.instance_id, 0)):
                await self._restart(ctx, info)
        svc = ctx.service
        if svc.standby and svc.standby_until is not None and now >= svc.standby_until:
            ctx.emit(f"{svc.name}: standby keep time over, stopping the old set")
            await rollout.drop_standby(ctx)

    async def _crashed(self, ctx: ops.ServiceContext, info: Instance, now: float,
                       why: str) -> None:
        was = info.state
        info.crashes = [*info.crashes, now][-20:]
        await ops.unlist(ctx, info)
        decision = decide(info.crashes, now, self._policy)
        info.move(InstanceState.CRASHED if decision.restart else InstanceState.FAILED)
        self._restart_at[info.instance_id] = now + decision.delay
        ctx.persist()
        ctx.emit(f"instance={info.instance_id} state={info.state} was={was} "
                 f"reason=\"{why}; {decision.reason}\"; last log lines:\n"
                 f"{await ops.log_tail(ctx, info)}")

    async def _restart(self, ctx: ops.ServiceContext, old: Instance) -> None:
        """The same release again (its snapshot: the bytes it ran before the crash), under
        the same instance id."""
        ctx.service.instances.remove(old)
        new = await ops.launch(ctx, ctx.service.release, backup=old.backup,
                               instance_id=old.instance_id, relocatable=True)
        new.crashes, new.restarts = old.crashes, old.restarts + 1
        try:
            await ops.wait_healthy(ctx, new)
            await ops.add(ctx, new)
        except (DeployError, ControlError) as exc:
            await ops.unlist(ctx, new)
            await ctx.runtime.stop(new.handle, ctx.deploy.stop_grace)
            await self._crashed(ctx, new, self._clock(), f"restart failed: {exc}")
