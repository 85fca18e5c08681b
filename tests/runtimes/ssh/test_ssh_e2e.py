"""The SSH runtime end to end through the CLI: a 4-instance service spread over two sshd
"hosts" (127.0.0.2 and 127.0.0.3, loopback only) behind the built-in balancer, under steady
keep-alive GET and POST load."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "orchestrator"))
from hd_e2e_harness import CLI, SHOP, Load, cli, free_port, service, status


def ssh_project(tmp_path: Path, hosts, *, remote_dir: str | None = None,
                instances: int = 4) -> tuple[Path, str]:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns(".hotdeploy", "__pycache__"))
    port = free_port()
    host_list = ", ".join(f'"{h}"' for h in hosts.hosts)
    remote_dir = remote_dir or str(tmp_path / "remote")
    extra = getattr(hosts, "env", {})
    env_line = ("env = { " + ", ".join(f'{k} = "{v}"' for k, v in extra.items()) + " }"
                if extra else "")
    (root / "hotdeploy.toml").write_text(f"""
[project]
name = "shop"

[balancer]
listen = "127.0.0.1:{port}"
strategy = "active-active"
retry_non_idempotent = true

[runtime]
kind = "ssh"
hosts = [{host_list}]
identity_file = "{hosts.identity}"
known_hosts = "{hosts.known_hosts}"
remote_dir = "{remote_dir}"
python = "{sys.executable}"
{env_line}

[services.orders]
app = "orders.api:app"
route = "/orders"
instances = {instances}
version = "1.0.0"

[deploy]
drain_timeout = "5s"
health_timeout = "15s"
stop_grace = "3s"
""")
    return root / "hotdeploy.toml", f"http://127.0.0.1:{port}"


def hosts_of(file: Path) -> Counter[str]:
    return Counter(i["endpoint"].rsplit(":", 1)[0] for i in service(file, "orders")["instances"])


def test_a_service_over_two_ssh_hosts_deploys_restarts_and_stops_with_no_failed_request(
        ssh_hosts, tmp_path):
    file, base = ssh_project(tmp_path, ssh_hosts)
    try:
        up = cli(file, "up", "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert hosts_of(file) == {"127.0.0.2": 2, "127.0.0.3": 2}
        with Load(base) as load:
            deployed = cli(file, "deploy", "orders", "--version", "2.0.0", timeout=180)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert load.failures == [], load.failures[:5]
        assert load.total > 50 and set(load.versions) <= {"1.0.0", "2.0.0"}
        orders = service(file, "orders")
        assert {i["version"] for i in orders["instances"]} == {"2.0.0"}
        assert sorted(hosts_of(file).values()) == [2, 2]

        victim = orders["instances"][0]
        with Load(base) as load:
            # The "host" is this machine: its pid is a local one.
            os.killpg(int(victim["details"]["pid"]), signal.SIGKILL)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                now = service(file, "orders")["instances"]
                again = [i for i in now if i["id"] == victim["id"]]
                if again and again[0]["restarts"] == 1 and again[0]["state"] == "serving":
                    break
                time.sleep(0.3)
        assert again and again[0]["restarts"] == 1, now
        assert load.failures == [], load.failures[:5]
        logs = cli(file, "logs", "orders", "-n", "3")
        assert logs.returncode == 0 and "start orders-" in logs.stdout
    finally:
        cli(file, "down", timeout=60)
    remote_pids = [p.read_text().strip() for p in (tmp_path / "remote" / "run").glob("*.pid")]
    time.sleep(0.5)
    assert not [pid for pid in remote_pids if _alive(int(pid))]


@pytest.mark.timeout(300)
def test_sigkill_of_the_control_process_then_up_adopts_the_remote_instances(ssh_hosts,
                                                                          tmp_path):
    file, base = ssh_project(tmp_path, ssh_hosts)
    try:
        up = cli(file, "up", "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        before = status(file)
        with Load(base) as load:
            os.kill(before["control_pid"], signal.SIGKILL)
            time.sleep(1.0)
            assert cli(file, "status").returncode == 3  # nobody answers the socket now
            again = cli(file, "up", "--detach", timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert load.failures == [], load.failures[:5]
        assert load.total > 50, load.results
        after = status(file)
        assert after["control_pid"] != before["control_pid"]
        assert after["dataplane"]["pid"] == before["dataplane"]["pid"]
        old, new = (next(s for s in x["services"] if s["name"] == "orders")["instances"]
                    for x in (before, after))
        # The same processes on the same hosts (pid@host), adopted, not restarted.
        assert {i["ref"] for i in new} == {i["ref"] for i in old}
        assert all(i["state"] == "serving" and i["restarts"] == 0 for i in new), new
        shown = cli(file, "status")
        assert shown.returncode == 0 and all(i["id"] in shown.stdout for i in new), shown.stdout
        # ... and the adopted service still deploys, spread over both hosts.
        with Load(base) as load:
            deployed = cli(file, "deploy", "orders", "--version", "2.0.0", timeout=180)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert load.failures == [], load.failures[:5]
        assert {i["version"] for i in service(file, "orders")["instances"]} == {"2.0.0"}
        assert hosts_of(file) == {"127.0.0.2": 2, "127.0.0.3": 2}
    finally:
        cli(file, "down", timeout=90)
    remote_pids = [p.read_text().strip() for p in (tmp_path / "remote" / "run").glob("*.pid")]
    time.sleep(0.5)
    assert not [pid for pid in remote_pids if _alive(int(pid))]


def wait_for(what, timeout: float):
    """Poll `what()` until it is true (returned) or the time is over (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    return None


@pytest.mark.timeout(300)  # up, a deploy, its rollback and the restarts: slow on a busy machine
def test_a_host_lost_mid_deploy_fails_it_rolls_back_and_the_other_keeps_serving(
        ssh_hosts, tmp_path):
    file, base = ssh_project(tmp_path, ssh_hosts)
    try:
        up = cli(file, "up", "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert hosts_of(file) == {"127.0.0.2": 2, "127.0.0.3": 2}
        with Load(base, limit=300) as load:
            deploy = subprocess.Popen([*CLI, "deploy", "orders", "--version", "2.0.0",
                                       "--file", str(file)], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            # In the middle: a new instance serves, old ones are still there.
            assert wait_for(lambda: any(i["version"] == "2.0.0" and i["state"] == "serving"
                                        for i in service(file, "orders")["instances"]), 120)
            # 127.0.0.3 dies: its sshd, its sessions and its instances.
            ssh_hosts.lose(1)
            out, _ = deploy.communicate(timeout=240)
            # The supervisor replaces the dead host's old instances on the other one.
            settled = wait_for(lambda: (lambda now: len(now) == 4 and all(
                i["state"] == "serving" and i["version"] == "1.0.0"
                and i["endpoint"].startswith("127.0.0.2:") for i in now))(
                    service(file, "orders")["instances"]), 120)
        print(out, load.results)  # shown by pytest -rP
        assert deploy.returncode == 2, out
        assert "127.0.0.3" in out and "rolled back to version 1.0.0" in out, out
        assert settled, service(file, "orders")["instances"]
        assert load.failures == [], load.failures[:5]
        assert load.total > 100, load.results
    finally:
        cli(file, "down", timeout=90)
    remote_pids = [p.read_text().strip() for p in (tmp_path / "remote" / "run").glob("*.pid")]
    time.sleep(0.5)
    assert not [pid for pid in remote_pids if _alive(int(pid))]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(300)
def test_under_systemd_units_deploy_restart_adopt_and_stop_with_no_failed_request(
        systemd_host, tmp_path):
    """The same life on a host whose init is systemd (conftest.systemd_host): `auto` picks
    systemd there, every instance is a unit of hotdeploy-shop-orders@.service."""
    systemd_host.hosts = [systemd_host.host]
    file, base = ssh_project(tmp_path, systemd_host, remote_dir="/var/lib/hotdeploy-test/shop",
                             instances=2)
    units = "systemctl list-units --plain --no-legend 'hotdeploy-shop-*'"
    try:
        up = cli(file, "up", "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        first = service(file, "orders")["instances"]
        assert {i["details"]["supervisor"] for i in first} == {"systemd"}
        assert systemd_host.run(units).count("active running") == 2
        with Load(base, limit=300) as load:
            deployed = cli(file, "deploy", "orders", "--version", "2.0.0", timeout=180)
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            now = service(file, "orders")["instances"]
            # A crash (SIGKILL inside the host): the unit fails, hotdeploy restarts it.
            victim = now[0]
            systemd_host.run(f"kill -KILL {victim['details']['pid']}")
            again = wait_for(lambda: [i for i in service(file, "orders")["instances"]
                                      if i["id"] == victim["id"] and i["restarts"] == 1
                                      and i["state"] == "serving"], 60)
            # The control process dies and comes back: it adopts the units as they run.
            before = status(file)
            os.kill(before["control_pid"], signal.SIGKILL)
            time.sleep(1.0)
            readopted = cli(file, "up", "--detach", timeout=120)
        assert again, service(file, "orders")["instances"]
        assert readopted.returncode == 0, readopted.stdout + readopted.stderr
        assert load.failures == [], load.failures[:5]
        assert load.total > 100 and set(load.versions) <= {"1.0.0", "2.0.0"}
        after = service(file, "orders")["instances"]
        assert {i["ref"] for i in after} == {i["ref"] for s in before["services"]
                                             if s["name"] == "orders" for i in s["instances"]}
        assert {i["version"] for i in after} == {"2.0.0"}
        running = systemd_host.run(units)
        assert all(i["details"]["unit"] in running for i in after), running
        assert running.count("active running") == 2, running
        logs = cli(file, "logs", "orders", "-n", "20")
        assert logs.returncode == 0 and "Started hotdeploy-shop-orders@orders-" in logs.stdout
    finally:
        cli(file, "down", timeout=90)
    assert "active running" not in systemd_host.run(units)
