"""Fixtures for the nginx engine's tests on real nginx processes (loopback only)."""

from __future__ import annotations

import pytest
from nginx_tools import NGINX, topology

from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.dataplane.nginx.live import NginxLiveDataPlane
from hotdeploy.runtimes.process import free_port


@pytest.fixture
async def live(tmp_path):
    """`await live(**balancer)` -> (engine, topology, base URL): the live-mode engine started
    on a one-service topology routed at "/"; stopped after the test."""
    started = []

    async def start(**balancer):
        port = free_port()
        topo = topology(port, **balancer)
        engine = NginxLiveDataPlane(tmp_path / ".hotdeploy", "test", inspect(NGINX))
        started.append(engine)
        await engine.apply(topo)
        return engine, topo, f"http://127.0.0.1:{port}"

    yield start
    for engine in started:
        await engine.stop(5.0)


@pytest.fixture
def backends():
    """`backends(n)` -> n real backend processes on 127.0.0.1 (killed after the test)."""
    from lbtools import start_backend

    started = []

    def start(*names, env=None, port=0):
        out = [start_backend(name, "127.0.0.1", port=port, env=env) for name in names]
        started.extend(out)
        return out

    yield start
    for backend in started:
        backend.kill()
