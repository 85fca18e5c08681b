"""`restart SERVICE`: replace every instance by a fresh one of the same release, rolling."""

from __future__ import annotations

from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.commands.base import (
    Emit,
    ServiceArgs,
    ServiceResult,
    require_service,
    service_result,
)
from hotdeploy.orchestrator.controller import Controller


async def run(ctl: Controller, args: ServiceArgs, emit: Emit) -> ServiceResult:
    require_service(ctl, args.service)
    async with ctl.locks[args.service]:
        await rollout.restart(ctl.context(args.service, emit), ctl.active_passive)
        return service_result(ctl, args.service)
