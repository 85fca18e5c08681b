"""The deploy planner: current instances + strategy -> the steps that replace them. Pure.

Every plan keeps the same number of instances in each role and is health-gated: a new instance
is added to the balancer only after it answers its health URL, and an old one is drained
before it is stopped, so no request is sent to an instance that cannot answer it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotdeploy.orchestrator.steps import (
    Add,
    AwaitHealthy,
    CanaryCheck,
    Drain,
    Pause,
    Ref,
    Retire,
    SetWeights,
    Start,
    Step,
    slot,
)


@dataclass(frozen=True, slots=True)
class Current:
    """An instance serving now: its id and whether it is a backup (active-passive)."""

    ref: Ref
    backup: bool = False


@dataclass(frozen=True, slots=True)
class Rolling:
    max_surge: int = 1
    max_unavailable: int = 0


@dataclass(frozen=True, slots=True)
class BlueGreen:
    keep: float


@dataclass(frozen=True, slots=True)
class Canary:
    steps: tuple[int, ...]
    pause: float
    rolling: Rolling = Rolling()


Strategy = Rolling | BlueGreen | Canary


def plan(current: list[Current], strategy: Strategy) -> list[Step]:
    """Steps replacing every instance in `current` by one of the new release.

    Backups go first (active-passive: the primary keeps serving while its backup is
    replaced, and the new backup covers the primary while that is replaced)."""
    ordered = sorted(current, key=lambda c: not c.backup)
    if isinstance(strategy, BlueGreen):
        return _blue_green(ordered, strategy)
    if isinstance(strategy, Canary):
        return _canary(ordered, strategy)
    return _rolling(ordered, strategy, first_slot=0)


def _rolling(ordered: list[Current], rolling: Rolling, first_slot: int) -> list[Step]:
    """Replace in rounds of max_surge + max_unavailable: take out max_unavailable old ones
    first, start the round's new ones, then drain the rest of the round. The pool never has
    more than N + max_surge nor fewer than N - max_unavailable serving instances."""
    steps: list[Step] = []
    per_round = max(1, rolling.max_surge + rolling.max_unavailable)
    queue = list(ordered)
    next_slot = first_slot
    while queue:
        batch, queue = queue[:per_round], queue[per_round:]
        early = batch[: min(rolling.max_unavailable, len(batch))]
        late = batch[len(early):]
        if early:
            steps.append(Drain(tuple(c.ref for c in early)))
        for backup in (True, False):
            members = [c for c in batch if c.backup == backup]
            if not members:
                continue
            refs = tuple(slot(next_slot + i) for i in range(len(members)))
            next_slot += len(members)
            steps += [Start(refs, backup=backup), AwaitHealthy(refs), Add(refs)]
        if late:
            steps.append(Drain(tuple(c.ref for c in late)))
    return steps


def _blue_green(ordered: list[Current], bg: BlueGreen) -> list[Step]:
    steps: list[Step] = []
    index = 0
    for backup in (True, False):
        members = [c for c in ordered if c.backup == backup]
        if not members:
            continue
        refs = tuple(slot(index + i) for i in range(len(members)))
        index += len(members)
        steps += [Start(refs, backup=backup), AwaitHealthy(refs)]
    new_refs = tuple(slot(i) for i in range(index))
    # The whole green set is added and up before the blue set is taken out in one go.
    steps.append(Add(new_refs))
    steps.append(Retire(tuple(c.ref for c in ordered), keep=bg.keep))
    return steps


def canary_weights(percent: int, baseline_count: int) -> tuple[int, int]:
    """(canary weight, weight of each baseline instance) giving the canary `percent` of the
    traffic under weighted balancing: p*N / (p*N + (100-p)*N) = p/100."""
    if percent >= 100:
        return 1, 1
    return percent * baseline_count, 100 - percent


def _canary(ordered: list[Current], canary: Canary) -> list[Step]:
    primaries = [c for c in ordered if not c.backup]
    if not primaries:
        return _rolling(ordered, canary.rolling, first_slot=0)
    baseline = tuple(c.ref for c in primaries)
    probe = slot(0)
    first_weight, _ = canary_weights(canary.steps[0], len(baseline))
    steps: list[Step] = [Start((probe,)), AwaitHealthy((probe,))]
    # Lower the baseline's weights before the canary joins, so its first requests are
    # already limited to the first step's share.
    for percent in canary.steps:
        if percent >= 100:
            break
        c_weight, b_weight = canary_weights(percent, len(baseline))
        weights = ((probe, c_weight), *((ref, b_weight) for ref in baseline))
        if percent == canary.steps[0]:
            steps.append(SetWeights(tuple((ref, b_weight) for ref in baseline)))
            steps.append(Add((probe,), weight=first_weight))
        else:
            steps.append(SetWeights(weights))
        steps += [Pause(canary.pause), CanaryCheck((probe,), baseline, percent)]
    if canary.steps[0] >= 100:
        steps.append(Add((probe,)))
    steps.append(SetWeights(((probe, 1), *((ref, 1) for ref in baseline))))
    # Promotion: the canary stands in for the first primary; the rest roll as usual.
    rest = [c for c in ordered if c.ref != primaries[0].ref]
    steps.append(Drain((primaries[0].ref,)))
    steps += _rolling(rest, canary.rolling, first_slot=1)
    return steps
