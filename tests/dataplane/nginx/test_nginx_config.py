"""The nginx engine's pure parts: nginx.conf rendering (live and reload), the upstream include
file, the export, mode detection and the engine registry."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from nginx_tools import HAS_NGINX, NGINX, topology

from hotdeploy.dataplane import dataplane_for, same_engine
from hotdeploy.dataplane.nginx import detect
from hotdeploy.dataplane.nginx.config import (
    Runtime,
    StaticServer,
    generation_of,
    render_live,
    render_reload,
    render_upstreams,
    with_generation,
)
from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.dataplane.nginx.export import export_nginx
from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.errors import ConfigError
from hotdeploy.project.loader import parse_project

PATHS = NginxPaths("/srv/.hotdeploy/nginx")
RT = Runtime(PATHS, 9100, "/lua", ("/m/ndk_http_module.so", "/m/ngx_http_lua_module.so"))


def shop(**balancer):
    return parse_project({
        "project": {"name": "shop"},
        "balancer": {"listen": "127.0.0.1:9000", **balancer},
        "services": {"orders": {"app": "o:app", "instances": 3},
                     "pay": {"command": "srv {port}", "route": "/payments", "instances": 2}},
        "units": {"bo": {"artifacts": {"invoices": "i:app", "reports": "r:app"}}},
    })


def test_live_conf_loads_lua_runs_in_the_foreground_and_has_its_own_prefix():
    text = render_live(topology(9000), RT)
    assert text.index("load_module /m/ndk_http_module.so;") < text.index(
        "load_module /m/ngx_http_lua_module.so;")
    for line in ("daemon off;", "worker_processes auto;", f"pid {PATHS.pid};",
                 f"error_log {PATHS.error_log} warn;", "lua_shared_dict hotdeploy",
                 'lua_package_path "/lua/?.lua;;";', f"proxy_temp_path {PATHS.temp}/proxy;"):
        assert line in text, line


def test_live_upstreams_use_the_lua_balancer_and_a_down_placeholder():
    text = render_live(topology(9000, keepalive=8), RT)
    block = text[text.index("upstream svc_web {"):]
    block = block[:block.index("\n    }\n")]
    assert "server 127.0.0.1:9 down;" in block
    assert ('balancer_by_lua_block { package.loaded.hotdeploy_balancer.balance("svc_web") }'
            in block)
    assert "keepalive 8;" in block
    assert 'log_by_lua_block { package.loaded.hotdeploy_balancer.log() }' in text


def test_routes_are_prefix_locations_with_a_404_catch_all_unless_a_route_is_slash():
    text = render_live(topology(9000, route="/web"), RT)
    assert "location /web {" in text and "return 404;" in text
    text = render_live(topology(9000, route="/"), RT)
    assert "return 404;" not in text and text.count("location / {") == 1


def test_admin_server_is_loopback_only_on_its_own_port():
    text = render_live(topology(9000), RT)
    admin = text[text.index("listen 127.0.0.1:9100;"):]
    assert "allow 127.0.0.1;" in admin and "deny all;" in admin
    assert 'content_by_lua_block { require("hotdeploy_balancer").admin() }' in admin


def test_the_lua_side_gets_the_upstream_rules():
    text = render_live(topology(9000, strategy="active-active-health", method="hash",
                                hash_key="$request_uri consistent", max_fails=2,
                                fail_timeout="5s", retry_non_idempotent=True,
                                health_check={"uri": "/ready", "interval": "2s", "fails": 3,
                                              "passes": 2}), RT)
    settings = json.loads(re.search(r"\[==\[(.*)\]==\]", text).group(1))["svc_web"]
    assert settings["method"] == "hash" and settings["hash_key"] == "$request_uri"
    assert settings["consistent"] is True
    assert settings["max_fails"] == 2 and settings["fail_timeout"] == 5.0
    assert settings["health"] == {"uri": "/ready", "interval": 2.0, "fails": 3, "passes": 2,
                                  "timeout": 1.0}
    assert settings["fail_codes"] == {"502": True, "503": True}
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in text


def test_generation_is_a_digest_of_the_configuration():
    a, b = render_live(topology(9000), RT), render_live(topology(9001), RT)
    assert generation_of(a) and generation_of(a) != generation_of(b)
    assert render_live(topology(9000), RT) == a  # pure


def test_reload_mode_includes_the_upstreams_and_answers_its_generation():
    topo = topology(9000)
    include = render_upstreams(topo, {"svc_web": [
        StaticServer("127.0.0.1:7001", weight=2, max_fails=3, fail_timeout=30.0),
        StaticServer("127.0.0.1:7002", backup=True, down=True)]})
    assert "server 127.0.0.1:7001 weight=2 max_fails=3 fail_timeout=30s;" in include
    assert "server 127.0.0.1:7002 weight=1 max_fails=1 fail_timeout=10s backup down;" in include
    conf, generation = with_generation(render_reload(topo, Runtime(PATHS, 9100)), include)
    assert f"include {PATHS.upstreams_include};" in conf and "lua" not in conf
    assert f'return 200 "{generation}";' in conf
    other = with_generation(render_reload(topo, Runtime(PATHS, 9100)), include + "#")[1]
    assert other != generation  # a server change is a new generation
    empty = render_upstreams(topo, {})
    assert "server 127.0.0.1:9 down;" in empty  # nginx refuses an empty upstream


def test_export_is_pure_and_plain_oss():
    project = shop(strategy="active-active-health", slow_start="10s", method="least_conn")
    text = export_nginx(project)
    assert text == export_nginx(project)
    assert "least_conn;" in text and "zone svc_orders 64k;" in text
    assert "/srv" not in text and "lua" not in text
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("health_check", "api", "state ", "slow_start")) or \
                "slow_start=" in stripped.split("#")[0]:
            pytest.fail(f"Plus-only directive not commented out: {line}")
    assert "# NGINX Plus: health_check uri=/health" in text
    assert "One line per instance of orders (3 in the project)" in text


@pytest.mark.skipif(not HAS_NGINX, reason="needs nginx")
def test_export_passes_nginx_t(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(export_nginx(shop(strategy="active-active-health")))
    (tmp_path / "logs").mkdir()
    result = subprocess.run([NGINX, "-t", "-q", "-p", f"{tmp_path}/", "-c", str(conf)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def fake_nginx(tmp_path: Path, v_output: str) -> str:
    binary = tmp_path / "nginx"
    binary.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{v_output}\nEOF\n")
    binary.chmod(0o755)
    return str(binary)


def test_lua_is_detected_from_the_modules_or_nginx_V(tmp_path):
    binary = fake_nginx(tmp_path, "nginx version: nginx/1.22.1\nconfigure arguments: --x")
    modules = tmp_path / "modules"
    modules.mkdir()
    assert inspect(binary, modules).has_lua is False
    for name in ("ndk_http_module.so", "ngx_http_lua_module.so"):
        (modules / name).touch()
    found = inspect(binary, modules)
    assert found.has_lua and found.version == "1.22.1"
    assert found.modules == (str(modules / "ndk_http_module.so"),
                             str(modules / "ngx_http_lua_module.so"))
    built_in = fake_nginx(tmp_path, "nginx version: openresty/1.21\n--add-module=lua-nginx-module")
    assert inspect(built_in, tmp_path / "none").modules == ()
    assert inspect(built_in, tmp_path / "none").has_lua


def test_registry_picks_the_project_engine_and_the_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(detect, "MODULES_DIR", tmp_path / "no-modules")
    binary = fake_nginx(tmp_path, "nginx version: nginx/1.22.1")
    bal = shop(engine="nginx", nginx=binary).balancer
    plane = dataplane_for({}, tmp_path, "x", bal)
    assert (plane.engine, plane.describe()["mode"]) == ("nginx", "reload")  # no Lua here
    assert plane.capabilities.live_changes is False
    with pytest.raises(ConfigError, match="needs the Lua module"):
        dataplane_for({}, tmp_path, "x", shop(engine="nginx", nginx=binary,
                                              nginx_mode="live").balancer)
    assert dataplane_for({}, tmp_path, "x", shop().balancer).engine == "builtin"
    with pytest.raises(ConfigError, match="no such file"):
        dataplane_for({}, tmp_path, "x", shop(engine="nginx", nginx="/nope").balancer)


def test_same_engine_compares_engine_and_forced_mode():
    nginx = shop(engine="nginx").balancer
    assert same_engine({"engine": "nginx", "mode": "live"}, nginx)
    assert not same_engine({"engine": "builtin"}, nginx)
    assert not same_engine({"engine": "nginx", "mode": "live"},
                           shop(engine="nginx", nginx_mode="reload").balancer)
    assert same_engine({"pid": 1}, shop().balancer)  # an old state file: builtin
