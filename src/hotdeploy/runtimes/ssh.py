"""The SSH runtime: instances run on VMs reached over SSH (asyncssh), as detached processes
tracked by pid file (`supervisor = "process"`, for hosts without systemd).

A release is uploaded once per host (skipped when that digest is already there) into
`remote_dir/releases/<service>/<version>/`, written to a temporary directory and renamed, so a
host has a release whole or not at all. Instances of a service are spread evenly over the
hosts that answer; an instance's endpoint is `host:port` on the host's address, where the
balancer (which runs where `hotdeploy up` runs) sends its traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from hotdeploy.errors import DeployError
from hotdeploy.runtimes.base import Endpoint, Handle, InstanceSpec, RunState
from hotdeploy.runtimes.local import command_line, instance_env

if TYPE_CHECKING:
    from hotdeploy.project.model import Project

CONNECT_TIMEOUT = 10.0
STATE_CACHE = 0.5  # the supervisor looks every 0.25 s; one `kill -0` per host per half second


class HostError(DeployError):
    """A host cannot be reached or refused a step (the message names the host)."""


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


class SshRuntime:
    name = "ssh"

    def __init__(self, settings: SshSettings | Callable[[str], SshSettings]) -> None:
        """`settings`: one for every service, or a function of the service's name (each may
        have its own hosts). Handles record how to reach their host, so stopping, reading and
        adopting need no settings."""
        self._settings_of = settings if callable(settings) else (lambda _service: settings)
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # (service, release version) -> host label -> instances: each release of a service is
        # spread evenly, so the set a deploy leaves behind is even whatever the old one was.
        self._placed: dict[tuple[str, str], Counter[str]] = {}
        self._states: dict[str, tuple[float, RunState]] = {}

    def settings(self, service: str) -> SshSettings:
        return self._settings_of(service)

    # --- connections ----------------------------------------------------------------------
    async def _connect(self, host: SshHost, how: SshSettings) -> asyncssh.SSHClientConnection:
        label = str(host)
        lock = self._locks.setdefault(label, asyncio.Lock())
        async with lock:
            conn = self._connections.get(label)
            if conn is not None and not conn.is_closed():
                return conn
            options: dict[str, Any] = {"port": host.port, "username": host.user,
                                       "connect_timeout": CONNECT_TIMEOUT}
            if how.known_hosts is not None:
                options["known_hosts"] = how.known_hosts
            if how.identity_file is not None:
                options["client_keys"] = [how.identity_file]
            try:
                conn = await asyncssh.connect(host.host, **options)
            except asyncssh.HostKeyNotVerifiable as exc:
                raise HostError(f"{label}: host key not verified ({exc}); its key is "
                                f"{await _fingerprint(host)}: add it to "
                                f"{how.known_hosts or '~/.ssh/known_hosts'} if it "
                                f"is the host you expect") from None
            except (OSError, asyncssh.Error) as exc:
                raise HostError(f"{label}: cannot connect over SSH: {exc}") from None
            self._connections[label] = conn
            return conn

    async def _run(self, host: SshHost, how: SshSettings, command: str, *,
                   check: bool = True) -> str:
        conn = await self._connect(host, how)
        try:
            result = await conn.run(command, check=False)
        except (OSError, asyncssh.Error) as exc:
            self._connections.pop(str(host), None)
            raise HostError(f"{host}: {exc}") from None
        if check and result.exit_status != 0:
            raise HostError(f"{host}: `{command[:120]}` exited {result.exit_status}: "
                            f"{str(result.stderr or '').strip()[-500:]}")
        return str(result.stdout or "")

    # --- releases on hosts ------------------------------------------------------------------
    @staticmethod
    def release_dir(how: SshSettings, spec: InstanceSpec) -> str:
        return f"{how.remote_dir}/releases/{spec.service}/{spec.release.version}"

    async def upload(self, host: SshHost, how: SshSettings, spec: InstanceSpec) -> str:
        """The release's directory on `host`, uploading it unless that digest is there."""
        target = self.release_dir(how, spec)
        marker = f"{target}/.digest"
        have = await self._run(host, how, f"cat {shlex.quote(marker)} 2>/dev/null || true")
        if have.strip() == spec.release.digest:
            return target
        tmp = f"{target}.upload-{int(time.time() * 1000)}"
        await self._run(host, how,
                        f"rm -rf {shlex.quote(target)} && mkdir -p {shlex.quote(tmp)}")
        conn = await self._connect(host, how)
        try:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(spec.release.code_dir, tmp + "/code", recurse=True,
                               preserve=True)
        except (OSError, asyncssh.Error) as exc:
            raise HostError(f"{host}: uploading release {spec.release.version}: {exc}") \
                from None
        await self._run(host, how, f"printf %s {shlex.quote(spec.release.digest)} > "
                              f"{shlex.quote(tmp)}/.digest && mv {shlex.quote(tmp)} "
                              f"{shlex.quote(target)}")
        return target

    # --- placement ----------------------------------------------------------------------------
    async def _pick(self, key: tuple[str, str], how: SshSettings,
                    relocatable: bool) -> SshHost:
        """The host with the fewest instances of that service's release. A deploy's instance
        goes there or fails the deploy, naming the host (a deploy that lost a host rolls back
        rather than piling every instance onto the others); a restart or a rollback's
        replacement goes to the next host that answers."""
        placed = self._placed.setdefault(key, Counter())
        errors = []
        for host in sorted(how.hosts, key=lambda h: (placed[str(h)], str(h))):
            try:
                await self._connect(host, how)
                return host
            except HostError as exc:
                if not relocatable:
                    raise
                errors.append(str(exc))
        raise HostError("no host answers: " + "; ".join(errors))

    # --- the Runtime interface ------------------------------------------------------------------
    async def start(self, spec: InstanceSpec) -> Handle:
        how = self.settings(spec.service)
        key = (spec.service, spec.release.version)
        host = await self._pick(key, how, spec.relocatable)
        release_dir = await self.upload(host, how, spec)
        port = int((await self._run(host, how, f"{how.python} -c "
                                    + shlex.quote(_FREE_PORT.format(bind=how.bind)))).strip())
        run_dir = f"{how.remote_dir}/run"
        log = f"{how.remote_dir}/logs/{spec.instance_id}.log"
        argv = command_line(spec, port)
        if argv[:3] == [argv[0], "-m", "hotdeploy.runtimes.host"]:
            argv = [how.python, *argv[1:], "--host", how.bind]
        # What the local runtime sets, not the control machine's own environment.
        env = {k: v for k, v in instance_env(spec, port).items()
               if k in _INSTANCE_KEYS or k.startswith("HOTDEPLOY_")
               or k in spec.release.settings.env}
        env.update(how.extra_env)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
        # Only the instance itself goes to the background, with every stream redirected, or
        # the SSH channel would stay open as long as it runs.
        command = (f"mkdir -p {shlex.quote(run_dir)} {shlex.quote(str(Path(log).parent))} "
                   f"&& cd {shlex.quote(release_dir)}/code || exit 1\n"
                   f"echo '--- start {spec.instance_id} version={spec.release.version} "
                   f"port={port}' >> {shlex.quote(log)}\n"
                   f"env {exports} setsid nohup {shlex.join(argv)} >> {shlex.quote(log)} "
                   f"2>&1 < /dev/null &\necho $!")
        pid = (await self._run(host, how, command)).strip()
        await self._run(host, how,
                        f"echo {pid} > {shlex.quote(run_dir)}/{spec.instance_id}.pid")
        self._placed[key][str(host)] += 1
        details = {"host": str(host), "pid": pid, "log": log, "service": spec.service,
                   "version": spec.release.version}
        details.update({key: value for key, value in (
            ("identity_file", how.identity_file), ("known_hosts", how.known_hosts))
            if value is not None})
        return Handle(self.name, f"{pid}@{host}", Endpoint(host.host, port), details)

    @staticmethod
    def _where(handle: Handle) -> tuple[SshHost, SshSettings, str]:
        """The host, how to reach it, and the pid: all recorded in the handle."""
        pid, _, label = handle.ref.partition("@")
        host = SshHost.parse(label)
        how = SshSettings(hosts=(host,), remote_dir="",
                          identity_file=handle.details.get("identity_file"),
                          known_hosts=handle.details.get("known_hosts"))
        return host, how, pid

    async def stop(self, handle: Handle, grace: float) -> None:
        host, how, pid = self._where(handle)
        # setsid made the instance a process group leader: signal the group, as locally.
        script = (f"kill -TERM -- -{pid} 2>/dev/null || exit 0; "
                  f"for i in $(seq {max(1, int(grace * 10))}); do "
                  f"kill -0 {pid} 2>/dev/null || exit 0; sleep 0.1; done; "
                  f"kill -KILL -- -{pid} 2>/dev/null; exit 0")
        with contextlib.suppress(HostError):  # a lost host: nothing left to stop there
            await self._run(host, how, script)
        placed = self._placed.get(_placement(handle))
        if placed is not None and placed[str(host)] > 0:
            placed[str(host)] -= 1
        self._states.pop(handle.ref, None)

    async def state(self, handle: Handle) -> RunState:
        now = time.monotonic()
        cached = self._states.get(handle.ref)
        if cached is not None and now - cached[0] < STATE_CACHE:
            return cached[1]
        host, how, pid = self._where(handle)
        try:
            out = await self._run(host, how, f"kill -0 {pid} 2>/dev/null && echo up || echo gone")
            state = RunState.RUNNING if out.strip() == "up" else RunState.EXITED
        except HostError:
            state = RunState.EXITED  # a host that does not answer serves nothing either
        self._states[handle.ref] = (now, state)
        return state

    async def logs(self, handle: Handle, lines: int) -> list[str]:
        host, how, _ = self._where(handle)
        log = handle.details.get("log", "")
        out = await self._run(host, how, f"tail -n {int(lines)} {shlex.quote(log)} 2>/dev/null "
                                    f"|| true")
        return out.splitlines()

    def record(self, handle: Handle) -> dict[str, Any]:
        return handle.to_json()

    async def adopt(self, record: dict[str, Any]) -> Handle | None:
        handle = Handle.from_json(record)
        self._states.pop(handle.ref, None)
        if await self.state(handle) != RunState.RUNNING:
            return None
        host, _, _ = self._where(handle)
        self._placed.setdefault(_placement(handle), Counter())[str(host)] += 1
        return handle

    async def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


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
        extra_env=dict(runtime.env))


def _placement(handle: Handle) -> tuple[str, str]:
    return handle.details.get("service", ""), handle.details.get("version", "")


_INSTANCE_KEYS = frozenset({"PORT", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})
_FREE_PORT = ("import socket; s = socket.socket(); s.bind(('{bind}', 0)); "
              "print(s.getsockname()[1])")


async def _fingerprint(host: SshHost) -> str:
    """The SHA256 fingerprint of the key the host offers, for the error message."""
    try:
        key = await asyncssh.get_server_host_key(host.host, host.port)
    except (OSError, asyncssh.Error) as exc:
        return f"(unknown: {exc})"
    return key.get_fingerprint() if key is not None else "(none offered)"
