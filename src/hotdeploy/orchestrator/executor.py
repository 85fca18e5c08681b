"""Carry out a plan through the runtime and the balancer, rolling back on any failure.

Rollback restores the old release at full strength *before* taking the new instances out:
replacements for old instances already stopped are started, checked and added first, then
the new ones are drained, so the service never serves with fewer instances than it had.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from hotdeploy.dataplane.base import ServerView
from hotdeploy.errors import ControlError, DeployError
from hotdeploy.orchestrator import instances as ops
from hotdeploy.orchestrator.model import Instance, InstanceState
from hotdeploy.orchestrator.releases import Release
from hotdeploy.orchestrator.steps import (
    Add,
    AwaitHealthy,
    CanaryCheck,
    Drain,
    Pause,
    Ref,
    Retire,
    SetWeights,
    Start,
    Step,
)
from hotdeploy.orchestrator.verdict import Sample, Thresholds, judge


class Executor:
    def __init__(self, ctx: ops.ServiceContext, release: Release, limits: Thresholds) -> None:
        self.ctx = ctx
        self.release = release
        self.limits = limits
        self.bound: dict[Ref, Instance] = {i.instance_id: i for i in ctx.service.instances}
        self.started: list[Instance] = []
        self.marks: dict[int, ServerView] = {}  # canary: counters at the last weight change

    async def run(self, steps: list[Step]) -> None:
        old_release = self.ctx.service.release
        original = self.ctx.service.serving()
        try:
            for step in steps:
                await self._do(step)
        except (DeployError, ControlError) as exc:
            self.ctx.emit(f"deploy failed: {exc}")
            self.ctx.emit(f"rolling back to version {old_release.version}")
            try:
                await self._rollback(original, old_release)
            except (DeployError, ControlError) as again:
                raise DeployError(f"{exc}\nrollback to {old_release.version} failed too: "
                                  f"{again}") from again
            raise DeployError(f"{exc}\nrolled back to version {old_release.version}") from exc

    async def _do(self, step: Step) -> None:
        ctx = self.ctx
        if isinstance(step, Start):
            for ref in step.refs:
                info = await ops.launch(ctx, self.release, backup=step.backup)
                self.bound[ref] = info
                self.started.append(info)
        elif isinstance(step, AwaitHealthy):
            await run_all(ops.wait_healthy(ctx, self.bound[r]) for r in step.refs)
        elif isinstance(step, Add):
            await run_all(ops.add(ctx, self.bound[r], step.weight) for r in step.refs)
            await self._mark()
        elif isinstance(step, Drain):
            await run_all(ops.retire(ctx, self.bound[r]) for r in step.refs)
        elif isinstance(step, Retire):
            await run_all(self._to_standby(self.bound[r], step.keep) for r in step.refs)
        elif isinstance(step, SetWeights):
            for ref, weight in step.weights:
                info = self.bound[ref]
                if info.server_id is not None:
                    await ctx.dataplane.update(ctx.upstream.name, info.server_id, weight=weight)
            ctx.emit("weights " + ", ".join(f"{r}={w}" for r, w in self._named(step.weights)))
            await self._mark()
        elif isinstance(step, Pause):
            await ctx.sleep(step.seconds)
        elif isinstance(step, CanaryCheck):
            await self._check(step)

    def _named(self, weights: tuple[tuple[Ref, int], ...]) -> list[tuple[str, int]]:
        return [(self.bound[r].instance_id, w) for r, w in weights]

    async def _mark(self) -> None:
        self.marks = {p.id: p for p in await self.ctx.dataplane.servers(self.ctx.upstream.name)}

    def _sample(self, refs: tuple[Ref, ...], now: dict[int, ServerView]) -> Sample:
        requests = errors = 0
        latencies: list[float] = []
        for ref in refs:
            server_id = self.bound[ref].server_id
            if server_id is None or server_id not in now:
                continue
            cur, was = now[server_id], self.marks.get(server_id)
            requests += cur.responses_total - (was.responses_total if was else 0)
            errors += cur.server_errors - (was.server_errors if was else 0)
            if cur.response_time is not None:
                latencies.append(cur.response_time)
        mean = sum(latencies) / len(latencies) if latencies else None
        return Sample(requests, errors, mean)

    async def _check(self, step: CanaryCheck) -> None:
        now = {p.id: p for p in await self.ctx.dataplane.servers(self.ctx.upstream.name)}
        canary = self._sample(step.canary, now)
        baseline = self._sample(step.baseline, now)
        verdict = judge(canary, baseline, self.limits)
        self.ctx.emit(f"canary at {step.percent}%: {'pass' if verdict.passed else 'FAIL'}: "
                      f"{verdict.reason}")
        if not verdict.passed:
            raise DeployError(f"canary at {step.percent}% failed: {verdict.reason}")
        self.marks = now

    async def _to_standby(self, info: Instance, keep: float) -> None:
        """Blue-green: out of the balancer, process kept idle for an instant rollback."""
        svc = self.ctx.service
        await ops.unlist(self.ctx, info)
        info.move(InstanceState.STANDBY)
        svc.instances.remove(info)
        svc.standby.append(info)
        svc.standby_release = svc.release
        svc.standby_until = time.time() + keep
        self.ctx.persist()
        self.ctx.emit(f"{info.instance_id} idle on standby for {keep:g}s")

    async def _rollback(self, original: list[Instance], old: Release) -> None:
        """Back to the old release at full strength: what the data plane still lists is the
        truth (a step may have failed half-way), new instances leave only once replacements
        for the old ones already gone serve."""
        ctx = self.ctx
        svc = ctx.service
        listed = {v.id for v in await ctx.dataplane.servers(ctx.upstream.name)}
        mine = [i for i in self.started if i in svc.instances]
        await run_all(ops.stop(ctx, i) for i in mine if i.server_id not in listed)
        new_listed = [i for i in mine if i.server_id in listed]
        survivors = [i for i in original if i in svc.instances and i.server_id in listed]
        for info in survivors:  # undo canary weights and a drain that had begun
            assert info.server_id is not None
            await ctx.dataplane.update(ctx.upstream.name, info.server_id, weight=1,
                                       drain=False)
            info.move(InstanceState.SERVING)
        for info in [i for i in original if i not in survivors
                     and (i in svc.instances or i in svc.standby)]:
            info.server_id = None  # half taken out: stop it, a fresh one replaces it
            await ops.stop(ctx, info)
        if not svc.standby:
            svc.standby_release = svc.standby_until = None
        lost = Counter(i.backup for i in original) - Counter(i.backup for i in survivors)
        restored: list[Instance] = []
        for backup, count in lost.items():
            restored += [await ops.launch(ctx, old, backup=backup, relocatable=True)
                         for _ in range(count)]
        await run_all(ops.wait_healthy(ctx, i) for i in restored)
        await run_all(ops.add(ctx, i) for i in restored)
        await run_all(ops.retire(ctx, i) for i in new_listed)
        ctx.persist()


async def run_all(coros: object) -> None:
    """Run concurrently; the first failure is raised after all have finished (no operation
    is abandoned half-way, so the state file always matches what runs)."""
    results = await asyncio.gather(*coros, return_exceptions=True)  # type: ignore[misc]
    for result in results:
        if isinstance(result, BaseException):
            raise result
