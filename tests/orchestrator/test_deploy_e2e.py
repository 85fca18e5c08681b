"""Issue 4's proof: hot deployments under steady load through `hotdeploy lb`, counting every
failed request. Real processes, real sockets, loopback only; each case bounded in time."""

from __future__ import annotations

import os
import signal
import time

import pytest
from hd_e2e_harness import Load, cli, pid_of, pids, service, shop, status, versions

pytestmark = pytest.mark.timeout(120)
__all__ = ["shop"]  # the fixture


@pytest.mark.parametrize("balancer", ["active-active", "active-active-health"])
def test_rolling_deploy_of_three_instances_fails_no_request_and_leaves_others_alone(shop,
                                                                                   balancer):
    file, base = shop(balancer=balancer)
    untouched = {name: pids(file, name) for name in ("payments", "backoffice")}
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], load.failures[:5]
    assert load.total > 100
    assert versions(file, "orders") == ["2.0.0"] * 3
    assert load.versions["2.0.0"] > 0 and load.versions["1.0.0"] > 0
    for name, before in untouched.items():
        assert pids(file, name) == before, f"{name} was touched by deploying orders"


def test_blue_green_switches_the_whole_set_and_rollback_swaps_back(shop):
    # Active checks: the re-added standby set is gated by the balancer's `mandatory` check.
    file, base = shop(balancer="active-active-health",
                      deploy='strategy = "blue-green"\nblue_green_keep = "60s"')
    old = pids(file, "orders")
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
        assert result.returncode == 0, result.stdout + result.stderr
        svc = service(file, "orders")
        assert sorted(i["version"] for i in svc["instances"]) == ["2.0.0"] * 3
        assert {pid_of(i) for i in svc["standby"]} == old  # the old colour idles, still running
        began = time.monotonic()
        back = cli(file, "rollback", "orders")
        took = time.monotonic() - began
    assert back.returncode == 0, back.stdout + back.stderr
    assert load.failures == [], load.failures[:5]
    assert pids(file, "orders") == old  # the very same processes serve again
    assert versions(file, "orders") == ["1.0.0"] * 3
    assert took < 10


def test_canary_that_answers_500_is_rolled_back_with_bounded_failures(shop):
    file, base = shop(deploy='strategy = "canary"\n'
                             'canary = { steps = [10, 50, 100], pause = "2s" }')
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0",
                     "--env", "EXAMPLE_FAIL_RATE=0.5")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "canary at 10% failed" in result.stdout + result.stderr
    # Only the canary failed requests (500s from 2.0.0, never a connection error), and only
    # within its first step: 10% of traffic times a 50% failure rate, about 5%; allow 12%.
    assert all(f.startswith("500 2.0.0 ") for f in load.failures), load.failures[:5]
    assert 0 < len(load.failures) <= 0.12 * load.total
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_a_version_that_never_becomes_healthy_is_rolled_back_and_says_why(shop):
    file, base = shop()
    before = pids(file, "orders")
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0",
                     "--env", "EXAMPLE_UNHEALTHY=1")
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "did not become healthy within 3s" in out
    assert "/health -> HTTP 503" in out
    assert "rolled back to version 1.0.0" in out
    assert load.failures == [], load.failures[:5]
    assert pids(file, "orders") == before
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_a_version_that_crashes_at_start_is_rolled_back_with_its_log(shop):
    file, _ = shop()
    result = cli(file, "deploy", "orders", "--version", "2.0.0", "--env", "EXAMPLE_CRASH=1")
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "exited before it became healthy" in out and "crashing on purpose" in out
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_sigkill_of_an_instance_fails_no_request_and_it_is_restarted(shop):
    file, base = shop(balancer="active-active-health")
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
    assert restarted["restarts"] == 1 and pid_of(restarted) != pid_of(victim)
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_sigkill_of_the_control_process_interrupts_nothing_and_up_adopts(shop):
    file, base = shop()
    before = status(file)
    with Load(base) as load:
        os.kill(before["control_pid"], signal.SIGKILL)
        time.sleep(1.0)
        assert cli(file, "status").returncode == 3  # nobody answers the socket now
        again = cli(file, "up", "--detach")
    assert again.returncode == 0, again.stdout + again.stderr
    assert load.failures == [], load.failures[:5]
    after = status(file)
    assert after["control_pid"] != before["control_pid"]
    assert after["dataplane"]["pid"] == before["dataplane"]["pid"]
    for old, new in zip(before["services"], after["services"], strict=True):
        assert {pid_of(i) for i in new["instances"]} == {pid_of(i) for i in old["instances"]}
    # ... and the adopted system still deploys.
    assert cli(file, "deploy", "payments", "--version", "1.1.0").returncode == 0
    assert versions(file, "payments") == ["1.1.0"]
