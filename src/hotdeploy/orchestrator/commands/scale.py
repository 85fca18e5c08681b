"""`scale SERVICE COUNT`: run COUNT instances of the current release (health-gated)."""

from __future__ import annotations

from pydantic import Field

from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.commands.base import (
    Emit,
    ServiceArgs,
    ServiceResult,
    require_service,
    service_result,
)
from hotdeploy.orchestrator.controller import Controller


class ScaleArgs(ServiceArgs):
    count: int = Field(ge=1, le=64)


async def run(ctl: Controller, args: ScaleArgs, emit: Emit) -> ServiceResult:
    require_service(ctl, args.service)
    async with ctl.locks[args.service]:
        await rollout.scale(ctl.context(args.service, emit), args.count, ctl.active_passive)
        return service_result(ctl, args.service)
