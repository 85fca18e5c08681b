"""Prometheus exposition (hotdeploy `metrics;` location) read straight from the live peers.

A custom Collector walks `runtime.groups` at scrape time, so nothing is counted twice: the proxy
and the health checker update the `Peer` objects (the same numbers the NGINX Plus API shows)
and a scrape only formats them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hotdeploy.admin.objects import RESPONSE_CLASSES, downtime_ms
from hotdeploy.admin.totals import totals
from hotdeploy.defaults import UPSTREAM_LATENCY_BUCKETS

PREFIX = "hotdeploy_upstream"
STATES = ("up", "draining", "down", "unavail", "checking", "unhealthy")
LABELS = ["upstream", "server", "id"]

# (metric suffix, help, Peer attribute) for the plain per-server counters.
COUNTERS = (
    ("server_requests", "Requests passed to the server.", "requests"),
    ("server_fails", "Failed attempts to the server (passive health).", "fails_total"),
    ("server_unavail", "Times the server became unavailable (max_fails reached).", "unavail"),
    ("server_retries", "Failed attempts passed on to the next server.", "retries"),
    ("server_sent_bytes", "Bytes sent to the server.", "sent"),
    ("server_received_bytes", "Bytes received from the server.", "received"),
    ("server_health_checks", "Active health check probes made.", "hc_checks"),
    ("server_health_check_fails", "Active health check probes that failed.", "hc_fails"),
    ("server_unhealthy", "Times the server became unhealthy by its checks.", "hc_unhealthy"),
)


def render_metrics(runtime: Any, now: float | None = None) -> tuple[int, list[tuple[str, str]],
                                                                    bytes]:
    """The `/metrics` response: Prometheus text format of every upstream server."""
    zone = getattr(runtime, "zone", None)
    if zone is not None:
        zone.refresh_elsewhere()  # report every worker's counters, not this one's
    registry = CollectorRegistry()
    registry.register(UpstreamCollector(runtime, now))
    return 200, [("Content-Type", CONTENT_TYPE_LATEST)], generate_latest(registry)


class UpstreamCollector(Collector):
    def __init__(self, runtime: Any, now: float | None = None) -> None:
        self.runtime = runtime
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic() if self.now is None else self.now
        groups = self.runtime.groups
        state = GaugeMetricFamily(f"{PREFIX}_server_state",
                                  "1 for the server's current state (NGINX Plus API states).",
                                  labels=[*LABELS, "state"])
        active = GaugeMetricFamily(f"{PREFIX}_server_active",
                                   "Requests and tunnels in flight on the server.", labels=LABELS)
        weight = GaugeMetricFamily(f"{PREFIX}_server_weight", "Configured weight.", labels=LABELS)
        passed = GaugeMetricFamily(f"{PREFIX}_server_health_check_last_passed",
                                   "1 when the last active health check passed.", labels=LABELS)
        down = CounterMetricFamily(f"{PREFIX}_server_downtime_seconds",
                                   "Time spent not up.", labels=LABELS)
        responses = CounterMetricFamily(f"{PREFIX}_server_responses",
                                        "Responses from the server by status class.",
                                        labels=[*LABELS, "code"])
        latency = HistogramMetricFamily(f"{PREFIX}_server_response_seconds",
                                        "Upstream response time.", labels=LABELS)
        counters = [CounterMetricFamily(f"{PREFIX}_{name}", text, labels=LABELS)
                    for name, text, _ in COUNTERS]
        zombies = GaugeMetricFamily(f"{PREFIX}_zombies",
                                    "Removed servers still finishing requests.",
                                    labels=["upstream"])
        for name, group in groups.items():
            zombies.add_metric([name], len(group.zombies))
            for server in group.peers:
                peer = totals(server)
                labels = [name, peer.address, str(peer.id)]
                current = group.state_of(server, now)
                for s in STATES:
                    state.add_metric([*labels, s], 1.0 if s == current else 0.0)
                active.add_metric(labels, peer.conns)
                weight.add_metric(labels, peer.weight)
                if peer.hc_last_passed is not None:
                    passed.add_metric(labels, 1.0 if peer.hc_last_passed else 0.0)
                down.add_metric(labels, downtime_ms(server, now) / 1000)
                for i, cls in enumerate(RESPONSE_CLASSES):
                    responses.add_metric([*labels, cls], peer.responses[i])
                latency.add_metric(labels, _buckets(peer), sum_value=peer.latency_sum)
                for family, (_, _, attr) in zip(counters, COUNTERS, strict=True):
                    family.add_metric(labels, getattr(peer, attr))
        yield from (state, active, weight, passed, down, responses, latency, *counters, zombies)


def _buckets(peer: Any) -> list[tuple[str, float]]:
    """Per-bucket counts on the Peer -> Prometheus's cumulative `le` buckets."""
    bounds = [*(str(b) for b in UPSTREAM_LATENCY_BUCKETS), "+Inf"]
    return list(zip(bounds, accumulate(peer.latency_buckets), strict=True))
