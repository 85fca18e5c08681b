"""Reload mode (an nginx without Lua, or `nginx_mode = "reload"`): servers as include-file
lines, one verified reload per batch of changes, `nginx -t` failures keep the old
configuration. Under keep-alive load a reload can lose requests (nginx closes the old workers'
idle connections at once, trac #1022): the e2e test measures and prints it, claiming no zero."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from nginx_tools import NGINX, needs_nginx, topology

from hd_e2e_harness import Load, cli, shop, status, versions  # isort: skip
from hotdeploy.dataplane.base import NewServer
from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.dataplane.nginx.reload import NginxReloadDataPlane
from hotdeploy.errors import ControlError
from hotdeploy.runtimes.process import free_port

pytestmark = [needs_nginx, pytest.mark.timeout(120)]
__all__ = ["shop"]
UPS = "svc_web"


@pytest.fixture
async def reload_engine(tmp_path):
    port = free_port()
    engine = NginxReloadDataPlane(tmp_path / ".hotdeploy", "test", inspect(NGINX))
    await engine.apply(topology(port, max_fails=1))
    yield engine, f"http://127.0.0.1:{port}"
    await engine.stop(5.0)


async def names(base, n):
    async with httpx.AsyncClient(base_url=base, timeout=10, trust_env=False) as http:
        return [(r.text.strip() if r.status_code == 200 else str(r.status_code))
                for r in [await http.get("/") for _ in range(n)]]


async def test_changes_of_one_step_share_one_verified_reload(reload_engine, backends):
    engine, base = reload_engine
    assert engine.capabilities.live_changes is False and engine.describe()["mode"] == "reload"
    assert await names(base, 1) == ["502"]  # no servers yet: the down placeholder
    a, b = backends("a", "b")
    before = engine.reloads
    ids = await asyncio.gather(engine.add(UPS, NewServer(a.address)),
                               engine.add(UPS, NewServer(b.address)))
    assert engine.reloads == before + 1
    assert Counter(await names(base, 10)) == {"a": 5, "b": 5}
    await engine.remove(UPS, ids[0])
    assert set(await names(base, 4)) == {"b"}
    assert [v.address for v in await engine.servers(UPS)] == [b.address]


async def test_a_refused_configuration_keeps_the_old_one_and_says_why(reload_engine,
                                                                     backends):
    engine, base = reload_engine
    (a,) = backends("a")
    await engine.add(UPS, NewServer(a.address))
    with pytest.raises(ControlError, match="invalid port"):
        await engine.add(UPS, NewServer("127.0.0.1:99999"))
    assert [v.address for v in await engine.servers(UPS)] == [a.address]
    assert await names(base, 2) == ["a", "a"]
    assert await engine.running()


def test_rolling_deploy_in_reload_mode_measured_under_keep_alive_load(shop, capsys):
    file, base = shop(engine="nginx", engine_extra='nginx_mode = "reload"')
    plane = status(file)["dataplane"]
    assert plane["mode"] == "reload"
    with Load(base, clients=4) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "does not count in-flight requests" in result.stdout
    assert versions(file, "orders") == ["2.0.0"] * 3
    with capsys.disabled():
        print(f"\nreload mode, rolling deploy of 3 under 4 keep-alive clients: "
              f"{len(load.failures)} failed of {load.total} ({load.results})")
    # Not zero by design (see module docstring); bounded: a few per reload at most.
    assert len(load.failures) <= 0.05 * load.total


def test_canary_is_refused_in_reload_mode(shop):
    file, _ = shop(engine="nginx", engine_extra='nginx_mode = "reload"', orders=1)
    result = cli(file, "deploy", "orders", "--version", "2.0.0", "--strategy", "canary")
    assert result.returncode != 0
    assert "canary" in (result.stdout + result.stderr).lower()


async def test_control_process_checks_take_a_503_server_out_and_back(tmp_path, backends):
    import time

    port = free_port()
    engine = NginxReloadDataPlane(tmp_path / ".hotdeploy", "test", inspect(NGINX))
    await engine.apply(topology(port, strategy="active-active-health",
                                health_check={"interval": "500ms"}))
    base = f"http://127.0.0.1:{port}"
    try:
        flag = tmp_path / "a-health"
        a = backends("a", env={"BACKEND_HEALTH_FILE": str(flag)})[0]
        (b,) = backends("b")
        ida = await engine.add(UPS, NewServer(a.address))
        await engine.add(UPS, NewServer(b.address))
        assert set(await names(base, 4)) == {"a", "b"}
        flag.write_text("503")
        began = time.monotonic()
        while set(await names(base, 2)) != {"b"}:  # no traffic needed; polled only to see
            assert time.monotonic() - began < 0.5 + 1.0 + 1.0, "still in rotation"
            await asyncio.sleep(0.1)
        assert {v.id: v.state for v in await engine.servers(UPS)}[ida] == "unhealthy"
        flag.unlink()
        deadline = time.monotonic() + 3
        while set(await names(base, 4)) != {"a", "b"}:
            assert time.monotonic() < deadline, "not back in rotation"
            await asyncio.sleep(0.1)
    finally:
        await engine.stop(5.0)
