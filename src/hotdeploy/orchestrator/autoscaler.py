"""The autoscaling loop of the control process, next to the supervisor: it samples the
balancer's in-flight counts of every service with `autoscale`, asks the policy
(orchestrator.autoscale) and runs the step it decides with `rollout.scale`, the health-gated
code `hotdeploy scale` runs: new instances join only once healthy, removed ones are drained.

Each sample is taken under the service's lock, so no decision is made while a deploy,
rollback, restart or scale of the service runs; when the sample finds the service changed
since the last one (other instances, another release, another count), or an instance crashed
and is being restarted by the supervisor, the measurement starts afresh, so a decision never
acts on load measured on a count that changed under it. (The supervisor takes the same lock
for a moment every sweep, so a held lock alone says nothing: over SSH its sweep takes long
enough that pausing on it would keep the window from ever filling.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.errors import HotdeployError
from hotdeploy.orchestrator import instances as ops
from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.autoscale import Autoscale, AutoscalePolicy, Decision
from hotdeploy.orchestrator.model import InstanceState, ServiceState
from hotdeploy.project.model import AutoscaleSection


def policy_of(section: AutoscaleSection) -> AutoscalePolicy:
    return AutoscalePolicy(min=section.min, max=section.max, target=section.inflight,
                           window=section.window, cooldown=section.cooldown)


class Autoscaler:
    def __init__(self, sections: dict[str, AutoscaleSection],
                 context: Callable[[str], ops.ServiceContext], locks: dict[str, asyncio.Lock],
                 active_passive: bool, log: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._context = context
        self._locks = locks
        self._active_passive = active_passive
        self._log = log
        self._clock = clock
        self.scalers = {name: Autoscale(policy_of(section), clock())
                        for name, section in sections.items()}
        self._unmeasured: set[str] = set()  # told once: the engine counts no in-flight requests
        self._shapes: dict[str, Shape] = {}  # what each service looked like at its last sample

    async def run(self) -> None:
        """A loop per service: one that waits for its deploy, or takes a step (which waits
        for health checks), does not hold up the others."""
        await asyncio.gather(*(self._run(name, scaler) for name, scaler in self.scalers.items()))

    async def _run(self, name: str, scaler: Autoscale) -> None:
        while True:
            try:
                await self._tick(name, scaler)
            except Exception as exc:  # a bug must not end autoscaling for good: say so
                self._log(f"autoscale: {name}: internal error: {exc!r}")
            await asyncio.sleep(d.AUTOSCALE_SAMPLE_INTERVAL)

    async def tick(self) -> None:
        """One sample of every service, side by side."""
        await asyncio.gather(*(self._tick(name, scaler) for name, scaler in self.scalers.items()))

    async def _tick(self, name: str, scaler: Autoscale) -> None:
        async with self._locks[name]:  # waits for a deploy or scale to finish
            try:
                await self._sample(name, scaler)
            except (HotdeployError, OSError) as exc:  # the balancer is down or restarting
                self._log(f"autoscale: {name}: {exc}")

    async def _sample(self, name: str, scaler: Autoscale) -> None:
        ctx = self._context(name)
        seen = shape_of(ctx.service)
        if self._shapes.get(name) != seen:
            self._shapes[name] = seen
            scaler.pause(self._clock())
        if not ctx.dataplane.capabilities.drain_counts:
            if name not in self._unmeasured:
                self._unmeasured.add(name)
                self._log(f"autoscale: {name}: the {ctx.dataplane.engine} engine "
                          f"({ctx.dataplane.describe().get('mode')}) counts no in-flight "
                          f"requests; {name} keeps {ctx.service.desired} instances")
            return
        if any(i.state == InstanceState.CRASHED for i in ctx.service.instances):
            # The supervisor is restarting one: the survivors' load is briefly higher than
            # the service's, and a step would stop the instance being restarted (scale prunes).
            scaler.pause(self._clock())
            return
        decision = scaler.observe(self._clock(), await inflight(ctx), ctx.service.desired)
        if decision is not None:
            await self._apply(ctx, decision)
            scaler.pause(self._clock())  # the step took time: measure the new count afresh
            self._shapes[name] = shape_of(ctx.service)

    async def _apply(self, ctx: ops.ServiceContext, decision: Decision) -> None:
        svc = ctx.service
        line = (f"service={svc.name} autoscale={decision.current}->{decision.to} "
                f"reason=\"{decision.reason}\"")
        ctx.emit(line)
        record: dict[str, Any] = {"from": decision.current, "to": decision.to,
                                  "direction": decision.direction, "reason": decision.reason,
                                  "at": time.time(), "status": "running"}
        svc.last_autoscale = record
        ctx.persist()
        try:
            await rollout.scale(ctx, decision.to, self._active_passive)
            record["status"] = "done"
        except (HotdeployError, OSError) as exc:  # unhealthy, or a host out of reach
            record.update(status="failed", message=str(exc))
            ctx.emit(f"service={svc.name} autoscale={decision.current}->{decision.to} "
                     f"failed: {exc}")
        record["finished"] = time.time()
        svc.last_autoscale = dict(record)
        ctx.persist()


Shape = tuple[int, str, tuple[tuple[str, str], ...]]


def shape_of(svc: ServiceState) -> Shape:
    """What changes when anyone but a supervisor sweep that found nothing touches a service:
    its count, its release, its instances and their states."""
    return (svc.desired, svc.release.digest,
            tuple((i.instance_id, str(i.state)) for i in svc.instances))


async def inflight(ctx: ops.ServiceContext) -> list[int]:
    """Requests in flight on each serving primary (a backup takes traffic only when every
    primary is down, so it would dilute the average it cannot relieve)."""
    views = {v.id: v for v in await ctx.dataplane.servers(ctx.upstream.name)}
    counts = []
    for info in ctx.service.serving():
        view = views.get(info.server_id) if info.server_id is not None else None
        if not info.backup and view is not None and view.state == "up":
            counts.append(view.active)
    return counts
