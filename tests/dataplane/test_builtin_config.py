"""The built-in balancer's configuration, rendered from the project's topology."""

from __future__ import annotations

from hotdeploy.dataplane.builtin.config import LbPaths, render
from hotdeploy.project.loader import parse_project
from hotdeploy.project.topology import topology_of


def project(services=None, **balancer):
    balancer.setdefault("strategy", "active-active-health")
    return parse_project({
        "project": {"name": "shop"},
        "balancer": {"listen": "127.0.0.1:9000", **balancer},
        "services": services or {
            "orders": {"app": "o:app", "instances": 2},
            "pay": {"command": "srv --port {port}", "route": "/payments", "health": "/ready",
                    "instances": 2}},
        "units": {} if services else {
            "bo": {"artifacts": {"invoices": "i:app", "reports": "r:app"}, "instances": 2}},
    })


def conf(*args, **kwargs) -> str:
    return render(topology_of(project(*args, **kwargs)), LbPaths("/srv/.hotdeploy"), 9100)


def test_one_upstream_per_service_with_state_file_and_no_servers():
    text = conf()
    assert "upstream svc_orders {" in text and "upstream unit_bo {" in text
    assert "state /srv/.hotdeploy/lb/svc_orders.state;" in text
    assert "zone svc_orders 64k;" in text
    assert "keepalive 64;" in text
    assert "server " not in text.replace("server {", "")  # servers come from the state file


def test_routes_health_checks_and_admin_api():
    text = conf()
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
    text = conf(strategy="active-active", method="least_conn")
    assert "health_check" not in text
    assert "health_check" not in conf(strategy="active-passive")
    assert "least_conn;" in text
    assert "hash $remote_addr;" in conf(method="hash")


def test_non_idempotent_retries_only_when_asked():
    assert "http_503 non_idempotent;" in conf(retry_non_idempotent=True)
    assert "non_idempotent" not in conf()


def test_a_catch_all_route_replaces_the_404_location_instead_of_duplicating_it():
    # Regression: a service with route "/" gave `location /` twice (duplicate location "/").
    text = conf({"web": {"app": "w:app", "route": "/"}})
    assert text.count("location / {") == 1
    assert "location / {\n            proxy_pass http://svc_web;" in text
    assert "return 404;" not in text
    beside = conf({"web": {"app": "w:app", "route": "/"}, "api": {"app": "a:app"}})
    assert beside.count("location / {") == 1 and "location /api {" in beside


def test_metrics_beside_the_api_only_when_asked():
    assert "metrics;" not in conf()
    topology = topology_of(project())
    text = render(topology, LbPaths("/srv/.hotdeploy"), 9100, metrics=True)
    admin = text[text.index("listen 127.0.0.1:9100;"):]
    assert "location = /metrics {\n            metrics;\n            allow 127.0.0.1;" in admin
