"""Shared by the export tests: projects that exercise every mapping."""

from __future__ import annotations

from hotdeploy.project.loader import parse_project


def project(**overrides):
    data = {
        "project": {"name": "shop"},
        "balancer": {"method": "least_conn", "health_check": {"uri": "/health",
                                                              "interval": "2s", "fails": 2,
                                                              "passes": 3}},
        "services": {
            "orders": {"app": "orders.api:app", "route": "/orders", "instances": 3,
                       "version": "1.0.0", "runtime": {"memory": "256Mi", "cpus": 0.5},
                       "metrics": "/metrics", "env": {"MODE": "yes", "LEVEL": "1.0",
                                                         "HOME_REF": "$(HOME)"},
                       "autoscale": {"min": 2, "max": 10, "cpu": 70}},
            "payments": {"command": "java -jar pay.jar --port {port}", "route": "/payments",
                         "instances": 2, "strategy": "blue-green", "health": "/ready"},
            "search": {"app": "search.api:app", "route": "/", "instances": 4,
                       "strategy": "canary"},
        },
        "units": {"backoffice": {"artifacts": {"invoices": "invoices.api:app",
                                               "reports": "reports.api:app"},
                                 "instances": 2}},
        "deploy": {"max_surge": 2, "max_unavailable": 1, "drain_timeout": "45s",
                   "health_timeout": "75s", "stop_grace": "10s",
                   "canary": {"steps": [20, 60, 100]}},
    }
    for key, value in overrides.items():
        data[key] = value
    return parse_project(data)
