"""The leaky bucket of ngx_http_limit_req_module, on a millisecond clock the caller passes.

Each key's state is (excess, last): excess in milli-requests above the rate, last the ms of
the last accounted request. A request adds 1000 and the time since `last` drains
`rate * ms / 1000` (rate in milli-requests per second). Above `burst` the request is rejected;
above `delay` it waits `(excess - delay) * 1000 / rate` ms. With several `limit_req` lines the
earlier zones are only looked up (their node held), the last one accounted, and the held ones
accounted after it, the longest delay winning: nginx's lookup/account split, so that a request
rejected by a later zone takes nothing from the earlier ones.

Pure: no clock, no I/O. The zone's memory bound is counted in nginx's node sizes, and a full
zone first forgets the least recently used idle state, as ngx_http_limit_req_expire does.

The states are kept in a `Nodes` store: by default `DictNodes`, an OrderedDict in this process;
proxy/shared_limits.py gives the same algorithm a store in a file all worker processes map.
The algorithm only reads and writes a node's fields and asks the store for the operations
below, so both stores give the same verdicts by construction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

OK, AGAIN, BUSY, ERROR, DECLINED = "ok", "again", "busy", "error", "declined"
# An idle state older than this is forgotten when a new one needs room (nginx: 60000 ms).
EXPIRE_MS = 60_000
# nginx's node: an rbtree node up to `color` (32 bytes) plus the limit_req node header
# (queue, last, excess, count: ~48 bytes) plus the key, allocated from slab classes
# (powers of two from 8): a 4-byte $binary_remote_addr key takes 128 bytes, the figure the
# nginx documentation gives for 64-bit platforms.
NODE_OVERHEAD = 80


def slab_size(length: int) -> int:
    size = 8
    while size < length:
        size *= 2
    return size


# The smallest node a state can take (an empty key): a store of fixed slots needs at most
# size // SMALLEST_NODE of them before the byte accounting says the zone is full.
SMALLEST_NODE = slab_size(NODE_OVERHEAD)


class Node(Protocol):
    """One key's state, as the algorithm reads and writes it."""

    excess: int
    last: int
    count: int  # requests holding this node between lookup and account
    size: int  # the slab bytes it takes of the zone


class Nodes(Protocol):
    """Where a zone keeps its nodes, least recently used first (the OrderedDict methods the
    algorithm uses, plus `add`)."""

    def get(self, key: bytes) -> Node | None: ...

    def move_to_end(self, key: bytes) -> None:
        """Make `key` the most recently used (after `get` found it)."""

    def values(self) -> Iterable[Node]:
        """From the least recently used (the algorithm takes only the first)."""

    def popitem(self, last: bool) -> object:
        """Forget the least recently used node (called with last=False)."""

    def add(self, key: bytes, size: int) -> Node:
        """A new node for `key` (not present), most recently used, fields 0 but `size`."""

    def __len__(self) -> int: ...


class _Node:
    __slots__ = ("count", "excess", "last", "size")

    def __init__(self, size: int) -> None:
        self.excess = 0
        self.last = 0
        self.count = 0  # requests holding this node between lookup and account
        self.size = size


class DictNodes(OrderedDict[bytes, _Node]):
    """The nodes of a zone private to this process."""

    def add(self, key: bytes, size: int) -> _Node:
        node = self[key] = _Node(size)
        return node


def _drained(node: Node, rate: int, now: int) -> tuple[int, int]:
    """(excess after this request, ms since the node's last request), nginx's arithmetic."""
    ms = now - node.last
    if ms < -60000:
        ms = 1  # the clock went back a lot: count it as a millisecond
    elif ms < 0:
        ms = 0
    excess = node.excess - rate * ms // 1000 + 1000
    return max(excess, 0), ms


class ReqZone:
    """One `limit_req_zone`: the states of its keys, bounded by the zone's size."""

    # Slab bytes of the nodes: 0 until the first node (a class default, not set in __init__,
    # so that a shared zone can make it a property of its store).
    used: int = 0

    def __init__(self, name: str, rate: int, size: int, nodes: Nodes | None = None) -> None:
        self.name = name
        self.rate = rate  # milli-requests per second
        self.size = size
        self.nodes: Nodes = DictNodes() if nodes is None else nodes  # oldest first

    def _expire(self, now: int, force: bool) -> None:
        """nginx: drop the oldest state by force (when allocation failed), then up to two
        more that have drained and were idle for a minute; stop at a state in use."""
        n = 0 if force else 1
        while n < 3 and self.nodes:
            node = next(iter(self.nodes.values()))
            if node.count:
                return
            if n != 0:
                ms = abs(now - node.last)
                if ms < EXPIRE_MS or node.excess - self.rate * ms // 1000 > 0:
                    return
            n += 1
            self.used -= node.size
            self.nodes.popitem(last=False)

    def lookup(self, key: bytes, burst: int, account: bool, now: int,
               ) -> tuple[str, int, Node | None]:
        """(OK | AGAIN | BUSY | ERROR, excess, the held node for AGAIN)."""
        node = self.nodes.get(key)
        if node is not None:
            self.nodes.move_to_end(key)
            excess, ms = _drained(node, self.rate, now)
            if excess > burst:
                return BUSY, excess, None
            if account:
                node.excess = excess
                if ms:
                    node.last = now
                return OK, excess, None
            node.count += 1
            return AGAIN, excess, node
        size = slab_size(NODE_OVERHEAD + len(key))
        self._expire(now, force=False)
        if self.used + size > self.size:
            self._expire(now, force=True)
            if self.used + size > self.size:
                return ERROR, 0, None
        node = self.nodes.add(key, size)
        self.used += size
        if account:
            node.last = now
            return OK, 0, None
        node.count = 1  # last stays 0: accounting it later finds it fully drained
        return AGAIN, 0, node

    def account(self, node: Node, now: int) -> int:
        """Account a node held by `lookup(..., account=False)`; its new excess."""
        excess, ms = _drained(node, self.rate, now)
        if ms:
            node.last = now
        node.excess = excess
        node.count -= 1
        return excess

    def unhold(self, node: Node) -> None:
        """Give back a node held by `lookup(..., account=False)` without accounting it."""
        node.count -= 1


@dataclass(frozen=True, slots=True)
class Limit:
    """One `limit_req` line bound to its zone (burst and delay in milli-requests)."""

    zone: ReqZone
    burst: int
    delay: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the request gets: DECLINED (no key: not limited), OK (maybe with `delay_ms`),
    BUSY (rejected: over burst) or ERROR (the zone is full); `excess` and `zone` are what
    nginx logs."""

    rc: str
    excess: int = 0
    zone: str = ""
    delay_ms: int = 0


def check(limits: Sequence[Limit], keys: Sequence[bytes], now: int) -> Verdict:
    """ngx_http_limit_req_handler for one request; `keys[i]` is the rendered key of
    `limits[i]` (empty: that limit does not apply)."""
    rc, excess, index = DECLINED, 0, 0
    held: list[tuple[ReqZone, Node]] = []
    last = len(limits) - 1
    for index, limit in enumerate(limits):
        key = keys[index]
        if not key:
            continue
        rc, excess, node = limit.zone.lookup(key, limit.burst, index == last, now)
        if rc != AGAIN:
            break
        if node is not None:
            held.append((limit.zone, node))
    if rc == DECLINED:
        return Verdict(DECLINED)
    if rc in (BUSY, ERROR):
        for zone, node in held:
            zone.unhold(node)  # ngx_http_limit_req_unlock: the earlier zones take nothing
        return Verdict(rc, excess, limits[index].zone.name)
    if rc == AGAIN:
        excess = 0  # the last limit had no key: the held ones alone decide
    chosen = limits[index]
    max_delay = 0 if excess <= chosen.delay else (excess - chosen.delay) * 1000 // chosen.zone.rate
    by_zone = {id(limit.zone): limit for limit in limits}
    for zone, node in reversed(held):
        node_excess = zone.account(node, now)
        limit = by_zone[id(zone)]
        if node_excess <= limit.delay:
            continue
        delay = (node_excess - limit.delay) * 1000 // zone.rate
        if delay > max_delay:
            max_delay, excess, chosen = delay, node_excess, limit
    return Verdict(OK, excess, chosen.zone.name, max_delay)
