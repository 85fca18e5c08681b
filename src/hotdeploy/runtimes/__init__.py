"""Runtimes: where instances run (see base.Runtime). A registry by name, so that a project's
`[runtime] kind` and a recorded instance's `runtime` field find their implementation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hotdeploy.runtimes.base import Runtime

if TYPE_CHECKING:
    from hotdeploy.project.model import Project
    from hotdeploy.runtimes.ssh import SshSettings

KINDS = ("local", "docker", "ssh")


def runtime_for(kind: str, log_dir: Path, project: Project | None = None,
                base_dir: Path | None = None) -> Runtime:
    """The runtime `kind`. `project` (and `base_dir`, the project file's directory) give a
    runtime its per-service settings; without them (the CLI cleaning up after a dead control
    process) it can still stop, read and adopt what its handles recorded."""
    if kind == "local":
        from hotdeploy.runtimes.local import LocalRuntime

        return LocalRuntime(log_dir)
    if kind == "docker":
        from hotdeploy.runtimes.docker.runtime import DockerRuntime

        return DockerRuntime(log_dir, project, base_dir)
    if kind == "ssh":
        from hotdeploy.runtimes.ssh import SshRuntime, settings_from

        def settings(service: str) -> SshSettings:
            if project is None:
                raise ValueError("starting an instance over SSH needs the project's settings")
            return settings_from(project, service, base_dir)

        return SshRuntime(settings)
    raise ValueError(f"unknown runtime {kind!r}: expected one of {', '.join(KINDS)}")
