"""`logs SERVICE`: the last lines of each instance's output, through its runtime.

Read from the state file's handles, so it answers whether or not the control process runs
(the runtime, not the control process, holds the logs)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hotdeploy.errors import ControlError
from hotdeploy.orchestrator.commands.base import Result, ServiceArgs
from hotdeploy.orchestrator.model import ControlState
from hotdeploy.runtimes import runtime_for


class LogsArgs(ServiceArgs):
    lines: int = Field(default=20, ge=0)


class LogsResult(Result):
    service: str
    logs: dict[str, list[str]]  # instance id -> its last lines, oldest first


async def run(state: ControlState | None, log_dir: Path, args: LogsArgs) -> LogsResult:
    svc = state.services.get(args.service) if state else None
    instances = [*svc.instances, *svc.standby] if svc else []
    if not instances:
        raise ControlError(f"no instances of {args.service!r} are recorded (is it up?)")
    logs = {}
    for info in instances:
        runtime = runtime_for(info.handle.runtime, log_dir)
        logs[info.instance_id] = await runtime.logs(info.handle, args.lines)
    return LogsResult(service=args.service, logs=logs)
