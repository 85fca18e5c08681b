"""What the SSH runtime needs to know about a service: its hosts, how to reach them, where
things go on them, and which supervisor keeps its instances."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hotdeploy import defaults as d

if TYPE_CHECKING:
    from hotdeploy.project.model import Project

Supervisor = Literal["auto", "process", "systemd"]


@dataclass(frozen=True, slots=True)
class SshHost:
    """`deploy@vm1`, `deploy@vm2:2222`, `vm3`, `[::1]:2222`."""

    host: str
    port: int = 22
    user: str | None = None

    @classmethod
    def parse(cls, text: str) -> SshHost:
        user, _, rest = text.rpartition("@")
        host, port = rest, 22
        if rest.startswith("["):
            host, _, tail = rest[1:].partition("]")
            port = int(tail[1:]) if tail.startswith(":") else 22
        elif rest.count(":") == 1:
            host, _, number = rest.partition(":")
            port = int(number)
        return cls(host=host, port=port, user=user or None)

    def __str__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SshSettings:
    hosts: tuple[SshHost, ...]
    remote_dir: str
    python: str = "python3"
    identity_file: str | None = None
    known_hosts: str | None = None  # None: ~/.ssh/known_hosts (strict checking either way)
    bind: str = "0.0.0.0"  # where instances listen on their host
    extra_env: dict[str, str] = field(default_factory=dict)
    supervisor: Supervisor = "auto"
    # What the systemd supervisor writes into the service's template unit.
    project: str = "hotdeploy"
    stop_grace: float = d.INSTANCE_STOP_GRACE
    memory: str | None = None
    cpus: float | None = None


def settings_from(project: Project, service: str, base_dir: Path | None) -> SshSettings:
    """A service's SSH settings from its `[runtime]` (paths relative to the project file)."""
    runtime = project.runtime_of(service)

    def local_path(value: str | None) -> str | None:
        if value is None or base_dir is None:
            return value
        return str((base_dir / Path(value).expanduser()).resolve())

    return SshSettings(
        hosts=tuple(SshHost.parse(h) for h in runtime.hosts),
        remote_dir=runtime.remote_dir or f"/opt/hotdeploy/{project.project.name}",
        python=runtime.python, identity_file=local_path(runtime.identity_file),
        known_hosts=local_path(runtime.known_hosts), bind=runtime.bind,
        extra_env=dict(runtime.env), supervisor=runtime.supervisor,
        project=project.project.name,
        stop_grace=runtime.stop_grace if runtime.stop_grace is not None
        else project.deploy.stop_grace,
        memory=runtime.memory, cpus=runtime.cpus)
