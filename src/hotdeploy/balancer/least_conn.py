"""least_conn (ngx_http_upstream_least_conn_module.c).

The peer with the fewest connections relative to its weight wins, compared by cross
multiplication (`a.conns * b.weight < b.conns * a.weight`) so no division is needed. When
several peers tie, nginx runs smooth weighted round robin among the tied peers, starting from
the first of them; when nothing tied it leaves the round-robin weights untouched.
"""

from __future__ import annotations

from hotdeploy.balancer.base import Pick
from hotdeploy.balancer.round_robin import smooth_wrr
from hotdeploy.upstream.peer import Peer


class LeastConn:
    def select(self, pick: Pick) -> Peer | None:
        weight = pick.weight
        candidates = [p for p in pick.peers if pick.eligible(p)]
        best: Peer | None = None
        start = 0
        many = False
        for i, peer in enumerate(candidates):
            if best is None or peer.conns * weight(best) < best.conns * weight(peer):
                best, start, many = peer, i, False
            elif peer.conns * weight(best) == best.conns * weight(peer):
                many = True
        if best is None or not many:
            return best
        anchor = best
        tied = [
            p for p in candidates[start:]
            if p.conns * weight(anchor) == anchor.conns * weight(p)
        ]
        return smooth_wrr(tied, pick.now)
