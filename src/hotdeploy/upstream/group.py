"""The peer group of one upstream: selection, passive accounting, live changes, state events.

This is the only object the proxy and the API touch. It combines the rules that nginx spreads
over ngx_http_upstream_round_robin.c (eligibility, backups, fail accounting, "no live
upstreams") with NGINX Plus's live features (active health, drain, slow start, API add/remove,
zombies). The policies in `hotdeploy.balancer` only choose among what this group calls eligible.

Pure: no I/O, no clock; every timing rule takes `now` (monotonic seconds).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

from hotdeploy.balancer import Pick, Policy, policies_for
from hotdeploy.balancer.round_robin import RoundRobin, smooth_wrr
from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.defaults import NO_LIVE_UPSTREAMS_RESETS_FAILS
from hotdeploy.upstream import passive, slow_start
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.eligibility import eligible
from hotdeploy.upstream.events import NO_LIVE_UPSTREAMS, PeerEvent
from hotdeploy.upstream.peer import HealthState, Peer

__all__ = ["PeerGroup"]

EventSink = Callable[[PeerEvent], None]

# NGINX Plus "downtime": time spent in the unavail, checking and unhealthy states.
DOWN_STATES = frozenset({"unavail", "checking", "unhealthy"})
# nginx refuses `backup` with these methods ("balancing method does not support backup").
NO_BACKUP_METHODS = frozenset({"ip_hash", "hash", "random"})
PATCHABLE = frozenset(
    {"weight", "max_conns", "max_fails", "fail_timeout", "slow_start", "backup", "down", "drain"}
)


def _fmt_seconds(value: float) -> str:
    return f"{value:g}s"


class PeerGroup:
    def __init__(
        self,
        config: UpstreamConfig,
        on_event: EventSink | None = None,
        mandatory: bool = False,
        now: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.on_event = on_event
        self.mandatory = mandatory
        self.rng = rng
        # Added to monotonic `now` to stamp Peer.selected in wall-clock seconds (the runtime
        # sets it to time.time() - time.monotonic(); this module never reads a clock).
        self.wall_offset = 0.0
        self.reset_on_no_live = NO_LIVE_UPSTREAMS_RESETS_FAILS
        self.peers: list[Peer] = []
        self.zombies: list[Peer] = []
        self._next_id = 0
        self._known: dict[int, str] = {}  # last state reported per peer id
        self._ramp_on_pass: set[int] = set()  # added while "checking": ramp at first pass
        self._version = 0
        self._tier_shape: tuple[int, int] = (-1, 0)
        self._tier_cache: tuple[list[Peer], list[Peer]] = ([], [])
        self._primary_policy, self._backup_policy = policies_for(config, rng)
        for spec in config.servers:
            self.peers.append(self._new_peer(spec, now, ramp=False))

    # ------------------------------------------------------------------ membership helpers
    def _new_peer(self, spec: ServerSpec, now: float, ramp: bool) -> Peer:
        peer = Peer.from_spec(spec, self._next_id)
        self._next_id += 1
        if self.mandatory:
            # NGINX Plus `mandatory`: no traffic until the first check passes.
            peer.health = "checking"
            if ramp:
                self._ramp_on_pass.add(peer.id)
        elif ramp:
            slow_start.begin(peer, now)
        self._settle(peer, now)
        return peer

    def _settle(self, peer: Peer, now: float) -> None:
        """Record a peer's first state without an event (it did not change, it appeared)."""
        state = self.state_of(peer, now)
        self._known[peer.id] = state
        if state in DOWN_STATES and peer.downstart is None:
            peer.downstart = now

    def _single(self) -> bool:
        """nginx's `peers->single`: one primary and no backups. Its failures are never counted,
        so a lone server is never marked unavailable (there is nowhere else to go)."""
        return len(self.peers) == 1 and not self.peers[0].backup

    def _tiers(self) -> tuple[list[Peer], list[Peer]]:
        # Cached: rebuilt when membership or a role changes (add, remove, PATCH, reload bump
        # `_version`; the length guards against a direct edit of `peers`).
        shape = (self._version, len(self.peers))
        if shape != self._tier_shape:
            self._tier_shape = shape
            self._tier_cache = ([p for p in self.peers if not p.backup],
                                [p for p in self.peers if p.backup])
        return self._tier_cache

    @property
    def max_tries(self) -> int:
        """nginx's `tries` for a request: the servers not marked down, primaries plus backups."""
        return max(1, sum(1 for p in self.peers if not p.down))

    # ------------------------------------------------------------------ selection
    def _eligible_fn(self, attempt: Attempt, now: float) -> Callable[[Peer], bool]:
        """upstream.eligibility for this request, as the policies take it."""
        tried = attempt.tried
        single = self._single()
        return lambda p: eligible(p, tried, single, now)

    def is_available(self, peer: Peer, now: float) -> bool:
        """Would take a new request now (ignoring which peers a request already tried)."""
        return eligible(peer, 0, self._single(), now)

    def _pick(self, policy: Policy, tier: list[Peer], attempt: Attempt, now: float) -> Peer | None:
        if not tier:
            return None
        return policy.select(Pick(tier, attempt, self._eligible_fn(attempt, now),
                                  partial(slow_start.ramped_weight, now=now), now))

    def _round_robin(self, tier: list[Peer], tried: int, now: float) -> Peer | None:
        """balancer.round_robin's policy without building a Pick and its callbacks: the same
        eligibility function and the same smooth_wrr, called directly, because this runs for
        every request (docs/benchmarks.md: every microsecond per request costs ~2.5%)."""
        single = self._single()
        return smooth_wrr([p for p in tier if eligible(p, tried, single, now)], now)

    def select(self, attempt: Attempt, now: float) -> Peer | None:
        if self._tier_shape[0] == self._version and self._tier_shape[1] == len(self.peers):
            primaries, backups = self._tier_cache  # _tiers(), inlined for the common case
        else:
            primaries, backups = self._tiers()
        started_on_backups = attempt.on_backups
        peer = None
        if not attempt.on_backups:
            if type(self._primary_policy) is RoundRobin:  # rebuild may swap the policy
                peer = self._round_robin(primaries, attempt.tried, now)
            else:
                peer = self._pick(self._primary_policy, primaries, attempt, now)
            if peer is None and backups:
                # nginx switches the request to the backup list for good (rrp->peers = next).
                attempt.on_backups = True
        if peer is None and attempt.on_backups:
            peer = self._pick(self._backup_policy, backups, attempt, now)
        if peer is None:
            self._no_live_upstreams(backups if started_on_backups else self.peers, now)
            return None
        attempt.tried |= 1 << peer.id
        peer.conns += 1
        peer.requests += 1
        peer.selected = now + self.wall_offset
        passive.stamp_selected(peer, now)
        return peer

    def _no_live_upstreams(self, reset: list[Peer], now: float) -> None:
        # nginx: "all peers failed, mark them as live for quick recovery" -- the list the
        # request was on (and the primaries too when it fell through to the backups).
        self._emit(PeerEvent(self.name, None, NO_LIVE_UPSTREAMS, "", "no live upstreams"))
        if not self.reset_on_no_live:
            return
        for peer in reset:
            if peer.fails:
                peer.fails = 0
                self._refresh(peer, now, "no live upstreams: failure counters reset")

    # ------------------------------------------------------------------ passive accounting
    def release(self, peer: Peer, failed: bool, now: float) -> None:
        if peer.conns > 0:
            peer.conns -= 1
        if failed:
            peer.fails_total += 1
        if self.zombies and peer in self.zombies:
            if peer.conns == 0:
                self.zombies.remove(peer)
            return
        if not failed and not peer.fails:
            return  # the common case: nothing to account, no state can change
        if self._single():
            return
        was_marked = passive.marked_failed(peer)
        if failed:
            passive.record_failure(peer, now)
            if passive.marked_failed(peer) and not was_marked:
                peer.unavail += 1
            reason = f"{peer.fails} fails in {_fmt_seconds(peer.fail_timeout)}"
        else:
            passive.record_success(peer)
            if was_marked and not passive.marked_failed(peer):
                slow_start.begin(peer, now)  # recovered from unavailable
            reason = "request succeeded after fail_timeout"
        self._refresh(peer, now, reason)

    # ------------------------------------------------------------------ states and events
    def state_of(self, peer: Peer, now: float) -> str:
        """NGINX Plus API state: up, draining, down, unavail, checking, unhealthy."""
        if peer.down:
            return "down"
        if peer.draining:
            return "draining"
        if peer.health != "healthy":
            return peer.health
        if not self._single() and passive.marked_failed(peer):
            return "unavail"
        return "up"

    def _refresh(self, peer: Peer, now: float, reason: str) -> None:
        state = self.state_of(peer, now)
        was = self._known.get(peer.id, state)
        if state == was:
            return
        self._known[peer.id] = state
        if state in DOWN_STATES and was not in DOWN_STATES:
            peer.downstart = now
        elif was in DOWN_STATES and state not in DOWN_STATES and peer.downstart is not None:
            peer.downtime += now - peer.downstart
            peer.downstart = None
        self._emit(PeerEvent(self.name, peer, state, was, reason))

    def _refresh_all(self, now: float, reason: str) -> None:
        for peer in self.peers:
            self._refresh(peer, now, reason)

    def _emit(self, event: PeerEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def set_health(self, peer: Peer, state: HealthState, now: float) -> None:
        """Active health check verdict (the checker decides fails/passes thresholds)."""
        old = peer.health
        if state == old:
            return
        peer.health = state
        if state == "unhealthy":
            peer.hc_unhealthy += 1
        elif state == "healthy":
            if old == "unhealthy" or peer.id in self._ramp_on_pass:
                slow_start.begin(peer, now)
            self._ramp_on_pass.discard(peer.id)
        reason = "health check passed" if state == "healthy" else "health check failed"
        self._refresh(peer, now, reason)

    # ------------------------------------------------------------------ API changes
    def get(self, peer_id: int) -> Peer:
        for peer in self.peers:
            if peer.id == peer_id:
                return peer
        raise KeyError(peer_id)

    def _check_backup(self, backup: bool) -> None:
        if backup and self.config.method in NO_BACKUP_METHODS:
            raise ValueError(f"{self.config.method} balancing method does not support backup")

    def add(self, spec: ServerSpec, now: float) -> Peer:
        self._check_backup(spec.backup)
        peer = self._new_peer(spec, now, ramp=True)
        self.peers.append(peer)
        self._version += 1
        self._refresh_all(now, "server added")  # the group may no longer be "single"
        return peer

    def remove(self, peer_id: int, now: float) -> Peer:
        peer = self.get(peer_id)
        self._drop(peer, now, "server removed")
        self._refresh_all(now, "server removed")
        return peer

    def _drop(self, peer: Peer, now: float, reason: str) -> None:
        self.peers.remove(peer)
        self._version += 1
        was = self._known.pop(peer.id, self.state_of(peer, now))
        self._ramp_on_pass.discard(peer.id)
        if peer.conns > 0:
            # NGINX Plus zombie: requests in flight finish; it is gone when they have.
            self.zombies.append(peer)
        self._emit(PeerEvent(self.name, peer, "removed", was, reason))

    def update(self, peer_id: int, now: float, **changes: Any) -> Peer:
        peer = self.get(peer_id)
        unknown = set(changes) - PATCHABLE
        if unknown:
            raise ValueError(f"unknown parameter \"{sorted(unknown)[0]}\"")
        values = {name: _validated(name, value) for name, value in changes.items()}
        if "backup" in values:
            self._check_backup(values["backup"])
        for name, value in values.items():
            if name == "drain":
                peer.draining = value
            elif name == "weight":
                peer.weight = value
                peer.effective_weight = value
            else:
                setattr(peer, name, value)
        self._version += 1
        self._refresh_all(now, "api")
        return peer


def _validated(name: str, value: Any) -> Any:
    if name in ("backup", "down", "drain"):
        if not isinstance(value, bool):
            raise ValueError(f"invalid \"{name}\": expected true or false")
        return value
    if name in ("fail_timeout", "slow_start"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"invalid \"{name}\": expected seconds >= 0")
        return float(value)
    minimum = 1 if name == "weight" else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"invalid \"{name}\": expected an integer >= {minimum}")
    return value

