"""The built-in runtime: each instance is a local process on a free loopback port.

Instances run in their own session (process group) so that the control process can die --
even by SIGKILL -- without its signal or terminal reaching them; `hotdeploy up` then adopts
them by pid from the state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

from hotdeploy.runtimes.base import InstanceInfo, InstanceSpec


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free now (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def command_line(spec: InstanceSpec, port: int) -> list[str]:
    rel = spec.release
    if rel.command is not None:
        return [part.replace("{port}", str(port)) for part in shlex.split(rel.command)]
    argv = [sys.executable, "-m", "hotdeploy.runtimes.host", "--port", str(port),
            "--health", spec.health]
    if rel.app is not None:
        return [*argv, "--app", rel.app]
    for name, ref in (rel.artifacts or {}).items():
        argv += ["--mount", f"{name}={ref}"]
    return argv


def instance_env(spec: InstanceSpec, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PORT": str(port),
        "HOTDEPLOY_SERVICE": spec.service,
        "HOTDEPLOY_INSTANCE": spec.instance_id,
        "HOTDEPLOY_VERSION": spec.release.version,
        "PYTHONUNBUFFERED": "1",
    })
    env.update(spec.release.env)
    return env


def is_alive(pid: int) -> bool:
    """True while `pid` runs; reaps it when it is our child, sees zombies when it is not."""
    if _reaped(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            zombie = stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
    if zombie:
        _reaped(pid)  # it died since the first look: reap it now, or it stays a zombie
    return not zombie


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # adopted: not our child, its parent (init) reaps it
    return done == pid


class LocalRuntime:
    def start(self, spec: InstanceSpec) -> InstanceInfo:
        port = free_port()
        os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
        with open(spec.log_path, "ab") as log:
            header = f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start {spec.instance_id} " \
                     f"version={spec.release.version} port={port}\n"
            log.write(header.encode())
            log.flush()
            proc = subprocess.Popen(
                command_line(spec, port), cwd=spec.cwd, env=instance_env(spec, port),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Popen would reap on its own when garbage-collected; liveness is tracked by pid only
        # (the same code path as for adopted instances), so forget the object.
        proc.returncode = 0
        return InstanceInfo(service=spec.service, instance_id=spec.instance_id,
                            version=spec.release.version, pid=proc.pid, port=port,
                            log_path=spec.log_path)

    def alive(self, info: InstanceInfo) -> bool:
        return is_alive(info.pid)

    async def stop(self, info: InstanceInfo, grace: float) -> None:
        await stop_pid(info.pid, grace)


async def stop_pid(pid: int, grace: float, poll: float = 0.05) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after `grace`."""
    if not _signal_group(pid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return
        await asyncio.sleep(poll)
    _signal_group(pid, signal.SIGKILL)
    for _ in range(100):
        if not is_alive(pid):
            return
        await asyncio.sleep(poll)


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            return True
        return False
    except PermissionError:
        return False
