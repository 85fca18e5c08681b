"""The counters of ngx_http_limit_conn_module: requests in progress per key.

nginx counts a request from the preaccess phase until the request is freed (after its access
log line), so a keep-alive connection between requests holds nothing, and the limit is on
requests being processed at once. A key's state is freed when its count drops to 0. The zone's
memory bound is counted in nginx's node sizes (a 4-byte key takes 64 bytes, as the nginx
documentation says for 64-bit platforms); a full zone rejects, as nginx does.

Pure: no I/O. The counts are kept in a `Counts` store: a dict in this process by default;
proxy/shared_limits.py gives the same algorithm a store in a file all worker processes map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hotdeploy.proxy.limit_req import slab_size

# rbtree node up to `color` (32 bytes) + the limit_conn node (color, len, conn: 4 bytes) + key.
NODE_OVERHEAD = 36
OK, BUSY, ERROR = "ok", "busy", "error"
# The smallest node a count can take (an empty key): a store of fixed slots needs at most
# size // SMALLEST_NODE of them before the byte accounting says the zone is full.
SMALLEST_NODE = slab_size(NODE_OVERHEAD)


class Counts(Protocol):
    """Where a zone keeps its counts (the dict operations the algorithm uses)."""

    def get(self, key: bytes, default: int | None = None, /) -> int | None: ...

    def __setitem__(self, key: bytes, count: int) -> None: ...

    def __delitem__(self, key: bytes) -> None: ...

    def __contains__(self, key: object) -> bool: ...


class ConnZone:
    # Slab bytes of the counts: 0 until the first count (a class default, not set in __init__,
    # so that a shared zone can make it a property of its store).
    used: int = 0

    def __init__(self, name: str, size: int, counts: Counts | None = None) -> None:
        self.name = name
        self.size = size
        self.counts: Counts = {} if counts is None else counts

    def acquire(self, key: bytes, limit: int) -> str:
        count = self.counts.get(key)
        if count is None:
            size = slab_size(NODE_OVERHEAD + len(key))
            if self.used + size > self.size:
                return ERROR
            self.used += size
            self.counts[key] = 1
            return OK
        if count >= limit:
            return BUSY
        self.counts[key] = count + 1
        return OK

    def release(self, key: bytes) -> None:
        count = self.counts.get(key, 0) - 1
        if count > 0:
            self.counts[key] = count
        elif key in self.counts:
            del self.counts[key]
            self.used -= slab_size(NODE_OVERHEAD + len(key))


@dataclass(frozen=True, slots=True)
class Limit:
    zone: ConnZone
    conn: int


def acquire_all(limits: Sequence[Limit], keys: Sequence[bytes],
                ) -> tuple[str, str, list[tuple[ConnZone, bytes]]]:
    """ngx_http_limit_conn_handler: (OK | BUSY | ERROR, the zone that refused, the counts
    taken). A refusal gives back the counts already taken for this request. `passed` tells
    whether any key applied (nginx's $limit_conn_status stays empty otherwise)."""
    taken: list[tuple[ConnZone, bytes]] = []
    for limit, key in zip(limits, keys, strict=True):
        if not key:
            continue
        rc = limit.zone.acquire(key, limit.conn)
        if rc != OK:
            release_all(taken)
            return rc, limit.zone.name, []
        taken.append((limit.zone, key))
    return OK, "", taken


def release_all(taken: Sequence[tuple[ConnZone, bytes]]) -> None:
    for zone, key in taken:
        zone.release(key)
