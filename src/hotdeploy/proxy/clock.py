"""Wall-clock strings formatted at most once per second (nginx caches its time strings too)."""

from __future__ import annotations

import time
from email.utils import formatdate
from time import time as wall_seconds  # a global, not time.time: one lookup fewer per response

_cache_second = -1
_date_header = b""
_time_local = ""


def _refresh(second: int) -> None:
    global _cache_second, _date_header, _time_local
    _cache_second = second
    _date_header = b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
    _time_local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


def date_header() -> bytes:
    """`Date: Thu, 26 Nov 2026 09:55:45 GMT\r\n` (RFC 9110 §6.6.1 IMF-fixdate)."""
    second = int(wall_seconds())
    if second != _cache_second:
        _refresh(second)
    return _date_header


def time_local() -> str:
    """`$time_local`: `26/Nov/2026:09:55:45 +0000`."""
    second = int(wall_seconds())
    if second != _cache_second:
        _refresh(second)
    return _time_local
