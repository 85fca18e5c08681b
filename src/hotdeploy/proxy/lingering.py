"""nginx's lingering close: after a response that ends the connection while the client may
still be sending (a body not read, pipelined requests), read and drop what comes for up to
`lingering_time`, waiting at most `lingering_timeout` for each read, before closing. When
the rest of the unread body has a known length, the connection closes as soon as it has
arrived (nginx discards the body, then closes). Closing at once with unread input would make
the kernel send an RST, which can destroy the response before the client reads it.

The connection's protocol is swapped for a `LingeringDrain`, so that the request path has no
check for this state; the drain hands the end of the connection back to its owner.
"""

from __future__ import annotations

import asyncio
from typing import Any


class LingeringDrain:
    def __init__(self, owner: Any, transport: Any, loop: asyncio.AbstractEventLoop,
                 total: float, timeout: float, remaining: int = -1) -> None:
        self.owner = owner
        self.remaining = remaining  # body bytes still to come, -1 when unknown
        self.transport = transport
        self.loop = loop
        self.deadline = loop.time() + total
        self.timeout = timeout
        self.handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        wait = min(self.timeout, self.deadline - self.loop.time())
        self.handle = self.loop.call_later(max(wait, 0.0), self._expire)

    def _expire(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = None
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        # Dropped: the request it belongs to is already answered.
        if self.remaining >= 0:
            self.remaining -= len(data)
            if self.remaining <= 0:
                self._expire()
                return
        self._arm()

    def eof_received(self) -> bool:
        self.transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self.owner.connection_lost(exc)

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


def start(owner: Any, transport: Any, loop: asyncio.AbstractEventLoop, total: float,
          timeout: float, remaining: int = -1) -> bool:
    """Begin a lingering close (what is buffered still goes out whole). With a body of known
    length still to come, nginx discards it with the connection open both ways; otherwise
    (pipelined requests, a chunked body) it shuts its write side first, so that the client
    sees the end at once and closes too."""
    if remaining == 0:
        return False
    if remaining < 0 and transport.can_write_eof():
        transport.write_eof()
    transport.set_protocol(LingeringDrain(owner, transport, loop, total, timeout, remaining))
    if getattr(owner, "reading_paused", False):
        transport.resume_reading()
    return True
