"""Tools for the nginx engine's tests: whether this machine has nginx with the Lua module, a
project's topology, and the engine started on it in a temporary state directory."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.project.loader import parse_project
from hotdeploy.project.topology import Topology, topology_of

TESTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TESTS / "lb"))  # lbtools: real backend processes
sys.path.insert(0, str(TESTS / "orchestrator"))  # hd_e2e_harness

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _has_lua() -> bool:
    try:
        return Path(NGINX).exists() and inspect(NGINX).has_lua
    except Exception:
        return False


HAS_NGINX = Path(NGINX).exists()
HAS_LUA = _has_lua()
needs_nginx = pytest.mark.skipif(not HAS_NGINX, reason="needs nginx (installed by .ci/run)")
needs_lua = pytest.mark.skipif(not HAS_LUA, reason="needs nginx with libnginx-mod-http-lua, "
                               "lua-resty-core and lua-cjson (installed by .ci/run)")


def topology(port: int, route: str = "/", instances: int = 2, **balancer: object) -> Topology:
    balancer.setdefault("strategy", "active-active")
    project = parse_project({
        "project": {"name": "t"},
        "balancer": {"listen": f"127.0.0.1:{port}", **balancer},
        "services": {"web": {"app": "w:app", "route": route, "instances": instances}},
    })
    return topology_of(project)
