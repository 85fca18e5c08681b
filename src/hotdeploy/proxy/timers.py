"""A cheap resettable deadline for protocol timeouts.

nginx re-arms a timer on every read/write; re-creating an asyncio TimerHandle per packet would
cost more than the proxying itself. `Deadline` keeps one handle and only moves a float on reset:
when the handle fires early it re-schedules itself for the current deadline.

Deadlines are on time.monotonic(), the clock the loop's own time is read from (libuv's
uv_now, CLOCK_MONOTONIC in milliseconds, cached per iteration): reading it directly is a
plain call, where loop.time() is a method call on an untyped object, and a deadline may only
come a millisecond later than the loop's clock would have put it. A deadline set inside a read
callback counts from that callback's reading (clock.now), as nginx's timers count from the
time cached for the event-loop iteration; whether it has passed is asked of the clock itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import monotonic as _monotonic
from typing import Final

from hotdeploy.proxy.clock import now

# Final: compiled, a read of a plain module global is a dictionary lookup.
monotonic: Final = _monotonic


class Deadline:
    __slots__ = ("_at", "_handle", "_loop", "callback", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0  # when the live handle fires
        self.callback = callback
        self.when = 0.0  # 0 = disarmed

    def set(self, timeout: float) -> None:
        """Fire `timeout` seconds from now (replacing any earlier deadline)."""
        when = self.when = now() + timeout
        if self._handle is None or self._at > when:
            if self._handle is not None:
                self._handle.cancel()
            self._at = when
            self._handle = self._loop.call_at(when, self._fire)

    def clear(self) -> None:
        self.when = 0.0

    def cancel(self) -> None:
        self.when = 0.0
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        when = self.when
        if when == 0.0:
            return
        if monotonic() < when:
            self._at = when
            self._handle = self._loop.call_at(when, self._fire)
            return
        self.when = 0.0
        self.callback()
