"""The proxy's clocks: wall-clock strings formatted at most once per second, and one reading of
the monotonic clock per read callback (nginx caches both: ngx_time_update runs once per
event-loop iteration, and every timer and time variable of that iteration reads the cache)."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Final

# Final, not an imported name: compiled, a read of a plain module global is a dict lookup.
wall_seconds: Final = time.time
monotonic: Final = time.monotonic


class _Reading:
    """time.monotonic() as read when the read callback being run began; 0.0 outside one.
    A request is begun, sent upstream, answered and logged inside one or two such callbacks,
    which read the clock eight times between them: one reading each serves them all."""

    def __init__(self) -> None:
        self.at = 0.0


READING: Final = _Reading()


def open_reading() -> None:
    """At the start of a read callback (closed in its `finally` by close_reading)."""
    READING.at = monotonic()


def close_reading() -> None:
    READING.at = 0.0  # outside a callback `now()` reads the clock itself: never a stale value


def now() -> float:
    """time.monotonic(), as read at the start of the current read callback if one runs."""
    at = READING.at
    return at if at != 0.0 else monotonic()


class _Strings:
    """The strings of one second. Fields of one Final instance, not reassigned module globals:
    compiled, a module global that is assigned is a dictionary lookup on every read, a field
    of a native object a load."""

    def __init__(self) -> None:
        self.second = -1
        self.ends = 0.0  # the monotonic time at which `second` is over
        self.date_header = b""
        self.time_local = ""

    def refresh(self) -> None:
        """Format the current second, if it is not the one held (the wall clock is read only
        here: once a second, as nginx's cached time strings)."""
        wall = wall_seconds()
        second = int(wall)
        self.ends = monotonic() + (second + 1 - wall)
        if second == self.second:
            return
        self.second = second
        self.date_header = b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        self.time_local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


_NOW: Final = _Strings()


def date_header() -> bytes:
    """`Date: Thu, 26 Nov 2026 09:55:45 GMT\r\n` (RFC 9110 §6.6.1 IMF-fixdate)."""
    strings = _NOW
    if now() >= strings.ends:
        strings.refresh()
    return strings.date_header


def time_local() -> str:
    """`$time_local`: `26/Nov/2026:09:55:45 +0000`."""
    strings = _NOW
    if now() >= strings.ends:
        strings.refresh()
    return strings.time_local
