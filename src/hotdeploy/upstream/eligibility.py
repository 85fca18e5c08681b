"""Whether a peer may take a request now: nginx's tests in ngx_http_upstream_get_peer plus
NGINX Plus's drain and active health.

Written once here; the group applies it before every policy (round robin runs it on every
peer of every request, so the module is compiled, as upstream.passive, whose rule it asks).
"""

from __future__ import annotations

from hotdeploy.upstream import passive
from hotdeploy.upstream.peer import Peer


def eligible(peer: Peer, tried: int, single: bool, now: float) -> bool:
    """`tried`: the request's bitmap of peer ids already tried; `single`: nginx's
    `peers->single` (one primary, no backup), whose failures never take it out."""
    if tried >> peer.id & 1 or peer.down or peer.draining or peer.health != "healthy":
        return False
    if peer.max_conns and peer.conns >= peer.max_conns:
        return False  # max_conns reached
    return single or not passive.failed_out(peer, now)
