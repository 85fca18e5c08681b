"""The systemd supervisor against a real systemd (PID 1 of a container on the machine's
network, its sshd on 127.0.0.4: see conftest.systemd_host): units installed, started, read,
crashed, restarted, adopted and stopped."""

from __future__ import annotations

import sys
import time

import pytest
from test_runtime_ssh import SHOP, spec, wait_get

from hotdeploy.orchestrator.releases import ReleaseSettings, ReleaseStore, SourceFilter
from hotdeploy.runtimes.base import InstanceSpec, RunState
from hotdeploy.runtimes.ssh import SshHost, SshRuntime, SshSettings

REMOTE = "/var/lib/hotdeploy-test/shop"


def runtime_for(host, supervisor: str = "auto") -> SshRuntime:
    return SshRuntime(SshSettings(
        hosts=(SshHost.parse(host.host),), remote_dir=REMOTE, python=sys.executable,
        identity_file=str(host.identity), known_hosts=str(host.known_hosts),
        supervisor=supervisor, project="shop", stop_grace=3.0,  # type: ignore[arg-type]
        extra_env=dict(host.env)))


async def wait_state(runtime: SshRuntime, handle, wanted: RunState, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while (state := await runtime.state(handle)) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return state


async def test_auto_runs_instances_as_units_of_the_template(systemd_host, tmp_path):
    runtime = runtime_for(systemd_host)
    first = await runtime.start(spec(tmp_path, "orders-1"))
    handles = [first]
    try:
        assert first.details["supervisor"] == "systemd" and first.details["scope"] == "system"
        unit = first.details["unit"]
        assert unit == "hotdeploy-shop-orders@orders-1.service"
        body = wait_get(f"http://{first.endpoint}/orders").json()
        assert body["version"] == "1.0.0"
        # systemd's view: the unit runs, its main process is the instance (sh exec'd it).
        shown = systemd_host.run(f"systemctl show -p ActiveState,MainPID {unit}")
        assert "ActiveState=active" in shown and f"MainPID={first.details['pid']}" in shown
        assert "hotdeploy.runtimes.host" in systemd_host.run(
            f"cat /proc/{first.details['pid']}/cmdline | tr '\\0' ' '")
        installed = systemd_host.run("cat /etc/systemd/system/hotdeploy-shop-orders@.service")
        assert "TimeoutStopSec=3s" in installed and "Restart=no" in installed
        assert any("Started" in line and "orders-1" in line
                   for line in await runtime.logs(first, 20))
        second = await runtime.start(spec(tmp_path, "orders-2"))
        handles.append(second)
        wait_get(f"http://{second.endpoint}/health")
        # A restarted control process adopts both units as they are.
        fresh = runtime_for(systemd_host)
        assert await fresh.adopt(runtime.record(second)) == second
        await fresh.close()

        # A crash: the unit fails, the instance reads exited; the same instance id starts
        # again (hotdeploy's restart: the failed unit is reset first).
        systemd_host.run(f"kill -KILL {first.details['pid']}")
        assert await wait_state(runtime, first, RunState.EXITED) == RunState.EXITED
        assert "ActiveState=failed" in systemd_host.run(f"systemctl show -p ActiveState {unit}")
        again = await runtime.start(spec(tmp_path, "orders-1"))
        handles.append(again)
        assert again.details["pid"] != first.details["pid"]
        wait_get(f"http://{again.endpoint}/health")
        assert await runtime.state(again) == RunState.RUNNING
    finally:
        for handle in handles:
            await runtime.stop(handle, 3.0)
    # Stopped through systemd; the instance's environment file went with it.
    assert [await runtime.state(h) for h in handles] == [RunState.EXITED] * len(handles)
    assert "ActiveState=inactive" in systemd_host.run(
        "systemctl show -p ActiveState hotdeploy-shop-orders@orders-2.service")
    assert systemd_host.run(f"ls {REMOTE}/instances").split() == []
    await runtime.close()


async def test_process_is_still_chosen_when_asked_on_a_systemd_host(systemd_host, tmp_path):
    runtime = runtime_for(systemd_host, supervisor="process")
    handle = await runtime.start(spec(tmp_path, "orders-1"))
    try:
        assert handle.details["supervisor"] == "process"
        wait_get(f"http://{handle.endpoint}/health")
        assert "hotdeploy-shop" not in systemd_host.run("systemctl list-units --all")
    finally:
        await runtime.stop(handle, 2.0)
        await runtime.close()


async def test_a_user_without_root_gets_user_units_in_its_own_manager(systemd_host, tmp_path):
    """`hd` (lingering on) has no rights on the system manager: its template goes to
    ~/.config/systemd/user and `systemctl --user` drives it. A `command` service needs only
    the host's own python3 (this test's interpreter is root's, out of hd's reach)."""
    manager = "systemctl is-active user@$(id -u hd).service"
    deadline = time.monotonic() + 20
    while (state := systemd_host.run(manager).strip()) not in ("active", "failed") \
            and time.monotonic() < deadline:
        time.sleep(0.3)
    if state != "active":
        # On a machine with cgroup v1 the container's user managers cannot start (they need
        # a delegated cgroup subtree); with cgroup v2 they do.
        pytest.skip(f"hd's user manager is {state!r} in this container: "
                    f"{systemd_host.run('systemctl status user@$(id -u hd) | tail -3')}")
    host = systemd_host.host.replace("root@", "hd@")
    runtime = SshRuntime(SshSettings(
        hosts=(SshHost.parse(host),), remote_dir="/home/hd/shop", python="python3",
        identity_file=str(systemd_host.identity), known_hosts=str(systemd_host.known_hosts),
        project="shop", stop_grace=3.0))
    store = ReleaseStore(tmp_path / "releases")
    release = store.build("orders", SourceFilter(SHOP), ReleaseSettings(
        health="/", command="python3 -m http.server {port} --bind 0.0.0.0"), "1.0.0").release
    handle = await runtime.start(InstanceSpec("shop", "orders", "orders-1", release, "/"))
    try:
        assert (handle.details["supervisor"], handle.details["scope"]) == ("systemd", "user")
        wait_get(f"http://{handle.endpoint}/")
        assert "hotdeploy-shop-orders@.service" in systemd_host.run(
            "ls /home/hd/.config/systemd/user")
        as_hd = "runuser -u hd -- env XDG_RUNTIME_DIR=/run/user/$(id -u hd) systemctl --user"
        assert "ActiveState=active" in systemd_host.run(
            f"{as_hd} show -p ActiveState {handle.details['unit']}")
        assert "hotdeploy" not in systemd_host.run("ls /etc/systemd/system")
        assert await runtime.state(handle) == RunState.RUNNING
        await runtime.logs(handle, 5)  # the user's journal: empty unless it is persistent
    finally:
        await runtime.stop(handle, 3.0)
        await runtime.close()
    assert await runtime.state(handle) == RunState.EXITED
