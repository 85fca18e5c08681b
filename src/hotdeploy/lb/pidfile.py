"""The pid file: how `-s reload|quit|stop|reopen` finds the running balancer."""

from __future__ import annotations

import os

from hotdeploy.errors import HotdeployError
from hotdeploy.fileio import atomic_write

# Readable by everyone, as nginx's pid file: `-s reload` may be run by another user.
PID_FILE_MODE = 0o644


def write_pid(path: str, pid: int) -> None:
    # Written atomically so that a concurrent `-s reload` never reads a half-written number.
    atomic_write(path, f"{pid}\n", mode=PID_FILE_MODE)


def remove_pid(path: str, pid: int) -> None:
    """Remove the file only if it is still ours (a newer instance may have replaced it)."""
    try:
        if read_pid(path) == pid:
            os.unlink(path)
    except (OSError, HotdeployError):
        pass


def read_pid(path: str) -> int:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError as exc:
        # nginx: open() "/run/nginx.pid" failed (2: No such file or directory)
        raise HotdeployError(
            f'open() "{path}" failed ({exc.errno}: {exc.strerror})'
        ) from exc
    if not text.isdigit():
        raise HotdeployError(f'invalid PID number "{text}" in "{path}"')
    return int(text)
