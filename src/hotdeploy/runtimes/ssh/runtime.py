"""The SSH runtime: instances run on VMs reached over SSH (asyncssh), kept by a supervisor on
each host: systemd units (`supervisor = "systemd"`) or detached processes tracked by pid file
(`"process"`, for hosts without systemd); `"auto"` asks each host.

A release is uploaded once per host (see upload). Instances of a service are spread evenly
over its hosts; an instance's endpoint is `host:port` on the host's address, where the
balancer (which runs where `hotdeploy up` runs) sends its traffic.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from hotdeploy.runtimes.base import Endpoint, Handle, InstanceSpec, RunState
from hotdeploy.runtimes.ssh.connection import Connections, HostError
from hotdeploy.runtimes.ssh.launch import HostSupervisor, launch_of
from hotdeploy.runtimes.ssh.process_supervisor import ProcessSupervisor
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings
from hotdeploy.runtimes.ssh.systemd_supervisor import PROBE, HostFacts, Scope, SystemdSupervisor
from hotdeploy.runtimes.ssh.upload import upload

STATE_CACHE = 0.5  # the supervisor looks every 0.25 s; one look per instance per half second
_FREE_PORT = ("import socket; s = socket.socket(); s.bind(('{bind}', 0)); "
              "print(s.getsockname()[1])")


class SshRuntime:
    name = "ssh"

    def __init__(self, settings: SshSettings | Callable[[str], SshSettings]) -> None:
        """`settings`: one for every service, or a function of the service's name (each may
        have its own hosts). Handles record how to reach their host, so stopping, reading and
        adopting need no settings."""
        self._settings_of = settings if callable(settings) else (lambda _service: settings)
        self.connections = Connections()
        self._process = ProcessSupervisor(self.connections)
        self._systemd = SystemdSupervisor(self.connections)
        self._facts: dict[str, HostFacts] = {}  # by host label
        # (service, release version) -> host label -> instances: each release of a service is
        # spread evenly, so the set a deploy leaves behind is even whatever the old one was.
        self._placed: dict[tuple[str, str], Counter[str]] = {}
        self._states: dict[str, tuple[float, RunState]] = {}

    def settings(self, service: str) -> SshSettings:
        return self._settings_of(service)

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
                await self.connections.connect(host, how)
                return host
            except HostError as exc:
                if not relocatable:
                    raise
                errors.append(str(exc))
        raise HostError("no host answers: " + "; ".join(errors))

    async def facts(self, host: SshHost, how: SshSettings) -> HostFacts:
        """The host's user id and whether systemd runs it (asked once per host)."""
        label = str(host)
        if label not in self._facts:
            self._facts[label] = HostFacts.parse(await self.connections.run(host, how, PROBE))
        return self._facts[label]

    async def supervisor_on(self, host: SshHost, how: SshSettings) -> str:
        """`supervisor` as configured, "auto" resolved on that host."""
        if how.supervisor != "auto":
            return how.supervisor
        return "systemd" if (await self.facts(host, how)).has_systemd else "process"

    # --- the Runtime interface ------------------------------------------------------------------
    async def start(self, spec: InstanceSpec) -> Handle:
        how = self.settings(spec.service)
        key = (spec.service, spec.release.version)
        host = await self._pick(key, how, spec.relocatable)
        directory = await upload(self.connections, host, how, spec)
        port = int((await self.connections.run(host, how, f"{how.python} -c " + shlex.quote(
            _FREE_PORT.format(bind=how.bind)))).strip())
        launch = launch_of(spec, how, directory, port)
        supervisor = await self.supervisor_on(host, how)
        if supervisor == "systemd":
            scope = Scope(user=(await self.facts(host, how)).uid != 0)
            details = await self._systemd.start(host, how, launch, scope)
        else:
            details = await self._process.start(host, how, launch)
        self._placed[key][str(host)] += 1
        details.update({"host": str(host), "supervisor": supervisor, "service": spec.service,
                        "version": spec.release.version})
        details.update({key: value for key, value in (
            ("identity_file", how.identity_file), ("known_hosts", how.known_hosts))
            if value is not None})
        handle = Handle(self.name, f"{details['pid']}@{host}", Endpoint(host.host, port),
                        details)
        self._states.pop(handle.ref, None)
        return handle

    def _where(self, handle: Handle) -> tuple[SshHost, SshSettings, HostSupervisor]:
        """The host, how to reach it, and its supervisor: all recorded in the handle."""
        label = handle.details.get("host") or handle.ref.partition("@")[2]
        host = SshHost.parse(label)
        how = SshSettings(hosts=(host,), remote_dir="",
                          identity_file=handle.details.get("identity_file"),
                          known_hosts=handle.details.get("known_hosts"))
        systemd = handle.details.get("supervisor") == "systemd"
        return host, how, self._systemd if systemd else self._process

    async def stop(self, handle: Handle, grace: float) -> None:
        host, how, supervisor = self._where(handle)
        # A lost host: nothing can be done there (its instances are out of the balancer).
        with contextlib.suppress(HostError):
            await supervisor.stop(host, how, handle.details, grace)
        placed = self._placed.get(_placement(handle))
        if placed is not None and placed[str(host)] > 0:
            placed[str(host)] -= 1
        self._states.pop(handle.ref, None)

    async def state(self, handle: Handle) -> RunState:
        now = time.monotonic()
        cached = self._states.get(handle.ref)
        if cached is not None and now - cached[0] < STATE_CACHE:
            return cached[1]
        host, how, supervisor = self._where(handle)
        try:
            running = await supervisor.running(host, how, handle.details)
        except HostError:
            running = False  # a host that does not answer serves nothing either
        state = RunState.RUNNING if running else RunState.EXITED
        self._states[handle.ref] = (now, state)
        return state

    async def logs(self, handle: Handle, lines: int) -> list[str]:
        host, how, supervisor = self._where(handle)
        return await supervisor.logs(host, how, handle.details, lines)

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
        self.connections.close()


def _placement(handle: Handle) -> tuple[str, str]:
    return handle.details.get("service", ""), handle.details.get("version", "")


