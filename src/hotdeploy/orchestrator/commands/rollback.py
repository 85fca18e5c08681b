"""`rollback SERVICE [--to VERSION]`: run the previous release again, or any kept one: its
snapshot, byte for byte (an instant swap while a blue-green standby set still runs it)."""

from __future__ import annotations

from hotdeploy.errors import DeployError
from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.commands.base import (
    Emit,
    ServiceArgs,
    ServiceResult,
    require_service,
    service_result,
)
from hotdeploy.orchestrator.controller import Controller
from hotdeploy.project.model import DeployStrategy


class RollbackArgs(ServiceArgs):
    to: str | None = None  # a kept release's version; default: the previous release
    strategy: DeployStrategy | None = None


async def run(ctl: Controller, args: RollbackArgs, emit: Emit) -> ServiceResult:
    require_service(ctl, args.service)
    async with ctl.locks[args.service]:
        ctx = ctl.context(args.service, emit)
        svc = ctx.service
        target = ctl.store.get(args.service, args.to) if args.to else svc.previous
        if rollout.can_swap_back(ctx, target):
            release = await rollout.swap_back(ctx)
            ctl.store.record_live(release, "rollback (standby swap)")
            return service_result(ctl, args.service)
        if target is None:
            raise DeployError(f"{args.service} has no previous release to roll back to "
                              f"(`hotdeploy releases {args.service}` lists the kept ones)")
        if target.version == svc.release.version:
            return service_result(ctl, args.service, f"{args.service} already runs "
                                  f"{target.version}: nothing to roll back")
        await ctl.prepare(args.service, target, ctx.emit)  # its kept image, if it has one
        # A canary of a release that already ran is pointless: go back in one rolling pass.
        strategy = args.strategy or ctl.project.strategy_for(args.service)
        strategy = "rolling" if strategy == "canary" else strategy
        await rollout.deploy(ctx, target, strategy, ctl.active_passive)
        ctl.store.record_live(target, "rollback")
        return service_result(ctl, args.service)
