"""NGINX Plus `slow_start=T`: after a server recovers or is added, its weight ramps from 0 to
nominal over T seconds (linear), starting from a minimal share so it is never starved."""

from __future__ import annotations

from hotdeploy.defaults import SLOW_START_MIN_FRACTION
from hotdeploy.upstream.peer import Peer


def begin(peer: Peer, now: float) -> None:
    if peer.slow_start > 0:
        peer.slow_start_began = now


def ramped_weight(peer: Peer, now: float) -> float:
    """The weight a policy should use at `now` (the nominal weight outside a ramp)."""
    began = peer.slow_start_began
    if began is None or peer.slow_start <= 0:
        return peer.weight
    elapsed = now - began
    if elapsed >= peer.slow_start:
        return peer.weight
    return peer.weight * max(elapsed / peer.slow_start, SLOW_START_MIN_FRACTION)
