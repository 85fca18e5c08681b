"""`down`: stop every instance and the balancer, and forget the state (the release store is
kept). Used by the control process, and by the CLI directly when no control process runs (it
was killed): the state file records every instance's handle (and which runtime started it)
and the engine."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable

from hotdeploy.dataplane.base import DataPlane
from hotdeploy.orchestrator.model import ControlState, Instance
from hotdeploy.orchestrator.state import ProjectPaths
from hotdeploy.runtimes.base import ReleaseArtifacts, Runtime

RuntimeNamed = Callable[[str], Runtime]  # a kind ("local", "docker") -> its runtime


async def stop_instances(runtimes: RuntimeNamed, instances: list[Instance], grace: float,
                         emit: Callable[[str], None] | None = None) -> None:
    for info in instances:
        if emit is not None:
            emit(f"stopping {info.instance_id}")
    await asyncio.gather(*(runtimes(info.handle.runtime).stop(info.handle, grace)
                           for info in instances))


async def teardown(paths: ProjectPaths, state: ControlState, runtimes: RuntimeNamed,
                   dataplane: DataPlane, grace: float, emit: Callable[[str], None],
                   kinds: set[str] | None = None) -> None:
    """`kinds`: the runtime kinds the project file names, swept for leftovers (containers of
    the project that no recorded handle names, e.g. started by a control process killed
    before it saved the handle)."""
    instances = [i for svc in state.services.values() for i in [*svc.instances, *svc.standby]]
    await stop_instances(runtimes, instances, grace, emit)
    for kind in sorted({*(kinds or set()), *(i.handle.runtime for i in instances)}):
        runtime = runtimes(kind)
        if isinstance(runtime, ReleaseArtifacts):
            await runtime.sweep(emit)
    emit(f"stopping the {dataplane.engine} balancer")
    await dataplane.stop(grace)
    # The next `up` starts from hotdeploy.toml with empty upstreams.
    shutil.rmtree(paths.state_dir / "lb", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        paths.state_file.unlink()
