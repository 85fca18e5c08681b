"""`down`: stop every instance and the balancer, and forget the state (the release store is
kept). Used by the control process, and by the CLI directly when no control process runs (it
was killed): the state file records every instance's handle and the engine."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable

from hotdeploy.dataplane.base import DataPlane
from hotdeploy.orchestrator.model import ControlState, Instance
from hotdeploy.orchestrator.state import ProjectPaths
from hotdeploy.runtimes.base import Runtime


async def stop_instances(runtime: Runtime, instances: list[Instance], grace: float,
                         emit: Callable[[str], None] | None = None) -> None:
    for info in instances:
        if emit is not None:
            emit(f"stopping {info.instance_id}")
    await asyncio.gather(*(runtime.stop(info.handle, grace) for info in instances))


async def teardown(paths: ProjectPaths, state: ControlState, runtime: Runtime,
                   dataplane: DataPlane, grace: float, emit: Callable[[str], None]) -> None:
    instances = [i for svc in state.services.values() for i in [*svc.instances, *svc.standby]]
    await stop_instances(runtime, instances, grace, emit)
    emit(f"stopping the {dataplane.engine} balancer")
    await dataplane.stop(grace)
    # The next `up` starts from hotdeploy.toml with empty upstreams.
    shutil.rmtree(paths.state_dir / "lb", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        paths.state_file.unlink()
