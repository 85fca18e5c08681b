"""The generated balancer configuration."""

from __future__ import annotations

from hotdeploy.control.nginxconf import LbPaths, render
from hotdeploy.project.loader import parse_project


def project(**balancer):
    balancer.setdefault("strategy", "active-active-health")
    return parse_project({
        "project": {"name": "shop"},
        "balancer": {"listen": "127.0.0.1:9000", **balancer},
        "services": {"orders": {"app": "o:app", "instances": 2},
                     "pay": {"command": "srv --port {port}", "route": "/payments",
                             "health": "/ready", "instances": 2}},
        "units": {"bo": {"artifacts": {"invoices": "i:app", "reports": "r:app"},
                         "instances": 2}},
    })


def test_one_upstream_per_service_with_state_file_and_no_servers():
    text = render(project(), LbPaths("/srv/.hotdeploy"), 9100)
    assert "upstream svc_orders {" in text and "upstream unit_bo {" in text
    assert "state /srv/.hotdeploy/lb/svc_orders.state;" in text
    assert "zone svc_orders 64k;" in text
    assert "keepalive 64;" in text
    assert "server " not in text.replace("server {", "")  # servers come from the state file


def test_routes_health_checks_and_admin_api():
    text = render(project(), LbPaths("/srv/.hotdeploy"), 9100)
    assert "listen 127.0.0.1:9000;" in text
    assert "location /payments {\n            proxy_pass http://svc_pay;" in text
    assert "health_check uri=/ready interval=1s fails=1 passes=1 mandatory;" in text
    # A unit has one location per artifact and one health check for its one upstream.
    assert text.count("proxy_pass http://unit_bo;") == 2
    assert text.count("health_check uri=/health") == 2  # orders and the unit
    assert "listen 127.0.0.1:9100;" in text
    assert "api write=on;" in text and "deny all;" in text
    assert "proxy_next_upstream error timeout http_502 http_503;" in text


def test_passive_only_strategies_have_no_active_checks_and_method_is_emitted():
    text = render(project(strategy="active-active", method="least_conn"),
                  LbPaths("/x"), 1)
    assert "health_check" not in text
    assert "health_check" not in render(project(strategy="active-passive"), LbPaths("/x"), 1)
    assert "least_conn;" in text
    assert "hash $remote_addr;" in render(project(method="hash"), LbPaths("/x"), 1)


def test_non_idempotent_retries_only_when_asked():
    assert "http_503 non_idempotent;" in render(project(retry_non_idempotent=True),
                                                 LbPaths("/x"), 1)
    assert "non_idempotent" not in render(project(), LbPaths("/x"), 1)
