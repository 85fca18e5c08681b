"""nginx's connection counters (ngx_stat_*) for `stub_status` and `$connections_*`.

Nothing is counted per request: accepted and handled connections are counted once per
connection (ConnectionTracker), the requests of closed connections when they close, and the
rest is read off the open connections when a status page or variable asks for it:
a connection is *reading* while it reads a request head, *writing* while it answers a request
(or tunnels), *waiting* when idle between requests, as nginx counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The trackers of this process (normally one: every listener shares it); registered by
# proxy.server.make_protocol_factory so that $connections_* can find them from a request.
TRACKERS: list[Any] = []


def register(tracker: Any) -> None:
    if all(t is not tracker for t in TRACKERS):
        TRACKERS.append(tracker)


def requests_created(conn: Any) -> int:
    """Requests a connection has begun (nginx counts a request when it starts reading it)."""
    count = conn.requests + len(conn.queue)
    cur = conn.cur
    if cur is not None and not (conn.queue and conn.queue[-1] is cur):
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class Stats:
    active: int
    accepts: int
    handled: int
    requests: int
    reading: int
    writing: int
    waiting: int

    def stub_status(self) -> bytes:
        """The page, byte for byte as ngx_http_stub_status_module writes it."""
        return (f"Active connections: {self.active} \n"
                "server accepts handled requests\n"
                f" {self.accepts} {self.handled} {self.requests} \n"
                f"Reading: {self.reading} Writing: {self.writing} Waiting: {self.waiting} \n"
                ).encode()


def snapshot(trackers: Iterable[Any]) -> Stats:
    active = accepts = handled = requests = reading = writing = 0
    for tracker in trackers:
        accepts += tracker.accepted
        handled += tracker.handled
        requests += tracker.closed_requests
        for conn in tracker.connections:
            active += 1
            requests += requests_created(conn)
            if conn.queue or conn.tunnel is not None:
                writing += 1
            elif conn.cur is not None:
                reading += 1
    return Stats(active, accepts, handled, requests, reading, writing,
                 active - reading - writing)
