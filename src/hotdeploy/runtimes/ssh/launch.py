"""What starting one instance on a host takes, whichever supervisor keeps it: the command
line, its environment, its port and the release's directory there; and the interface of the
supervisors (`process`: a detached process and a pid file; `systemd`: a unit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hotdeploy.runtimes.base import InstanceSpec
from hotdeploy.runtimes.local import command_line, instance_env
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings

# Of the control machine's own environment, only these reach an instance on a host.
_INSTANCE_KEYS = frozenset({"PORT", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})


@dataclass(frozen=True, slots=True)
class Launch:
    spec: InstanceSpec
    release_dir: str  # on the host; the code is in its `code/`
    port: int
    argv: list[str]
    env: dict[str, str]


def launch_of(spec: InstanceSpec, how: SshSettings, release_dir: str, port: int) -> Launch:
    """The local runtime's command line and environment, with the hosts' interpreter and
    listening on `bind`; the environment is what the local runtime sets, not the control
    machine's own."""
    argv = command_line(spec, port)
    if argv[1:3] == ["-m", "hotdeploy.runtimes.host"]:
        argv = [how.python, *argv[1:], "--host", how.bind]
    env = {k: v for k, v in instance_env(spec, port).items()
           if k in _INSTANCE_KEYS or k.startswith("HOTDEPLOY_")
           or k in spec.release.settings.env}
    env.update(how.extra_env)
    return Launch(spec, release_dir, port, argv, env)


class HostSupervisor(Protocol):
    """Keeps instances on a host (each also has a `start`, whose details, recorded in the
    handle, are what the others are given: a restarted control process can stop, read and
    adopt with them)."""

    name: str

    async def stop(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   grace: float) -> None: ...

    async def running(self, host: SshHost, how: SshSettings, details: dict[str, str]) -> bool:
        ...

    async def logs(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   lines: int) -> list[str]: ...
