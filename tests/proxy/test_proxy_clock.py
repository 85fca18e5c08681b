"""The proxy's cached clocks: the Date string follows the wall clock second by second, and one
monotonic reading serves a read callback, never anything outside one."""

from __future__ import annotations

import time
from email.utils import formatdate

from hotdeploy.proxy.clock import close_reading, date_header, now, open_reading, time_local


def _date(second: int) -> bytes:
    return b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"


def test_date_header_is_the_current_second_and_moves_with_it():
    before = int(time.time())
    first = date_header()
    assert first in (_date(before), _date(before + 1))
    # wait until the wall clock is into the next second, then ask again
    time.sleep(int(time.time()) + 1.05 - time.time())
    second = int(time.time())
    assert date_header() in (_date(second), _date(second + 1))
    assert date_header() != first


def test_time_local_names_the_same_second_as_date():
    stamp = time_local()
    second = int(time.time())
    assert stamp in (time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(s))
                     for s in (second - 1, second))


def test_one_reading_per_callback_and_a_fresh_clock_outside():
    open_reading()
    try:
        inside = now()
        time.sleep(0.01)
        assert now() == inside  # the callback's reading
    finally:
        close_reading()
    outside = now()
    assert outside >= inside + 0.01  # the clock itself, never the closed reading
    time.sleep(0.01)
    assert now() >= outside + 0.01
