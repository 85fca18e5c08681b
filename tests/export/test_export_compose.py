"""`hotdeploy export compose`: valid per the compose-spec JSON schema (vendored in
tests/data/compose-spec: no network), one service per service/unit with replicas,
healthcheck and stop grace, the balancer as a service, and a balancer config that
`hotdeploy lb -t` accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "compose-spec" / "compose-spec.json"
CLI = [sys.executable, "-m", "hotdeploy"]

PROJECT = """
[project]
name = "shop"

[balancer]
listen = "127.0.0.1:18080"
retry_non_idempotent = true

[runtime]
kind = "docker"
memory = "256Mi"
env = { LOG_LEVEL = "info" }

[services.orders]
app = "orders.api:app"
instances = 3
version = "1.0.0"

[services.orders.runtime]
cpus = 0.5
stop_grace = "20s"
volumes = ["./data:/data:ro"]

[units.backoffice]
artifacts = { invoices = "invoices.api:app", reports = "reports.api:app" }
version = "2.1.0"
env = { A = "1" }
"""


@pytest.fixture
def project(tmp_path) -> Path:
    file = tmp_path / "hotdeploy.toml"
    file.write_text(PROJECT)
    return file


def export(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "export", "compose", "-f", str(project), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_compose_file_is_valid_per_the_compose_spec(project):
    result = export(project)
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load((project.parent / "compose.yaml").read_text())
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert set(doc["services"]) == {"orders", "backoffice", "balancer"}


def test_services_carry_replicas_healthcheck_stop_grace_and_settings(project):
    doc = yaml.safe_load(export(project, "-o", "-").stdout)
    orders, unit = doc["services"]["orders"], doc["services"]["backoffice"]
    assert orders["image"] == "hotdeploy/shop-orders:1.0.0"
    assert orders["deploy"]["replicas"] == 3
    assert orders["deploy"]["resources"]["limits"] == {"memory": "268435456b", "cpus": "0.5"}
    assert orders["stop_grace_period"] == "20s" and unit["stop_grace_period"] == "10s"
    assert orders["healthcheck"]["test"][:3] == ["CMD", "python3", "-c"]
    assert orders["environment"]["LOG_LEVEL"] == "info"
    assert orders["volumes"] == ["./data:/data:ro"]
    assert unit["image"] == "hotdeploy/shop-backoffice:2.1.0"
    assert unit["environment"]["A"] == "1"
    balancer = doc["services"]["balancer"]
    assert balancer["ports"] == ["127.0.0.1:18080:18080"]
    assert balancer["command"][:2] == ["hotdeploy", "lb"]
    assert balancer["depends_on"]["orders"] == {"condition": "service_healthy"}
    assert doc["x-hotdeploy"]["project"] == "shop"


def test_the_balancer_config_names_the_compose_services_and_lb_accepts_it(project, tmp_path):
    assert export(project, "-o", str(tmp_path / "out" / "stack.yaml")).returncode == 0
    doc = yaml.safe_load((tmp_path / "out" / "stack.yaml").read_text())
    assert doc["configs"]["lb_conf"]["file"] == "stack.lb.conf"
    conf = (tmp_path / "out" / "stack.lb.conf").read_text()
    assert "server orders:8000 max_fails=3 fail_timeout=30s;" in conf
    assert "server backoffice:8000" in conf and "location /invoices" in conf
    assert "non_idempotent" in conf
    # Outside Compose the service names do not resolve: check the syntax with loopback.
    local = tmp_path / "local.conf"
    local.write_text(conf.replace("server orders:", "server 127.0.0.1:")
                     .replace("server backoffice:", "server 127.0.0.1:"))
    checked = subprocess.run([*CLI, "lb", "-t", "-p", f"{tmp_path}/", "-e", "stderr", "-c",
                              str(local)], capture_output=True, text=True, timeout=60,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_service_without_any_release_or_version_is_a_clear_error(tmp_path):
    file = tmp_path / "hotdeploy.toml"
    file.write_text('[project]\nname = "p"\n[services.api]\napp = "a:b"\n')
    result = export(file)
    assert result.returncode == 1
    assert "no release yet to name its image" in result.stderr
