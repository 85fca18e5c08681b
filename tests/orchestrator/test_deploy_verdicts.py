"""Pure verdicts: canary comparison and restart back-off."""

from __future__ import annotations

from hotdeploy.orchestrator.backoff import RestartPolicy, decide
from hotdeploy.orchestrator.verdict import Sample, Thresholds, judge

LIMITS = Thresholds(max_error_rate_increase=0.05, max_latency_ratio=2.0, min_requests=20)


def test_canary_with_the_baselines_error_rate_passes():
    assert judge(Sample(100, 1), Sample(900, 9), LIMITS).passed


def test_canary_with_a_higher_error_rate_fails_and_says_why():
    verdict = judge(Sample(100, 30), Sample(900, 0), LIMITS)
    assert not verdict.passed
    assert "30.0%" in verdict.reason and "30/100" in verdict.reason


def test_errors_count_even_on_a_small_sample():
    assert not judge(Sample(5, 2), Sample(50, 0), LIMITS).passed


def test_slower_canary_fails_only_with_enough_requests():
    slow = Sample(100, 0, mean_latency=0.5)
    assert not judge(slow, Sample(900, 0, mean_latency=0.1), LIMITS).passed
    few = Sample(5, 0, mean_latency=0.5)
    assert judge(few, Sample(900, 0, mean_latency=0.1), LIMITS).passed


def test_no_latency_figures_means_error_rate_only():
    assert judge(Sample(100, 0), Sample(900, 0, mean_latency=0.1), LIMITS).passed


def test_sample_difference_gives_the_step_window():
    assert (Sample(150, 7) - Sample(100, 2)) == Sample(50, 5)


POLICY = RestartPolicy(base=0.5, cap=4.0, max_restarts=3, window=60.0)


def test_backoff_doubles_and_is_capped():
    delays = [decide([0.0] * n, 1.0, POLICY).delay for n in (1, 2, 3)]
    assert delays == [0.5, 1.0, 2.0]
    capped = RestartPolicy(base=1.0, cap=4.0, max_restarts=10, window=60.0)
    assert decide([0.0] * 6, 1.0, capped).delay == 4.0


def test_keeps_crashing_is_reported_not_restarted_forever():
    decision = decide([1.0, 2.0, 3.0, 4.0], 5.0, POLICY)
    assert not decision.restart
    assert "4 times" in decision.reason


def test_old_crashes_fall_out_of_the_window():
    decision = decide([0.0, 1.0, 2.0, 100.0], 100.0, POLICY)
    assert decision.restart and decision.delay == 0.5
