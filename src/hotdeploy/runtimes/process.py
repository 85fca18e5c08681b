"""Process helpers shared by the runtimes and the engines that run local processes: a free
port, liveness by pid (children and adopted processes alike), stopping a process group, the
last lines of a log file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free now (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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


def log_tail(path: str | os.PathLike[str], lines: int = 10) -> str:
    """The last lines of a log file, or "(no log)"."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])
