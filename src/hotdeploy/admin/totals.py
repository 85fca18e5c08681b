"""A server's statistics summed over every worker (`worker_processes N` with `zone`). Pure.

A worker's `Peer` counts what that worker did; `Peer.elsewhere` holds the other workers' sums
(upstream.zone record layout, refreshed by lb/zonesync.py just before an API or metrics read).
The API and the metrics report `Totals`, never the worker's share alone, as NGINX Plus reports
the zone.
"""

from __future__ import annotations

from typing import Any

from hotdeploy.upstream import zone as z
from hotdeploy.upstream.peer import Peer

_SUMMED = {"requests": z.REQUESTS, "sent": z.SENT, "received": z.RECEIVED,
           "fails_total": z.FAILS_TOTAL, "unavail": z.UNAVAIL, "retries": z.RETRIES}


class Totals:
    """The peer's counters plus the other workers'; any other attribute is the peer's."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        other = peer.elsewhere
        for name, index in _SUMMED.items():
            setattr(self, name, getattr(peer, name) + (int(other[index]) if other else 0))
        self.latency_sum = peer.latency_sum + (other[z.LATENCY_SUM] if other else 0.0)
        self.responses = [count + (int(other[z.RESPONSES + i]) if other else 0)
                          for i, count in enumerate(peer.responses)]
        self.latency_buckets = [count + (int(other[z.BUCKETS + i]) if other else 0)
                                for i, count in enumerate(peer.latency_buckets)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.peer, name)


def totals(peer: Peer) -> Any:
    """`peer` itself when it is not shared (nothing to add), else its Totals."""
    return peer if peer.elsewhere is None else Totals(peer)
