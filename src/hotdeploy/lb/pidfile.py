"""The pid file: how `-s reload|quit|stop|reopen` finds the running balancer."""

from __future__ import annotations

import os

from hotdeploy.errors import HotdeployError


def write_pid(path: str, pid: int) -> None:
    # Written atomically so that a concurrent `-s reload` never reads a half-written number.
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{pid}.tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{pid}\n")
    os.replace(tmp, path)


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
