"""The `Expires` and `Cache-Control` that `expires` sets (ngx_http_headers_module), for the
statuses nginx sets them on. Pure: the caller passes the time and the response's
Last-Modified."""

from __future__ import annotations

import time
from email.utils import formatdate

from hotdeploy.config.model import Expires

STATUSES = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})
# The upstream headers `expires` replaces (and Last-Modified, which `modified` reads).
HEADERS = frozenset({b"expires", b"cache-control", b"last-modified"})
_EPOCH = (b"Thu, 01 Jan 1970 00:00:01 GMT", b"no-cache")
_MAX = (b"Thu, 31 Dec 2037 23:55:55 GMT", b"max-age=315360000")


def next_time(of_day: int, now: int) -> int:
    """ngx_next_time: the next moment (after now) whose local time of day is `of_day`."""
    local = time.localtime(now)
    hour, rest = divmod(of_day, 3600)
    fields = [local.tm_year, local.tm_mon, local.tm_mday, hour, rest // 60, rest % 60,
              0, 0, local.tm_isdst]
    moment = int(time.mktime(tuple(fields)))  # type: ignore[arg-type]
    if moment - now > 0:
        return moment
    fields[2] += 1  # mktime normalizes the 32nd of a month
    return int(time.mktime(tuple(fields)))  # type: ignore[arg-type]


def values(setting: Expires, now: int, last_modified: int = -1) -> tuple[bytes, bytes]:
    """(Expires value, Cache-Control value) of ngx_http_set_expires; `last_modified` -1: the
    response has none (`modified` then counts from now)."""
    kind, seconds = setting.kind, setting.seconds
    if kind == "epoch":
        return _EPOCH
    if kind == "max":
        return _MAX
    if seconds == 0 and kind != "daily":
        return formatdate(now, usegmt=True).encode(), b"max-age=0"
    if kind == "daily":
        when = next_time(seconds, now)
        max_age = when - now
    elif kind == "access" or last_modified == -1:
        when, max_age = now + seconds, seconds
    else:
        when = last_modified + seconds
        max_age = when - now
    control = b"no-cache" if seconds < 0 or max_age < 0 else b"max-age=%d" % max_age
    return formatdate(when, usegmt=True).encode(), control


def lines(setting: Expires, now: int, last_modified: int = -1) -> bytes:
    """The two header lines, as nginx adds them when the response has neither."""
    expires, control = values(setting, now, last_modified)
    return b"Expires: " + expires + b"\r\nCache-Control: " + control + b"\r\n"
