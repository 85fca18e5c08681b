"""The SSH runtime against real sshd "hosts" on 127.0.0.2 and 127.0.0.3 (loopback only)."""

from __future__ import annotations

import socket
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from hotdeploy.orchestrator.releases import ReleaseSettings, ReleaseStore, SourceFilter
from hotdeploy.runtimes.base import InstanceSpec, RunState
from hotdeploy.runtimes.ssh import HostError, SshHost, SshRuntime, SshSettings

SHOP = Path(__file__).resolve().parents[3] / "examples" / "shop"


def runtime_for(hosts, tmp_path, known_hosts=None) -> SshRuntime:
    return SshRuntime(SshSettings(
        hosts=tuple(SshHost.parse(h) for h in hosts.hosts), remote_dir=str(tmp_path / "remote"),
        python=sys.executable, identity_file=str(hosts.identity),
        known_hosts=str(known_hosts or hosts.known_hosts)))


def spec(tmp_path, instance_id: str, version: str = "1.0.0") -> InstanceSpec:
    store = ReleaseStore(tmp_path / "releases")
    release = store.build("orders", SourceFilter(SHOP),
                          ReleaseSettings(health="/health", app="orders.api:app"), version)
    return InstanceSpec("shop", "orders", instance_id, release.release, "/health")


def wait_get(url: str, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=1.0, trust_env=False)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_instances_spread_over_the_hosts_and_answer_on_their_address(ssh_hosts,
                                                                          tmp_path):
    runtime = runtime_for(ssh_hosts, tmp_path)
    handles = [await runtime.start(spec(tmp_path, f"orders-{n}")) for n in range(1, 5)]
    try:
        assert Counter(h.endpoint.host for h in handles) == {"127.0.0.2": 2, "127.0.0.3": 2}
        for handle in handles:
            body = wait_get(f"http://{handle.endpoint}/orders").json()
            assert body["version"] == "1.0.0"
            assert await runtime.state(handle) == RunState.RUNNING
        assert any("start orders-1" in line for line in await runtime.logs(handles[0], 5))
        # The release went to each host once, whole, with its digest.
        for address in ("127.0.0.2", "127.0.0.3"):
            how = runtime.settings("orders")
            host = next(h for h in how.hosts if h.host == address)
            listing = await runtime.connections.run(host, how,
                                                    f"ls {tmp_path}/remote/releases/orders")
            assert listing.split() == ["1.0.0"]
        # A restarted control process adopts what runs.
        fresh = runtime_for(ssh_hosts, tmp_path)
        assert await fresh.adopt(runtime.record(handles[0])) == handles[0]
        await fresh.close()
    finally:
        for handle in handles:
            await runtime.stop(handle, 2.0)
        await runtime.close()
    assert [await runtime.state(h) for h in handles] == [RunState.EXITED] * 4


async def test_a_lost_host_fails_a_deploys_instance_naming_it_and_restarts_go_elsewhere(
        ssh_hosts, tmp_path):
    runtime = runtime_for(ssh_hosts, tmp_path)
    first = await runtime.start(spec(tmp_path, "orders-1"))
    second = await runtime.start(spec(tmp_path, "orders-2"))
    handles = [first, second]
    try:
        assert (first.endpoint.host, second.endpoint.host) == ("127.0.0.2", "127.0.0.3")
        # Its sshd, its sessions (the runtime's open connection among them) and its
        # processes are gone, as when a VM dies.
        ssh_hosts.lose(1)
        runtime._states.clear()
        assert await runtime.state(second) == RunState.EXITED
        assert await runtime.state(first) == RunState.RUNNING
        handles.append(await runtime.start(spec(tmp_path, "orders-3")))  # 127.0.0.2's turn
        # 127.0.0.3's turn: a deploy's instance fails, naming the host ...
        with pytest.raises(HostError, match=r"127\.0\.0\.3:\d+: cannot connect"):
            await runtime.start(spec(tmp_path, "orders-4"))
        # ... a restart (or a rollback's replacement) goes to the host that answers.
        moved = await runtime.start(replace(spec(tmp_path, "orders-4"), relocatable=True))
        handles.append(moved)
        assert moved.endpoint.host == "127.0.0.2"
        wait_get(f"http://{moved.endpoint}/health")
    finally:
        for handle in handles:
            await runtime.stop(handle, 2.0)
        await runtime.close()
    assert [await runtime.state(h) for h in handles] == [RunState.EXITED] * 4


async def test_an_unknown_host_key_is_refused_naming_the_host_and_its_fingerprint(
        ssh_hosts, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text("")
    runtime = runtime_for(ssh_hosts, tmp_path, known_hosts=other)
    with pytest.raises(HostError) as failure:
        await runtime.start(spec(tmp_path, "orders-1"))
    message = str(failure.value)
    assert "127.0.0.2" in message or "127.0.0.3" in message
    assert "SHA256:" in message
    await runtime.close()


async def test_a_host_that_answers_nothing_costs_one_connect_timeout_not_one_per_look(
        monkeypatch):
    """A VM that is gone may drop packets instead of refusing them: here, a socket that
    accepts TCP connections on 127.0.0.5 but never says a word of SSH."""
    from hotdeploy.runtimes.base import Endpoint, Handle
    from hotdeploy.runtimes.ssh import connection

    monkeypatch.setattr(connection, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.5", 0))
        silent.listen(16)
        label = f"root@127.0.0.5:{silent.getsockname()[1]}"
        runtime = SshRuntime(SshSettings(hosts=(SshHost.parse(label),), remote_dir="/x"))
        handles = [Handle("ssh", f"{pid}@{label}", Endpoint("127.0.0.5", 9000 + pid),
                          {"host": label, "pid": str(pid), "supervisor": "process"})
                   for pid in (101, 102, 103, 104)]
        started = time.monotonic()
        assert [await runtime.state(h) for h in handles] == [RunState.EXITED] * 4
        await runtime.stop(handles[0], 1.0)
        assert time.monotonic() - started < 2.5  # one timeout, then the failure is reused
        with pytest.raises(HostError, match=r"127\.0\.0\.5:\d+: cannot connect"):
            await runtime.logs(handles[1], 5)
        await runtime.close()
