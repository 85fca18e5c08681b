"""The pure planner: every strategy keeps capacity within its bounds and replaces everything."""

from __future__ import annotations

import pytest

from hotdeploy.orchestrator.planner import (
    BlueGreen,
    Canary,
    Current,
    Rolling,
    canary_weights,
    plan,
)
from hotdeploy.orchestrator.steps import (
    Add,
    AwaitHealthy,
    CanaryCheck,
    Drain,
    Pause,
    Retire,
    SetWeights,
    Start,
    is_slot,
)


def simulate(current: list[Current], steps) -> tuple[int, int, set[str], list[bool]]:
    """Serving-count bounds over the plan, the final serving set, and backup flags of adds.

    Also checks the gating invariants: a slot is started, then checked healthy, then added."""
    serving = {c.ref for c in current}
    started, healthy = set(), set()
    low = high = len(serving)
    for step in steps:
        if isinstance(step, Start):
            started |= set(step.refs)
        elif isinstance(step, AwaitHealthy):
            assert set(step.refs) <= started
            healthy |= set(step.refs)
        elif isinstance(step, Add):
            assert set(step.refs) <= healthy, "added before its health check passed"
            serving |= set(step.refs)
        elif isinstance(step, Drain | Retire):
            assert set(step.refs) <= serving
            serving -= set(step.refs)
        low, high = min(low, len(serving)), max(high, len(serving))
    return low, high, serving, []


def three(backups: int = 0) -> list[Current]:
    return [Current(f"o-{i}", backup=i < backups) for i in range(3)]


@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (0, 1), (2, 1), (3, 0), (1, 1)])
def test_rolling_stays_within_surge_and_unavailable_and_replaces_all(surge, unavailable):
    steps = plan(three(), Rolling(surge, unavailable))
    low, high, final, _ = simulate(three(), steps)
    assert high <= 3 + surge
    assert low >= 3 - unavailable
    assert len(final) == 3 and all(is_slot(r) for r in final)


def test_rolling_default_starts_one_new_before_draining_one_old():
    steps = plan(three(), Rolling(1, 0))
    kinds = [type(s).__name__ for s in steps]
    assert kinds[:4] == ["Start", "AwaitHealthy", "Add", "Drain"]
    assert steps[3] == Drain(("o-0",))


def test_active_passive_replaces_the_backup_first_and_keeps_roles():
    current = [Current("p-1"), Current("b-1", backup=True)]
    steps = plan(current, Rolling(1, 0))
    starts = [s for s in steps if isinstance(s, Start)]
    drains = [s for s in steps if isinstance(s, Drain)]
    assert starts[0].backup is True and starts[1].backup is False
    assert drains == [Drain(("b-1",)), Drain(("p-1",))]
    _, _, final, _ = simulate(current, steps)
    assert len(final) == 2


def test_active_passive_primary_is_never_taken_before_its_replacement_serves():
    current = [Current("p-1"), Current("b-1", backup=True)]
    steps = plan(current, Rolling(1, 0))
    primary_drain = steps.index(Drain(("p-1",)))
    new_primary = next(s for s in steps if isinstance(s, Start) and not s.backup)
    add_new_primary = steps.index(Add(new_primary.refs))
    assert add_new_primary < primary_drain


def test_blue_green_adds_the_whole_new_set_before_retiring_the_old_at_once():
    steps = plan(three(), BlueGreen(keep=60))
    assert isinstance(steps[-1], Retire) and steps[-1].refs == ("o-0", "o-1", "o-2")
    assert steps[-1].keep == 60
    assert isinstance(steps[-2], Add) and len(steps[-2].refs) == 3
    low, high, final, _ = simulate(three(), steps)
    assert (low, high) == (3, 6)
    assert len(final) == 3


def test_canary_weights_give_the_step_share():
    for percent in (1, 10, 50, 90):
        canary, each = canary_weights(percent, 3)
        assert canary / (canary + 3 * each) == pytest.approx(percent / 100)
    assert canary_weights(100, 3) == (1, 1)


def test_canary_limits_its_share_before_joining_then_checks_each_step():
    steps = plan(three(), Canary(steps=(10, 50, 100), pause=5, rolling=Rolling(1, 0)))
    first_weights = steps[2]
    assert isinstance(first_weights, SetWeights)
    assert dict(first_weights.weights) == {"o-0": 90, "o-1": 90, "o-2": 90}
    assert steps[3] == Add(("new:0",), weight=30)
    checks = [s for s in steps if isinstance(s, CanaryCheck)]
    assert [c.percent for c in checks] == [10, 50]
    assert all(c.baseline == ("o-0", "o-1", "o-2") for c in checks)
    pauses = [s for s in steps if isinstance(s, Pause)]
    assert len(pauses) == 2 and pauses[0].seconds == 5
    _, high, final, _ = simulate(three(), steps)
    assert len(final) == 3 and high <= 4


def test_canary_check_comes_before_any_old_instance_is_drained():
    steps = plan(three(), Canary(steps=(10, 100), pause=1))
    last_check = max(i for i, s in enumerate(steps) if isinstance(s, CanaryCheck))
    first_drain = min(i for i, s in enumerate(steps) if isinstance(s, Drain))
    assert last_check < first_drain
