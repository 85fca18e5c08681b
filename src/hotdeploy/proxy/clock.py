"""Wall-clock strings formatted at most once per second (nginx caches its time strings too)."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Final

# Final, not an imported name: compiled, a read of a plain module global is a dict lookup.
wall_seconds: Final = time.time


class _Strings:
    """The strings of one second. Fields of one Final instance, not reassigned module globals:
    compiled, a module global that is assigned is a dictionary lookup on every read, a field
    of a native object a load."""

    def __init__(self) -> None:
        self.second = -1
        self.date_header = b""
        self.time_local = ""

    def refresh(self, second: int) -> None:
        self.second = second
        self.date_header = b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        self.time_local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


_NOW: Final = _Strings()


def date_header() -> bytes:
    """`Date: Thu, 26 Nov 2026 09:55:45 GMT\r\n` (RFC 9110 §6.6.1 IMF-fixdate)."""
    second = int(wall_seconds())
    now = _NOW
    if second != now.second:
        now.refresh(second)
    return now.date_header


def time_local() -> str:
    """`$time_local`: `26/Nov/2026:09:55:45 +0000`."""
    second = int(wall_seconds())
    now = _NOW
    if second != now.second:
        now.refresh(second)
    return now.time_local
