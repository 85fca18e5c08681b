"""One SSH connection per host (asyncssh), opened on first use and again after it broke, with
strict host key checking; every failure is a HostError that names the host."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncssh

from hotdeploy.errors import DeployError
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings

CONNECT_TIMEOUT = 10.0
# A host that could not be reached is not tried again for this long: its instances' states,
# stops and log reads fail at once instead of each waiting out CONNECT_TIMEOUT in turn (a VM
# that is gone may drop packets rather than refuse them).
RETRY_AFTER = 2.0


class HostError(DeployError):
    """A host cannot be reached or refused a step (the message names the host)."""


class Connections:
    def __init__(self) -> None:
        self._open: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # label -> (when, why)

    async def connect(self, host: SshHost, how: SshSettings) -> asyncssh.SSHClientConnection:
        label = str(host)
        lock = self._locks.setdefault(label, asyncio.Lock())
        async with lock:
            conn = self._open.get(label)
            if conn is not None and not conn.is_closed():
                return conn
            failed = self._failed.get(label)
            if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
                # A new exception each time: one raised again and again would chain to itself
                # through __context__ (CPython can loop forever on such a chain).
                raise HostError(failed[1])
            try:
                conn = await self._open_connection(host, how)
            except HostError as exc:
                self._failed[label] = (time.monotonic(), str(exc))
                raise
            self._failed.pop(label, None)
            self._open[label] = conn
            return conn

    async def _open_connection(self, host: SshHost,
                               how: SshSettings) -> asyncssh.SSHClientConnection:
        label = str(host)
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
        return conn

    async def run(self, host: SshHost, how: SshSettings, command: str, *,
                  check: bool = True, what: str | None = None) -> str:
        """The command's output; with `check`, a non-zero exit is a HostError saying `what`
        failed (default: the command)."""
        result = await self.result(host, how, command)
        if check and result.exit_status != 0:
            what = what or f"`{command[:120]}`"
            raise HostError(f"{host}: {what} exited {result.exit_status}: "
                            f"{str(result.stderr or '').strip()[-1500:]}")
        return str(result.stdout or "")

    async def result(self, host: SshHost, how: SshSettings,
                     command: str) -> asyncssh.SSHCompletedProcess:
        conn = await self.connect(host, how)
        try:
            return await conn.run(command, check=False)
        except (OSError, asyncssh.Error) as exc:
            self._open.pop(str(host), None)
            raise HostError(f"{host}: {exc}") from None

    async def put(self, host: SshHost, how: SshSettings, local: str, remote: str) -> None:
        """Copy a local directory to `remote` over SFTP (modes and times kept)."""
        conn = await self.connect(host, how)
        try:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(local, remote, recurse=True, preserve=True)
        except (OSError, asyncssh.Error) as exc:
            raise HostError(f"{host}: copying {local} to {remote}: {exc}") from None

    def close(self) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()


async def _fingerprint(host: SshHost) -> str:
    """The SHA256 fingerprint of the key the host offers, for the error message."""
    try:
        key = await asyncssh.get_server_host_key(host.host, host.port)
    except (OSError, asyncssh.Error) as exc:
        return f"(unknown: {exc})"
    return key.get_fingerprint() if key is not None else "(none offered)"
