"""The canary verdict: is the new version worse than the old one? Pure.

Inputs are the balancer's own counters (NGINX Plus API `responses`, `response_time`) over the
same window for the canary and for the baseline, so both saw the same traffic mix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """Counter deltas over one canary step."""

    requests: int
    server_errors: int  # 5xx answers
    mean_latency: float | None = None  # seconds; None when the balancer does not report it

    @property
    def error_rate(self) -> float:
        return self.server_errors / self.requests if self.requests else 0.0

    def __sub__(self, earlier: Sample) -> Sample:
        return Sample(self.requests - earlier.requests, self.server_errors - earlier.server_errors,
                      self.mean_latency)


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_error_rate_increase: float
    max_latency_ratio: float
    min_requests: int


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reason: str


def judge(canary: Sample, baseline: Sample, limits: Thresholds) -> Verdict:
    """Fail on a higher error rate at any sample size (errors are evidence on their own);
    judge latency only with at least `min_requests` canary requests (a few slow first
    requests of a cold process are not)."""
    increase = canary.error_rate - baseline.error_rate
    if canary.server_errors and increase > limits.max_error_rate_increase:
        return Verdict(False, f"error rate {canary.error_rate:.1%} "
                              f"({canary.server_errors}/{canary.requests}) vs baseline "
                              f"{baseline.error_rate:.1%}: more than "
                              f"{limits.max_error_rate_increase:.1%} worse")
    if (canary.requests >= limits.min_requests and canary.mean_latency is not None
            and baseline.mean_latency and canary.mean_latency
            > baseline.mean_latency * limits.max_latency_ratio):
        return Verdict(False, f"mean latency {canary.mean_latency * 1000:.0f}ms vs baseline "
                              f"{baseline.mean_latency * 1000:.0f}ms: more than "
                              f"{limits.max_latency_ratio:g}x slower")
    return Verdict(True, f"error rate {canary.error_rate:.1%} over {canary.requests} requests "
                         f"(baseline {baseline.error_rate:.1%})")
