"""hotdeploy.toml: what is accepted, the defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotdeploy.errors import ProjectError
from hotdeploy.project.loader import load_project, parse_project
from hotdeploy.units import format_time, parse_duration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "hotdeploy.toml"


def minimal(**extra):
    data = {"project": {"name": "shop"}, "services": {"orders": {"app": "orders.api:app"}}}
    data.update(extra)
    return data


def error_of(data) -> str:
    with pytest.raises(ProjectError) as info:
        parse_project(data)
    return str(info.value)


def test_example_project_loads_with_both_patterns():
    project = load_project(EXAMPLE)
    assert set(project.services) == {"orders", "payments"}
    assert project.routes()["backoffice"] == ("/invoices", "/reports")
    assert project.services["orders"].instances == 3
    assert project.deploy.drain_timeout == 30.0


def test_defaults_come_from_named_constants():
    project = parse_project(minimal())
    assert project.routes() == {"orders": ("/orders",)}
    assert project.health_of("orders") == "/health"
    assert project.deploy.strategy == "rolling"
    assert (project.deploy.max_surge, project.deploy.max_unavailable) == (1, 0)
    assert project.balancer.listen == "127.0.0.1:8080"


def test_unknown_key_is_an_error_naming_it():
    message = error_of(minimal(services={"orders": {"app": "a:b", "replicas": 3}}))
    assert "services.orders.replicas: is not a known key" in message


def test_wrong_type_names_key_and_expectation():
    message = error_of(minimal(services={"orders": {"app": "a:b", "instances": "three"}}))
    assert "services.orders.instances: expected an integer" in message
    message = error_of(minimal(services={"orders": {"app": "a:b", "instances": 0}}))
    assert "services.orders.instances" in message and "greater than or equal to 1" in message


def test_strategy_must_be_one_of_the_three():
    message = error_of(minimal(balancer={"strategy": "round-robin"}))
    assert "balancer.strategy: expected 'active-active', 'active-active-health' or " \
           "'active-passive'" in message


def test_service_needs_exactly_one_of_app_or_command():
    assert "exactly one of" in error_of(minimal(services={"o": {}}))
    assert "exactly one of" in error_of(minimal(services={"o": {"app": "a:b", "command": "x"}}))


def test_bad_app_reference_and_duration():
    assert "expected \"module.path:attribute\"" in error_of(
        minimal(services={"o": {"app": "no-colon"}}))
    assert "deploy.drain_timeout: invalid duration '3x'" in error_of(
        minimal(deploy={"drain_timeout": "3x"}))


def test_routes_must_not_collide_between_services_and_unit_artifacts():
    data = minimal(units={"bo": {"artifacts": {"orders": "x.y:app"}}})
    assert "units.bo: route '/orders' is already used by services.orders" in error_of(data)


def test_active_passive_needs_a_backup_and_a_compatible_method():
    data = minimal(balancer={"strategy": "active-passive"})
    assert "services.orders.instances: balancer strategy active-passive needs instances >= 2" \
        in error_of(data)
    data = minimal(balancer={"strategy": "active-passive", "method": "ip_hash"})
    assert "does not allow backup servers with ip_hash" in error_of(data)


def test_rolling_must_be_able_to_progress():
    assert "max_surge + max_unavailable" in error_of(
        minimal(deploy={"max_surge": 0, "max_unavailable": 0}))


def test_canary_steps_ascending_and_end_at_100():
    assert "ending with 100" in error_of(minimal(deploy={"canary": {"steps": [50, 10, 100]}}))
    assert "ending with 100" in error_of(minimal(deploy={"canary": {"steps": [10, 50]}}))


def test_toml_syntax_error_and_missing_file(tmp_path):
    bad = tmp_path / "hotdeploy.toml"
    bad.write_text("[project\nname='x'\n")
    with pytest.raises(ProjectError, match="invalid TOML"):
        load_project(bad)
    with pytest.raises(ProjectError, match="no such project file"):
        load_project(tmp_path / "missing.toml")


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("500ms", 0.5), ("1m", 60.0), ("1h 30m", 5400.0), ("5", 5.0), (2, 2.0)])
def test_durations_use_nginx_units(text, seconds):
    assert parse_duration(text) == seconds


def test_duration_formatting_round_trips():
    assert format_time(30.0) == "30s"
    assert format_time(0.25) == "250ms"
    assert parse_duration(format_time(1.5)) == 1.5


def test_resources_autoscale_and_metrics_keys():
    project = parse_project(minimal(services={"orders": {
        "app": "a:b", "runtime": {"memory": "512Mi", "cpus": 0.5}, "metrics": "/metrics",
        "autoscale": {"min": 2, "max": 10, "cpu": 70}}}))
    orders = project.services["orders"]
    resources = project.runtime_of("orders")
    assert (resources.memory, resources.cpus, orders.metrics) == ("512Mi", 0.5, "/metrics")
    assert orders.autoscale is not None and (orders.autoscale.min, orders.autoscale.max,
                                             orders.autoscale.cpu) == (2, 10, 70)
    assert (orders.autoscale.inflight, orders.autoscale.window,
            orders.autoscale.cooldown) == (10, 30.0, 300.0)  # the documented defaults
    plain = parse_project(minimal()).services["orders"]
    assert (plain.autoscale, plain.metrics) == (None,) * 2
    assert parse_project(minimal()).runtime_of("orders").memory is None


def test_resources_and_autoscale_are_checked():
    assert "services.orders.runtime.memory" in error_of(
        minimal(services={"orders": {"app": "a:b", "runtime": {"memory": "512MB"}}}))
    assert "services.orders.runtime.cpus" in error_of(
        minimal(services={"orders": {"app": "a:b", "runtime": {"cpus": 0}}}))
    assert "services.orders.memory: is not a known key" in error_of(
        minimal(services={"orders": {"app": "a:b", "memory": "512Mi"}}))
    message = error_of(minimal(services={"orders": {"app": "a:b",
                                                    "autoscale": {"min": 5, "max": 2}}}))
    assert "services.orders.autoscale" in message and "must not exceed max" in message
    assert "services.orders.autoscale.max: is required" in error_of(
        minimal(services={"orders": {"app": "a:b", "autoscale": {"min": 2}}}))


def test_control_process_autoscale_keys():
    project = parse_project(minimal(services={"orders": {"app": "a:b", "autoscale": {
        "min": 1, "max": 3, "inflight": 4, "window": "500ms", "cooldown": "1m"}}}))
    scale = project.services["orders"].autoscale
    assert scale is not None and (scale.inflight, scale.window, scale.cooldown) == (4, 0.5, 60.0)
    assert "services.orders.autoscale.inflight" in error_of(minimal(services={"orders": {
        "app": "a:b", "autoscale": {"min": 1, "max": 3, "inflight": 0}}}))
    assert "services.orders.autoscale.window" in error_of(minimal(services={"orders": {
        "app": "a:b", "autoscale": {"min": 1, "max": 3, "window": "0s"}}}))
    assert "services.orders.autoscale.cooldown" in error_of(minimal(services={"orders": {
        "app": "a:b", "autoscale": {"min": 1, "max": 3, "cooldown": "2h"}}}))


def test_active_passive_autoscale_keeps_a_backup():
    message = error_of(minimal(balancer={"strategy": "active-passive"}, services={"orders": {
        "app": "a:b", "instances": 2, "autoscale": {"min": 1, "max": 3}}}))
    assert "services.orders.autoscale.min" in message and "min >= 2" in message
