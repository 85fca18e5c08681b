"""One atomic file write, used for every file another process (or a restarted one) may read
while it is being replaced: state files, pid files, generated configurations, release
manifests.

Write to a temporary file in the same directory, fsync, rename: a reader sees the old file or
the new one, never half of one (rename within one file system is atomic, POSIX rename(2)).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, fsync: bool = True,
                 mode: int | None = None) -> None:
    """Replace `path` by `data` atomically, creating its directory when missing. The file is
    private (0600, from mkstemp) unless `mode` says otherwise (a pid file is 0644, as nginx's)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None:
                os.fchmod(stream.fileno(), mode)
            stream.write(payload)
            if fsync:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_if_changed(path: str | os.PathLike[str], text: str) -> bool:
    """Atomically write `text` unless the file already holds it; True when it was written."""
    target = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if target.read_text(encoding="utf-8") == text:
            return False
    atomic_write(target, text)
    return True
