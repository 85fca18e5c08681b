"""Issue 9's proof: hot deployments under steady keep-alive load (GET and POST) through real
nginx in live mode, counting every failed request. Real processes, loopback only."""

from __future__ import annotations

import os
import signal
import time

import pytest
from nginx_tools import needs_lua

from hd_e2e_harness import Load, cli, pid_of, pids, service, shop, status, versions  # isort: skip

pytestmark = [needs_lua, pytest.mark.timeout(120)]
__all__ = ["shop"]  # the fixture


def nginx_shop(shop, **kwargs):
    file, base = shop(engine="nginx", **kwargs)
    plane = status(file)["dataplane"]
    assert plane["engine"] == "nginx" and plane["mode"] == "live", plane
    return file, base


@pytest.mark.parametrize("balancer", ["active-active", "active-active-health"])
def test_rolling_deploy_of_three_instances_fails_no_request(shop, balancer):
    file, base = nginx_shop(shop, balancer=balancer)
    untouched = {name: pids(file, name) for name in ("payments", "backoffice")}
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], load.failures[:5]
    assert load.total > 100
    assert versions(file, "orders") == ["2.0.0"] * 3
    assert load.versions["2.0.0"] > 0 and load.versions["1.0.0"] > 0
    for name, before in untouched.items():
        assert pids(file, name) == before


def test_a_version_that_never_becomes_healthy_is_rolled_back(shop):
    file, base = nginx_shop(shop)
    before = pids(file, "orders")
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0",
                     "--env", "EXAMPLE_UNHEALTHY=1")
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "rolled back to version 1.0.0" in out
    assert load.failures == [], load.failures[:5]
    assert pids(file, "orders") == before


def test_sigkill_of_an_instance_fails_no_request_and_it_is_restarted(shop):
    file, base = nginx_shop(shop, balancer="active-active-health")
    victim = service(file, "orders")["instances"][0]
    with Load(base) as load:
        os.kill(pid_of(victim), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = service(file, "orders")["instances"]
            if len(now) == 3 and all(i["alive"] and i["state"] == "serving" for i in now) \
                    and pid_of(victim) not in {pid_of(i) for i in now}:
                break
            time.sleep(0.2)
    assert load.failures == [], load.failures[:5]
    restarted = next(i for i in service(file, "orders")["instances"] if i["id"] == victim["id"])
    assert restarted["restarts"] == 1


def test_blue_green_switch_and_rollback_fail_no_request(shop):
    file, base = nginx_shop(shop, balancer="active-active-health",
                            deploy='strategy = "blue-green"\nblue_green_keep = "60s"')
    old = pids(file, "orders")
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
        assert result.returncode == 0, result.stdout + result.stderr
        assert versions(file, "orders") == ["2.0.0"] * 3
        back = cli(file, "rollback", "orders")
    assert back.returncode == 0, back.stdout + back.stderr
    assert load.failures == [], load.failures[:5]
    assert pids(file, "orders") == old


def test_canary_deploy_fails_no_request_and_uses_the_counters(shop):
    file, base = nginx_shop(shop, deploy='strategy = "canary"\n'
                                         'canary = { steps = [10, 50, 100], pause = "1s" }')
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], load.failures[:5]
    assert versions(file, "orders") == ["2.0.0"] * 3


def test_a_canary_that_answers_500_is_rolled_back_by_nginx_counters(shop):
    file, base = nginx_shop(shop, deploy='strategy = "canary"\n'
                                         'canary = { steps = [10, 50, 100], pause = "2s" }')
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0",
                     "--env", "EXAMPLE_FAIL_RATE=0.5")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "canary at 10% failed" in result.stdout + result.stderr
    assert all(f.startswith("500 2.0.0 ") for f in load.failures), load.failures[:5]
    assert 0 < len(load.failures) <= 0.12 * load.total
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_status_shows_engine_and_mode(shop):
    file, _ = nginx_shop(shop, orders=1)
    out = cli(file, "status").stdout
    assert "balancer nginx (live" in out


def test_switching_the_engine_stops_the_old_balancer_at_boot(shop):
    import httpx

    file, base = shop(orders=1)
    before = status(file)
    assert before["dataplane"]["engine"] == "builtin"
    os.kill(before["control_pid"], signal.SIGKILL)
    time.sleep(0.5)
    file.write_text(file.read_text().replace('engine = "builtin"', 'engine = "nginx"'))
    again = cli(file, "up", "--detach")
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "stopping the running 'builtin' balancer" in out
    after = status(file)
    assert after["dataplane"]["engine"] == "nginx"
    assert after["dataplane"]["pid"] != before["dataplane"]["pid"]
    deadline = time.monotonic() + 5
    while True:  # the old balancer's port is nginx's now
        try:
            if httpx.get(base + "/orders", timeout=2, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert versions(file, "orders") == ["1.0.0"]


def test_sigkill_of_the_control_process_interrupts_nothing_and_up_adopts_nginx(shop):
    file, base = nginx_shop(shop)
    before = status(file)
    with Load(base) as load:
        os.kill(before["control_pid"], signal.SIGKILL)
        time.sleep(1.0)
        again = cli(file, "up", "--detach")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "adopted nginx" in again.stdout
    assert load.failures == [], load.failures[:5]
    after = status(file)
    assert after["dataplane"]["pid"] == before["dataplane"]["pid"]
    for old, new in zip(before["services"], after["services"], strict=True):
        assert {pid_of(i) for i in new["instances"]} == {pid_of(i) for i in old["instances"]}
    assert cli(file, "deploy", "payments", "--version", "1.1.0").returncode == 0
    assert versions(file, "payments") == ["1.1.0"]


def test_active_passive_deploy_replaces_the_backup_first_and_never_fails(shop):
    file, base = nginx_shop(shop, balancer="active-passive", orders=2, others=2)
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], load.failures[:5]
    time.sleep(0.3)  # request counters reach the shared dict every 0.2 s
    svc = service(file, "orders")
    primary = next(i for i in svc["instances"] if not i["backup"])
    backup = next(i for i in svc["instances"] if i["backup"])
    assert primary["server"]["requests"] > 0 and backup["server"]["requests"] == 0


def test_scale_up_and_down_without_failures(shop):
    file, base = nginx_shop(shop, orders=1)
    with Load(base) as load:
        assert cli(file, "scale", "orders", "3").returncode == 0
        assert cli(file, "scale", "orders", "1").returncode == 0
    assert load.failures == [], load.failures[:5]
    assert len(service(file, "orders")["instances"]) == 1
