"""Smooth weighted round robin (ngx_http_upstream_get_peer in ngx_http_upstream_round_robin.c).

Each selection adds every eligible peer's effective weight to its current weight; the largest
current weight wins and gives back the total. Weights 5,1,1 give a a b a c a a. The effective
weight drops after a failure (see upstream.passive) and climbs back by one per selection, so a
peer that just failed receives traffic gradually again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hotdeploy.balancer.base import Pick
from hotdeploy.upstream.peer import Peer


def smooth_wrr(candidates: Iterable[Peer], weight: Callable[[Peer], float]) -> Peer | None:
    best: Peer | None = None
    total: float = 0
    for peer in candidates:
        step: float = peer.effective_weight
        ramped = weight(peer)
        if ramped < step:
            # slow start: the ramped weight caps what the peer adds this round
            step = ramped
        peer.current_weight += step
        total += step
        if peer.effective_weight < peer.weight:
            peer.effective_weight += 1
        if best is None or peer.current_weight > best.current_weight:
            best = peer
    if best is not None:
        best.current_weight -= total
    return best


class RoundRobin:
    def select(self, pick: Pick) -> Peer | None:
        return smooth_wrr((p for p in pick.peers if pick.eligible(p)), pick.weight)
