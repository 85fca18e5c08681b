"""Passive health: nginx's fails / accessed / checked accounting (ngx_http_upstream_round_robin.c).

- A failed attempt: `fails += 1; accessed = checked = now`, and the effective weight drops by
  `weight / max_fails` (integer division, not below 0) so traffic returns gradually.
- A selection: `checked = now` once `fail_timeout` has passed since the last check. For a peer
  that is out, that selection is the single probe; the fresh stamp shuts the door for others.
- A success: `fails = 0` only when `accessed < checked`, i.e. the peer was checked after its
  last failure; failures within one `fail_timeout` window therefore accumulate.

With `worker_processes N` and a `zone`, the failures other workers saw count too
(`zone_fails`, their recent ones, with `zone_checked`, their latest stamp): a server that
reached max_fails in one worker is out in all for fail_timeout. Each worker's own counter still
follows nginx's rules above; the other workers' failures expire after fail_timeout.
"""

from __future__ import annotations

from hotdeploy.upstream.peer import Peer


def marked_failed(peer: Peer) -> bool:
    """max_fails reached: the peer is out until a probe succeeds."""
    return bool(peer.max_fails) and peer.fails + peer.zone_fails >= peer.max_fails


def failed_out(peer: Peer, now: float) -> bool:
    """Not eligible now: marked failed and still inside fail_timeout since the last check."""
    if not peer.max_fails:
        return False
    if peer.fails >= peer.max_fails and now - peer.checked <= peer.fail_timeout:
        return True
    return (peer.zone_fails > 0 and peer.fails + peer.zone_fails >= peer.max_fails
            and now - max(peer.checked, peer.zone_checked) <= peer.fail_timeout)


def stamp_selected(peer: Peer, now: float) -> None:
    if now - peer.checked > peer.fail_timeout:
        peer.checked = now


def record_failure(peer: Peer, now: float) -> None:
    peer.fails += 1
    peer.accessed = now
    peer.checked = now
    if peer.max_fails:
        peer.effective_weight -= peer.weight // peer.max_fails
    peer.effective_weight = max(peer.effective_weight, 0)


def record_success(peer: Peer) -> None:
    if peer.accessed < peer.checked:
        peer.fails = 0
