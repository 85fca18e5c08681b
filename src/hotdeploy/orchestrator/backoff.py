"""When to restart a crashed instance, and when to stop trying. Pure (times are passed in).

Exponential back-off (base * 2^(n-1), capped) over the crashes in a sliding window, so an
instance that crashed once long ago restarts at once, and one that keeps crashing is reported
as failed instead of being restarted forever.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    base: float
    cap: float
    max_restarts: int
    window: float


@dataclass(frozen=True, slots=True)
class RestartDecision:
    restart: bool
    delay: float
    reason: str


def decide(crashes: list[float], now: float, policy: RestartPolicy) -> RestartDecision:
    """`crashes`: times of every crash of this instance, including the one just seen."""
    recent = [t for t in crashes if now - t <= policy.window]
    if len(recent) > policy.max_restarts:
        return RestartDecision(False, 0.0, f"crashed {len(recent)} times in "
                                           f"{policy.window:g}s: not restarting")
    delay = min(policy.cap, policy.base * 2 ** max(0, len(recent) - 1))
    return RestartDecision(True, delay, f"crash {len(recent)} in {policy.window:g}s: "
                                        f"restart in {delay:g}s")
