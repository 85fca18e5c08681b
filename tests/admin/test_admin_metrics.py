"""Prometheus exposition read from the live peers (no second set of counters)."""

import time
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from hotdeploy.admin.metrics import render_metrics
from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.rebuild import rebuild_groups


def samples(body):
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_reflect_peer_counters_state_and_latency():
    upstream = UpstreamConfig(name="backend", servers=(
        ServerSpec(name="127.0.0.1:8081", host="127.0.0.1", port=8081),))
    groups = rebuild_groups({}, {"backend": upstream}, time.monotonic(), mandatory=set(),
                            persistent=set())
    peer = groups["backend"].peers[0]
    peer.requests, peer.responses[1], peer.responses[4], peer.retries = 7, 5, 2, 1
    peer.hc_checks, peer.hc_fails, peer.hc_last_passed = 4, 1, True
    peer.observe_latency(0.003)
    peer.observe_latency(0.2)
    status, headers, body = render_metrics(SimpleNamespace(groups=groups))
    assert status == 200 and headers[0][1].startswith("text/plain")
    got = samples(body)
    labels = (("id", str(peer.id)), ("server", "127.0.0.1:8081"), ("upstream", "backend"))
    assert got[("hotdeploy_upstream_server_requests_total", labels)] == 7
    assert got[("hotdeploy_upstream_server_responses_total",
                tuple(sorted((*labels, ("code", "2xx")))))] == 5
    assert got[("hotdeploy_upstream_server_responses_total",
                tuple(sorted((*labels, ("code", "5xx")))))] == 2
    assert got[("hotdeploy_upstream_server_retries_total", labels)] == 1
    assert got[("hotdeploy_upstream_server_health_checks_total", labels)] == 4
    assert got[("hotdeploy_upstream_server_health_check_last_passed", labels)] == 1
    assert got[("hotdeploy_upstream_server_state", tuple(sorted((*labels, ("state", "up")))))] == 1
    assert got[("hotdeploy_upstream_server_state",
                tuple(sorted((*labels, ("state", "unhealthy")))))] == 0
    assert got[("hotdeploy_upstream_server_response_seconds_count", labels)] == 2
    assert got[("hotdeploy_upstream_server_response_seconds_bucket",
                tuple(sorted((*labels, ("le", "0.005")))))] == 1
    assert got[("hotdeploy_upstream_server_response_seconds_bucket",
                tuple(sorted((*labels, ("le", "+Inf")))))] == 2


def test_metrics_follow_health_changes_live():
    upstream = UpstreamConfig(name="backend", servers=(
        ServerSpec(name="127.0.0.1:8081", host="127.0.0.1", port=8081),))
    groups = rebuild_groups({}, {"backend": upstream}, time.monotonic(), mandatory=set(),
                            persistent=set())
    peer = groups["backend"].peers[0]
    groups["backend"].set_health(peer, "unhealthy", time.monotonic())
    got = samples(render_metrics(SimpleNamespace(groups=groups))[2])
    key = ("hotdeploy_upstream_server_state",
           (("id", str(peer.id)), ("server", "127.0.0.1:8081"), ("state", "unhealthy"),
            ("upstream", "backend")))
    assert got[key] == 1
