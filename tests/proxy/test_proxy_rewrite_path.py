"""The rewrite module costs nothing where it is not configured: the plans of a configuration
without rewrite directives route exactly as before (no script flag, no script plans), and one
with them routes through proxy.rewrite. (Behaviour is compared with nginx in tests/interop.)"""

from __future__ import annotations

import time

from hotdeploy.config.loader import load_config
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.runtime import build_runtime


def _runtime(tmp_path, server_body: str):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n access_log off;\n"
                    " upstream b { server 127.0.0.1:9; }\n"
                    f" server {{ listen 127.0.0.1:8080;\n {server_body}\n }}\n}}\n")
    config = load_config(str(conf), str(tmp_path))
    return build_runtime(config, None, time.monotonic(), ErrorLog([("stderr", "crit")]))


def test_without_rewrite_directives_routing_is_unchanged(tmp_path):
    runtime = _runtime(tmp_path, "location / { proxy_pass http://b; }\n"
                                 "location = /r { return 204; }")
    assert not any(plan.script for plan in runtime.plans.values())
    assert runtime.returning == {} and runtime.maps == {} and runtime.set_names == frozenset()
    plan = runtime.route(("127.0.0.1", 8080), None, "/x")
    assert plan.kind == "proxy" and not plan.script
    assert runtime.route(("127.0.0.1", 8080), None, "/r").kind == "return"


def test_with_rewrite_directives_the_plan_asks_for_the_script(tmp_path):
    runtime = _runtime(tmp_path, "location / { rewrite ^/a$ /b last; proxy_pass http://b; }")
    plan = runtime.route(("127.0.0.1", 8080), None, "/a")
    assert plan.script and plan.kind == "proxy"
    location = plan.location
    assert runtime.returning[id(location)].kind == "script_return"


def test_a_server_script_routes_to_the_server_plan_first(tmp_path):
    runtime = _runtime(tmp_path, "rewrite ^/a$ /b;\nlocation / { proxy_pass http://b; }")
    plan = runtime.route(("127.0.0.1", 8080), None, "/a")
    assert plan.script and plan.location is None
