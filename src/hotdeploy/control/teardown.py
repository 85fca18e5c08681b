"""`down`: stop every instance and the balancer, and forget the state. Used by the control
process, and by the CLI directly when no control process runs (it was killed): the state file
has every pid."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable

from hotdeploy.control.state import ControlState, ProjectPaths
from hotdeploy.runtimes.base import InstanceInfo
from hotdeploy.runtimes.local import stop_pid


async def stop_instances(instances: list[InstanceInfo], grace: float,
                         emit: Callable[[str], None] | None = None) -> None:
    for info in instances:
        if emit is not None:
            emit(f"stopping {info.instance_id} (pid {info.pid})")
    await asyncio.gather(*(stop_pid(info.pid, grace) for info in instances))


async def teardown(paths: ProjectPaths, state: ControlState, grace: float,
                   emit: Callable[[str], None]) -> None:
    instances = [i for svc in state.services.values() for i in [*svc.instances, *svc.standby]]
    await stop_instances(instances, grace, emit)
    if state.lb_pid:
        emit(f"stopping the balancer (pid {state.lb_pid})")
        await stop_pid(state.lb_pid, grace)
    # The next `up` starts from hotdeploy.toml with empty upstreams.
    shutil.rmtree(paths.state_dir / "lb", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        paths.state_file.unlink()
