"""Writes held until the end of the event-loop iteration, then issued back to back.

On loopback every write(2) wakes the reader; when the reader has gone idle since the last
write, waking it costs an inter-processor interrupt, which costs more than the write itself.
The proxy handles a batch of ready events per iteration: issuing their writes together wakes
each peer process once per batch instead of once per write. Ordering per transport is kept
(one FIFO), and nothing waits longer than the rest of the current iteration.
"""

from __future__ import annotations

import asyncio
from typing import Any


class WriteBatch:
    __slots__ = ("chunks", "loop", "scheduled", "transports")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transports: list[Any] = []
        self.chunks: list[bytes] = []
        self.scheduled = False

    def write(self, transport: Any, data: bytes) -> None:
        self.transports.append(transport)
        self.chunks.append(data)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._end_of_iteration)

    def _end_of_iteration(self) -> None:
        self.scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write what is held now (also before a connection closes or streams a body); the
        callback already scheduled stays, and finds nothing or what came after."""
        transports, chunks = self.transports, self.chunks
        if not transports:
            return
        self.transports = []
        self.chunks = []
        for index in range(len(transports)):
            transport = transports[index]
            if transport.is_closing():
                continue  # closed or lost since: its connection_lost did the accounting
            try:
                transport.write(chunks[index])
            except (OSError, RuntimeError):
                # As a direct write would have failed: that connection is gone, and the
                # others in the batch must still get theirs.
                continue
