"""The built-in runtime: each instance is a local process on a free loopback port, run from
its release's snapshot.

Instances run in their own session (process group) so that the control process can die --
even by SIGKILL -- without its signal or terminal reaching them; `hotdeploy up` then adopts
them by pid from the state file. Output goes to one log file per instance.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hotdeploy.orchestrator.releases import ReleaseSettings
from hotdeploy.runtimes.base import Endpoint, Handle, InstanceSpec, RunState
from hotdeploy.runtimes.process import free_port, is_alive, log_tail, stop_pid

HOST = "127.0.0.1"


def command_line(spec: InstanceSpec, port: int) -> list[str]:
    return entry_point(spec.release.settings, spec.health, port)


def entry_point(settings: ReleaseSettings, health: str, port: int,
                python: str = sys.executable, host: str | None = None) -> list[str]:
    """What an instance runs: the release's command, or the built-in ASGI host for `app` and
    `artifacts` (the docker runtime runs the same inside its containers, with their python
    and listening on the container's address)."""
    if settings.command is not None:
        return [part.replace("{port}", str(port)) for part in shlex.split(settings.command)]
    argv = [python, "-m", "hotdeploy.runtimes.host", "--port", str(port), "--health", health]
    if host is not None:
        argv += ["--host", host]
    if settings.app is not None:
        return [*argv, "--app", settings.app]
    for name, ref in (settings.artifacts or {}).items():
        argv += ["--mount", f"{name}={ref}"]
    return argv


def instance_env(spec: InstanceSpec, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PORT": str(port),
        "HOTDEPLOY_PROJECT": spec.project,
        "HOTDEPLOY_SERVICE": spec.service,
        "HOTDEPLOY_INSTANCE": spec.instance_id,
        "HOTDEPLOY_VERSION": spec.release.version,
        "HOTDEPLOY_DIGEST": spec.release.digest,
        "PYTHONUNBUFFERED": "1",
        # Bytecode caches would be written into the immutable snapshot.
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(spec.release.settings.env)
    return env


class LocalRuntime:
    name = "local"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def log_path(self, instance_id: str) -> Path:
        return self.log_dir / f"{instance_id}.log"

    async def start(self, spec: InstanceSpec) -> Handle:
        port = free_port(HOST)
        log_path = self.log_path(spec.instance_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start {spec.instance_id} "
                      f"version={spec.release.version} digest={spec.release.short_digest} "
                      f"port={port}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                command_line(spec, port), cwd=spec.release.code_dir,
                env=instance_env(spec, port), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        # Popen would reap on its own when garbage-collected; liveness is tracked by pid only
        # (the same code path as for adopted instances), so forget the object.
        proc.returncode = 0
        return Handle(self.name, str(proc.pid), Endpoint(HOST, port),
                      {"pid": str(proc.pid), "log": str(log_path)})

    async def stop(self, handle: Handle, grace: float) -> None:
        await stop_pid(int(handle.ref), grace)

    async def state(self, handle: Handle) -> RunState:
        return RunState.RUNNING if is_alive(int(handle.ref)) else RunState.EXITED

    async def logs(self, handle: Handle, lines: int) -> list[str]:
        text = log_tail(handle.details.get("log", ""), lines)
        return text.splitlines()

    def record(self, handle: Handle) -> dict[str, Any]:
        return handle.to_json()

    async def adopt(self, record: dict[str, Any]) -> Handle | None:
        handle = Handle.from_json(record)
        return handle if is_alive(int(handle.ref)) else None
