"""Active-passive deploys, scale, restart, logs and the foreground `up`, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest
from hd_e2e_harness import CLI, Load, cli, pid_of, pids, service, shop, status, versions

pytestmark = pytest.mark.timeout(120)
__all__ = ["shop"]  # the fixture


def test_active_passive_deploy_replaces_the_backup_first_and_never_fails(shop):
    file, base = shop(balancer="active-passive", orders=2, others=2)
    svc = service(file, "orders")
    assert sorted(i["backup"] for i in svc["instances"]) == [False, True]
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert load.failures == [], load.failures[:5]
    in_service = [line for line in out.splitlines() if "in service" in line]
    assert "(backup)" in in_service[0] and "(backup)" not in in_service[1]
    svc = service(file, "orders")
    assert sorted(i["backup"] for i in svc["instances"]) == [False, True]
    assert versions(file, "orders") == ["2.0.0", "2.0.0"]
    # The primary took the traffic throughout: the backup only stands by.
    primary = next(i for i in svc["instances"] if not i["backup"])
    backup = next(i for i in svc["instances"] if i["backup"])
    assert primary["server"]["requests"] > 0 and backup["server"]["requests"] == 0


def test_scale_up_and_down_without_failures(shop):
    file, base = shop(orders=1)
    with Load(base) as load:
        assert cli(file, "scale", "orders", "3").returncode == 0
        assert len(service(file, "orders")["instances"]) == 3
        assert cli(file, "scale", "orders", "1").returncode == 0
    assert load.failures == [], load.failures[:5]
    svc = service(file, "orders")
    assert len(svc["instances"]) == 1 and svc["desired"] == 1


def test_restart_replaces_every_process_keeping_the_version(shop):
    file, base = shop()
    before = pids(file, "orders")
    with Load(base) as load:
        result = cli(file, "restart", "orders")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], load.failures[:5]
    assert pids(file, "orders").isdisjoint(before)
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_unknown_service_and_logs(shop):
    file, _ = shop(orders=1)
    bad = cli(file, "deploy", "nope", "--version", "2")
    assert bad.returncode == 3 and "unknown service 'nope'" in bad.stderr
    printed = cli(file, "status", "--json")
    assert printed.returncode == 0
    assert json.loads(printed.stdout)["services"] == status(file)["services"]
    table = cli(file, "status")
    assert "orders-1 1.0.0" in table.stdout and "backoffice (unit) /invoices /reports" \
        in table.stdout
    logs = cli(file, "logs", "orders")
    assert logs.returncode == 0
    assert "orders-1 | --- " in logs.stdout and "version=1.0.0" in logs.stdout


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_foreground_up_prints_the_url_and_ctrl_c_stops_everything(tmp_path):
    from hd_e2e_harness import make_project

    file, port = make_project(tmp_path, orders=1)
    env = {**os.environ, "COLUMNS": "160", "TERM": "dumb"}
    proc = subprocess.Popen([*CLI, "up", "-f", str(file)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        seen = ""
        while "is up:" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert f"is up: http://127.0.0.1:{port}" in seen
        running = pids(file, "orders")
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        assert all(not alive(pid) for pid in running)
    finally:
        if proc.poll() is None:
            proc.kill()
            cli(file, "down")


def test_an_instance_that_keeps_crashing_is_reported_not_restarted(shop):
    file, base = shop(deploy="restart = { max_restarts = 0 }")
    victim = service(file, "orders")["instances"][0]
    with Load(base) as load:
        os.kill(pid_of(victim), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = {i["id"]: i for i in service(file, "orders")["instances"]}
            if now[victim["id"]]["state"] == "failed":
                break
            time.sleep(0.2)
    assert load.failures == [], load.failures[:5]
    failed = {i["id"]: i for i in service(file, "orders")["instances"]}[victim["id"]]
    assert failed["state"] == "failed" and not failed["alive"] and failed["server"] is None, failed
    table = cli(file, "status").stdout
    assert "failed" in table
    # The next deploy replaces the failed instance: three serve the new version again.
    result = cli(file, "deploy", "orders", "--version", "2.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    svc = service(file, "orders")
    assert [i["state"] for i in svc["instances"]] == ["serving"] * 3, svc["instances"]
    assert versions(file, "orders") == ["2.0.0"] * 3


def test_blue_green_standby_is_stopped_when_its_keep_time_is_over(shop):
    file, _ = shop(deploy='strategy = "blue-green"\nblue_green_keep = "1s"', orders=2)
    old = pids(file, "orders")
    assert cli(file, "deploy", "orders", "--version", "2.0.0").returncode == 0
    deadline = time.monotonic() + 10
    while service(file, "orders")["standby"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service(file, "orders")["standby"] == []
    assert all(not alive(pid) for pid in old)
    assert cli(file, "rollback", "orders").returncode == 0  # a rolling deploy of 1.0.0 now
    assert versions(file, "orders") == ["1.0.0", "1.0.0"]


def test_up_after_the_project_file_changed_reloads_the_balancer_and_starts_new_services(shop):
    file, base = shop(orders=1)
    os.kill(status(file)["control_pid"], signal.SIGKILL)
    text = file.read_text().replace("[deploy]", '[services.stock]\napp = "orders.api:app"\n'
                                                'route = "/stock"\nversion = "3.0.0"\n\n[deploy]')
    file.write_text(text)
    with Load(base) as load:
        result = cli(file, "up", "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "balancer configuration reloaded" in result.stdout
    assert load.failures == [], load.failures[:5]
    answer = httpx.get(f"{base}/stock", timeout=5)
    assert answer.status_code == 200 and answer.json()["version"] == "3.0.0"


def test_a_balancer_that_dies_is_restarted_with_its_servers(shop):
    file, base = shop(orders=2)
    before = status(file)
    instances = pids(file, "orders")
    os.kill(before["dataplane"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = status(file)
        if now["dataplane"]["pid"] != before["dataplane"]["pid"] and now["dataplane"]["running"]:
            break
        time.sleep(0.2)
    answers = {httpx.get(f"{base}/orders", timeout=5).json()["instance"] for _ in range(4)}
    assert answers == {"orders-1", "orders-2"}  # the same instances, from the state file
    assert pids(file, "orders") == instances


def test_down_works_without_a_control_process(shop):
    file, _ = shop(orders=1)
    before = status(file)
    running = [pid_of(i) for s in before["services"] for i in s["instances"]]
    os.kill(before["control_pid"], signal.SIGKILL)
    result = cli(file, "down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any(alive(pid) for pid in [*running, before["dataplane"]["pid"]])
    assert cli(file, "down").stdout.strip() == "nothing is running"
