"""`down`: stop every instance, the balancer and the control process (releases are kept)."""

from __future__ import annotations

from hotdeploy.orchestrator import teardown
from hotdeploy.orchestrator.commands.base import Args, Emit, Result
from hotdeploy.orchestrator.controller import Controller


class DownResult(Result):
    stopped: bool


async def run(ctl: Controller, args: Args, emit: Emit) -> DownResult:
    for lock in ctl.locks.values():  # a command half-way through finishes its step first
        await lock.acquire()
    await teardown.teardown(ctl.paths, ctl.state, ctl.runtime_named, ctl.dataplane,
                            ctl.project.deploy.stop_grace, emit, ctl.runtime_kinds())
    return DownResult(stopped=True)
