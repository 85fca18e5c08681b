"""The autoscaling policy (orchestrator.autoscale) on a fake clock: steps up on a window's
average above the target, down only after the load stayed low for the cooldown, one step at
a time, never outside min..max, nothing decided right after someone else changed the count."""

from __future__ import annotations

from hotdeploy.orchestrator.autoscale import Autoscale, AutoscalePolicy

POLICY = AutoscalePolicy(min=1, max=3, target=4, window=10, cooldown=60)
STEP = 0.5


class Run:
    """A policy fed one sample per STEP seconds; `current` follows its decisions."""

    def __init__(self, policy: AutoscalePolicy = POLICY, current: int = 1) -> None:
        self.now = 0.0
        self.current = current
        self.scale = Autoscale(policy, self.now)
        self.decisions: list[tuple[float, int, int, str]] = []

    def feed(self, seconds: float, per_instance: int) -> None:
        """`seconds` of samples with every serving instance at `per_instance` in flight."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now += STEP
            decision = self.scale.observe(self.now, [per_instance] * self.current, self.current)
            if decision is not None:
                assert abs(decision.to - decision.current) == 1  # one step at a time
                self.decisions.append((self.now, decision.current, decision.to, decision.reason))
                self.current = decision.to


def test_no_decision_before_a_full_window_even_under_heavy_load():
    run = Run()
    run.feed(POLICY.window - STEP, 100)
    assert run.decisions == []
    run.feed(STEP, 100)
    assert [(c, t) for _, c, t, _ in run.decisions] == [(1, 2)]


def test_steps_up_one_at_a_time_each_after_a_fresh_window_and_stops_at_max():
    run = Run()
    run.feed(60, 9)  # far above the target of 4, whatever the count
    steps = [(at, c, t) for at, c, t, _ in run.decisions]
    assert [(c, t) for _, c, t in steps] == [(1, 2), (2, 3)]
    assert steps[1][0] - steps[0][0] >= POLICY.window  # the second measured the new count
    assert run.current == POLICY.max


def test_the_reason_names_the_measured_load_and_the_target():
    run = Run()
    run.feed(POLICY.window, 6)
    (_, _, _, reason), = run.decisions
    assert reason == "6.0 in flight per instance over 10s > target 4"


def test_load_at_the_target_is_no_reason_to_scale_up():
    run = Run()
    run.feed(30, 4)
    assert run.decisions == []
    assert run.scale.load == 4


def test_steps_down_only_after_the_cooldown_of_low_load():
    run = Run(current=3)
    run.feed(POLICY.window, 1)  # 1 < low threshold 2: the low-load timer starts now
    run.feed(POLICY.cooldown - STEP, 1)
    assert run.decisions == []
    run.feed(STEP, 1)
    (at, current, to, reason), = run.decisions
    assert (current, to) == (3, 2) and at == POLICY.window + POLICY.cooldown
    assert reason == "1.0 in flight per instance over 10s < 2 for 60s cooldown"


def test_load_between_the_thresholds_holds_the_count_forever():
    run = Run(current=2)
    run.feed(600, 3)  # below the target (4) but not below its half (2): the hysteresis band
    assert run.decisions == []


def test_a_burst_during_the_cooldown_restarts_it():
    run = Run(current=2)
    run.feed(POLICY.window + POLICY.cooldown - 15, 0)
    run.feed(POLICY.window, 3)  # the window's average reaches the band: the timer stops
    run.feed(POLICY.cooldown - 1, 0)
    assert run.decisions == []
    run.feed(POLICY.window + 1, 0)
    assert [(c, t) for _, c, t, _ in run.decisions] == [(2, 1)]


def test_never_below_min():
    run = Run(AutoscalePolicy(min=2, max=4, target=4, window=10, cooldown=0), current=3)
    run.feed(300, 0)
    assert [(c, t) for _, c, t, _ in run.decisions] == [(3, 2)]
    assert run.current == 2


def test_counts_outside_the_range_come_back_one_step_at_a_time():
    below = Run(AutoscalePolicy(min=3, max=5, target=4, window=10, cooldown=60), current=1)
    below.feed(STEP * 2, 0)
    assert [(c, t, r) for _, c, t, r in below.decisions] == [(1, 2, "below min 3"),
                                                             (2, 3, "below min 3")]
    above = Run(AutoscalePolicy(min=1, max=2, target=4, window=10, cooldown=60), current=4)
    above.feed(STEP * 3, 100)
    assert [(c, t) for _, c, t, _ in above.decisions] == [(4, 3), (3, 2)]


def test_pause_forgets_the_window_and_the_cooldown():
    run = Run(current=2)
    run.feed(POLICY.window + POLICY.cooldown - STEP, 0)
    run.scale.pause(run.now)  # a deploy of the service ran
    assert run.scale.load is None
    run.feed(POLICY.window + POLICY.cooldown - STEP, 0)
    assert run.decisions == []
    run.feed(STEP, 0)
    assert [(c, t) for _, c, t, _ in run.decisions] == [(2, 1)]


def test_nothing_serving_is_nothing_to_measure():
    scale = Autoscale(POLICY, 0.0)
    assert scale.observe(100.0, [], 2) is None
    assert scale.load is None


def test_uneven_instances_are_averaged():
    scale = Autoscale(AutoscalePolicy(min=1, max=3, target=4, window=1, cooldown=60), 0.0)
    assert scale.observe(0.5, [10, 0], 2) is None
    decision = scale.observe(1.0, [10, 0], 2)
    assert decision is not None and (decision.current, decision.to) == (2, 3)
