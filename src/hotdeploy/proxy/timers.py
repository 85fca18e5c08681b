"""A cheap resettable deadline for protocol timeouts.

nginx re-arms a timer on every read/write; re-creating an asyncio TimerHandle per packet would
cost more than the proxying itself. `Deadline` keeps one handle and only moves a float on reset:
when the handle fires early it re-schedules itself for the current deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


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
        when = self.when = self._loop.time() + timeout
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
        if self._loop.time() < when:
            self._at = when
            self._handle = self._loop.call_at(when, self._fire)
            return
        self.when = 0.0
        self.callback()
