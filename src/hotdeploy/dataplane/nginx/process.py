"""nginx as a process of its own: check a configuration, start the master detached from the
control process, reload it and confirm the reload, stop it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.errors import ControlError
from hotdeploy.runtimes.process import is_alive, log_tail

START_TIMEOUT = 15.0
RELOAD_TIMEOUT = 15.0
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def prepare(paths: NginxPaths) -> None:
    """The prefix and its temp directories. Run as root, nginx's workers run as `nobody`:
    they must be able to write request bodies that do not fit in memory."""
    for kind in TEMP_KINDS:
        directory = Path(paths.temp) / kind
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            directory.chmod(0o1777)


def command(binary: str, paths: NginxPaths) -> list[str]:
    return [binary, "-p", f"{paths.prefix}/", "-c", paths.conf]


def check_config(binary: str, paths: NginxPaths) -> None:
    """`nginx -t`: a refused configuration fails with nginx's own message."""
    result = subprocess.run([*command(binary, paths), "-t", "-q"], capture_output=True,
                            text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise ControlError(f"nginx refuses the generated {paths.conf}:\n"
                           f"{(result.stderr or result.stdout).strip()}")


def start(binary: str, paths: NginxPaths) -> int:
    """The master in its own session (it and its workers outlive the control process)."""
    with open(paths.output, "ab") as out:
        proc = subprocess.Popen(command(binary, paths), cwd=paths.prefix,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    proc.returncode = 0  # tracked by pid from now on (see runtimes.process)
    return proc.pid


def reload(pid: int) -> None:
    """SIGHUP: the master re-reads the configuration, starts new workers and tells the old
    ones to finish (ngx_process_cycle.c). Only a new worker answering proves it applied."""
    os.kill(pid, signal.SIGHUP)


async def wait_until(pid: int, paths: NginxPaths, ready: Callable[[], Awaitable[bool]],
                     what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise ControlError(f"nginx exited while {what}; {paths.error_log}:\n"
                               f"{log_tail(paths.error_log)}\n{log_tail(paths.output)}")
        if await ready():
            return
        await asyncio.sleep(0.05)
    raise ControlError(f"nginx did not confirm {what} within {timeout:g}s; "
                       f"{paths.error_log}:\n{log_tail(paths.error_log)}")


async def stop(pid: int, grace: float) -> None:
    """SIGQUIT (graceful: requests in flight finish), then SIGKILL the group after `grace`."""
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return
        await asyncio.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not is_alive(pid):
            return
        await asyncio.sleep(0.05)
