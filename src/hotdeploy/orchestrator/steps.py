"""The steps a deploy plan is made of. Pure data.

Instances are named by reference: an existing instance by its id (`orders-2`), an instance the
plan creates by a slot (`new:0`), bound to a real id by the executor when it starts it.
"""

from __future__ import annotations

from dataclasses import dataclass

Ref = str


def slot(index: int) -> Ref:
    return f"new:{index}"


def is_slot(ref: Ref) -> bool:
    return ref.startswith("new:")


@dataclass(frozen=True, slots=True)
class Start:
    """Start new instances of the new release (not yet in the balancer)."""

    refs: tuple[Ref, ...]
    backup: bool = False


@dataclass(frozen=True, slots=True)
class AwaitHealthy:
    """Probe each instance's health URL until it answers 2xx (or health_timeout: fail)."""

    refs: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class Add:
    """Add to the balancer, then wait until the balancer itself reports them `up`."""

    refs: tuple[Ref, ...]
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Drain:
    """Drain (no new requests), wait for zero active up to drain_timeout, remove, stop."""

    refs: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class Retire:
    """Drain and remove from the balancer but keep the processes running as an idle standby
    for `keep` seconds (blue-green: rollback is an instant swap back), then stop them."""

    refs: tuple[Ref, ...]
    keep: float


@dataclass(frozen=True, slots=True)
class SetWeights:
    weights: tuple[tuple[Ref, int], ...]


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class CanaryCheck:
    """Compare canary counters with the baseline since the last weight change; fail the
    deploy (and roll back) when the verdict says it is worse."""

    canary: tuple[Ref, ...]
    baseline: tuple[Ref, ...]
    percent: int


Step = Start | AwaitHealthy | Add | Drain | Retire | SetWeights | Pause | CanaryCheck
