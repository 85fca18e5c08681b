"""When to add or remove an instance: the autoscaling policy of the control process. Pure.

The load is what the balancer counts: requests in flight on each serving instance, sampled
at a fixed interval. Up and down are deliberately asymmetric (hysteresis), as Kubernetes'
HorizontalPodAutoscaler and Knative are: one step up as soon as the average over `window`
exceeds the target, one step down only once that average has stayed below
`low_fraction * target` for `cooldown`. After each step the samples start afresh, so the
next decision measures the new count; while a deploy or scale of the service runs, nothing
is decided (`pause`). Counts outside `min..max` (a manual `hotdeploy scale`, a changed
project file) are brought back into the range one step at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from hotdeploy import defaults as d


@dataclass(frozen=True, slots=True)
class AutoscalePolicy:
    min: int
    max: int
    target: float  # requests in flight per instance
    window: float  # seconds averaged before a step up
    cooldown: float  # seconds the average must stay low before a step down
    low_fraction: float = d.AUTOSCALE_LOW_FRACTION

    @property
    def low(self) -> float:
        return self.target * self.low_fraction


@dataclass(frozen=True, slots=True)
class Decision:
    """Run `to` instances instead of `current`, and why (one structured log line)."""

    current: int
    to: int
    reason: str

    @property
    def direction(self) -> str:
        return "up" if self.to > self.current else "down"


class Autoscale:
    """The samples and the low-load timer of one service; `observe` once per sample."""

    def __init__(self, policy: AutoscalePolicy, now: float) -> None:
        self.policy = policy
        self._samples: deque[tuple[float, float]] = deque()  # (time, in flight per instance)
        self._since = now  # when sampling (re)started: a window is full only after `window`
        self._low_since: float | None = None
        self.load: float | None = None  # the last full window's average, for `status`

    def pause(self, now: float) -> None:
        """Someone else changes the service's instances: forget what was measured before."""
        self._samples.clear()
        self._since = now
        self._low_since = None
        self.load = None

    def observe(self, now: float, inflight: Sequence[int], current: int) -> Decision | None:
        """`inflight`: one count per serving instance (none serving: nothing to measure);
        `current`: the instance count asked for now."""
        p = self.policy
        if current < p.min:
            return self._step(now, current, current + 1, f"below min {p.min}")
        if current > p.max:
            return self._step(now, current, current - 1, f"above max {p.max}")
        if not inflight:
            return None
        self._samples.append((now, sum(inflight) / len(inflight)))
        while self._samples and self._samples[0][0] <= now - p.window:
            self._samples.popleft()
        if now - self._since < p.window:
            return None
        self.load = sum(load for _, load in self._samples) / len(self._samples)
        measured = f"{self.load:.1f} in flight per instance over {p.window:g}s"
        if self.load > p.target:
            self._low_since = None
            if current < p.max:
                return self._step(now, current, current + 1, f"{measured} > target {p.target:g}")
            return None
        if self.load >= p.low:
            self._low_since = None
            return None
        if self._low_since is None:
            self._low_since = now
        if current > p.min and now - self._low_since >= p.cooldown:
            return self._step(now, current, current - 1,
                              f"{measured} < {p.low:g} for {p.cooldown:g}s cooldown")
        return None

    def _step(self, now: float, current: int, to: int, reason: str) -> Decision:
        self.pause(now)
        return Decision(current, to, reason)
