"""Smooth weighted round robin (ngx_http_upstream_get_peer in ngx_http_upstream_round_robin.c).

Each selection adds every eligible peer's effective weight to its current weight; the largest
current weight wins and gives back the total. Weights 5,1,1 give a a b a c a a. The effective
weight drops after a failure (see upstream.passive) and climbs back by one per selection, so a
peer that just failed receives traffic gradually again.

The one implementation: the group runs it directly for `round robin` (no Pick built), and the
policies that fall back to it or break ties with it call the same function. It runs on every
request, so the module is compiled.
"""

from __future__ import annotations

from hotdeploy.balancer.base import Pick
from hotdeploy.upstream import slow_start
from hotdeploy.upstream.peer import Peer


def smooth_wrr(candidates: list[Peer], now: float) -> Peer | None:
    """The peer to use among `candidates` (all eligible), or None when there are none."""
    best: Peer | None = None
    total = 0.0
    for peer in candidates:
        # effective_weight never exceeds weight (it is reset with it and climbs back to it),
        # so outside a slow-start ramp it is the step as it is.
        step = float(peer.effective_weight)
        if peer.slow_start_began is not None:
            ramped = slow_start.ramped_weight(peer, now)
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
        return smooth_wrr([p for p in pick.peers if pick.eligible(p)], pick.now)
