"""Active health: the per-(check, peer) state machine of NGINX Plus `health_check`.

Pure: no I/O, no asyncio. The checker (upstream/checker.py) feeds it probe results; it keeps the
consecutive pass/fail counts per check, combines the checks of a peer, updates the peer's
`hc_*` statistics and tells the group when the peer's health changes.

Rules (ngx_http_upstream_hc_module):
- `fails=N`: a healthy server becomes unhealthy after N consecutive failed checks.
- `passes=N`: an unhealthy server becomes healthy after N consecutive passed checks.
- `mandatory`: the server starts in "checking" and gets no client traffic until its first
  check completes; that first result decides (pass -> healthy, fail -> unhealthy).
- Several checks on one upstream: "a single failure of any check will make the corresponding
  server be considered unhealthy". So one unhealthy verdict wins; otherwise one "checking"
  verdict keeps the server in checking; otherwise it is healthy.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Protocol

from hotdeploy.config.model import HealthCheckConfig
from hotdeploy.upstream.peer import HealthState, Peer


class HealthSink(Protocol):
    """What health needs from a PeerGroup (hotdeploy.upstream.group.PeerGroup)."""

    def set_health(self, peer: Peer, state: HealthState, now: float) -> None: ...


@dataclass(slots=True)
class CheckState:
    """One check's view of one peer."""

    verdict: HealthState
    passes: int = 0  # consecutive passed checks
    fails: int = 0  # consecutive failed checks

    @classmethod
    def initial(cls, check: HealthCheckConfig, peer: Peer) -> CheckState:
        """A check starts "checking" when `mandatory`, else "healthy". A server that checks
        already judged (a checker rebuilt on reload, a check added by a reload) keeps its
        verdict: reloads keep the observed state of servers still configured (issue 3), and a
        `persistent` check also trusts a health the group inherited for a known address."""
        judged = peer.health != "checking" and (peer.hc_checks > 0 or check.persistent)
        if judged:
            return cls(verdict=peer.health)
        return cls(verdict="checking" if check.mandatory else "healthy")

    def record(self, check: HealthCheckConfig, passed: bool) -> None:
        if passed:
            self.passes += 1
            self.fails = 0
            if self.verdict == "checking" or (
                self.verdict == "unhealthy" and self.passes >= check.passes
            ):
                self.verdict = "healthy"
        else:
            self.fails += 1
            self.passes = 0
            if self.verdict == "checking" or (
                self.verdict == "healthy" and self.fails >= check.fails
            ):
                self.verdict = "unhealthy"


def combine(verdicts: Iterable[HealthState]) -> HealthState:
    """A peer's health from all its checks: unhealthy beats checking beats healthy."""
    seen = set(verdicts)
    if "unhealthy" in seen:
        return "unhealthy"
    if "checking" in seen:
        return "checking"
    return "healthy"


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A peer's combined health changed (for the structured state-change log line)."""

    peer: Peer
    was: HealthState
    state: HealthState
    reason: str


class HealthBook:
    """Per-peer, per-check states for all checks, keyed by peer object and a check key.

    The check key is any hashable the caller uses to identify a check across reloads.
    """

    def __init__(self) -> None:
        self._states: dict[Peer, dict[Hashable, CheckState]] = {}

    def state(self, check_key: Hashable, peer: Peer) -> CheckState | None:
        return self._states.get(peer, {}).get(check_key)

    def track(
        self,
        check_key: Hashable,
        check: HealthCheckConfig,
        peer: Peer,
        group: HealthSink,
        now: float,
    ) -> HealthChange | None:
        """Start tracking `peer` for a check (a new peer, or a new check). Idempotent."""
        per_peer = self._states.setdefault(peer, {})
        if check_key not in per_peer:
            per_peer[check_key] = CheckState.initial(check, peer)
        return self._apply(peer, group, now, "health check started")

    def record(
        self,
        check_key: Hashable,
        check: HealthCheckConfig,
        peer: Peer,
        group: HealthSink,
        passed: bool,
        now: float,
        detail: str = "",
    ) -> HealthChange | None:
        """One probe of `check` on `peer` completed; update counts, stats and the group."""
        per_peer = self._states.setdefault(peer, {})
        state = per_peer.setdefault(check_key, CheckState.initial(check, peer))
        state.record(check, passed)
        peer.hc_checks += 1
        peer.hc_last_passed = passed
        if not passed:
            peer.hc_fails += 1
        reason = detail or ("check passed" if passed else "check failed")
        if not passed:
            reason = f"{state.fails} failed check(s): {reason}"
        return self._apply(peer, group, now, reason)

    def forget(
        self, check_key: Hashable, peer: Peer, group: HealthSink | None, now: float
    ) -> HealthChange | None:
        """Stop tracking: the check was removed or the peer left its group."""
        per_peer = self._states.get(peer)
        if per_peer is None or check_key not in per_peer:
            return None
        del per_peer[check_key]
        if not per_peer:
            del self._states[peer]
        if group is None:
            return None
        return self._apply(peer, group, now, "health check removed")

    def rekey(self, old_key: Hashable, new_key: Hashable) -> None:
        """A check's settings changed on reload: its state continues under the new key."""
        for per_peer in self._states.values():
            if old_key in per_peer:
                per_peer[new_key] = per_peer.pop(old_key)

    def move_peer(self, old: Peer, new: Peer) -> None:
        """A reload built a new Peer object for the same server: its check states follow it."""
        if old in self._states:
            self._states[new] = self._states.pop(old)

    def verdict(self, peer: Peer) -> HealthState:
        return combine(s.verdict for s in self._states.get(peer, {}).values())

    def _apply(
        self, peer: Peer, group: HealthSink, now: float, reason: str
    ) -> HealthChange | None:
        new = self.verdict(peer)
        old = peer.health
        if new == old:
            return None
        # The group counts `health_checks.unhealthy`, starts slow start and logs the change.
        group.set_health(peer, new, now)
        return HealthChange(peer=peer, was=old, state=new, reason=reason)
