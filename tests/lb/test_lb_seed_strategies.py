"""The seed's three strategies, run through a real `hotdeploy lb` process with real backends.

Only addresses are substituted in the seed configurations (ports 80 are not ours to take);
`fail_timeout` is shortened where a test waits for it to pass.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from lbtools import SteadyLoad, free_port, get, seed_config, start_backend, start_balancer


@pytest.fixture
def backends():
    started = []

    def start(name: str, host: str = "127.0.0.1", port: int = 0, env=None):
        backend = start_backend(name, host, port, env)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.kill()


@pytest.fixture
def balancer_factory(tmp_path: Path):
    started = []

    def start(config_text: str, port: int):
        balancer = start_balancer(tmp_path, config_text, port)
        started.append(balancer)
        return balancer

    yield start
    for balancer in started:
        balancer.stop()


def test_active_active_round_robin_splits_evenly(backends, balancer_factory) -> None:
    a, b = backends("a", "127.0.0.1"), backends("b", "127.0.0.2")
    port = free_port()
    balancer_factory(seed_config("active-active.conf", f"127.0.0.1:{port}",
                                 [a.address, b.address]), port)
    seen = [get(port)[2] for _ in range(40)]
    # Smooth weighted round robin with equal weights alternates strictly.
    assert Counter(seen) == {b"a\n": 20, b"b\n": 20}
    assert all(seen[i] != seen[i + 1] for i in range(len(seen) - 1))


def test_active_active_refusing_backend_is_taken_out_and_clients_see_no_error(
        backends, balancer_factory) -> None:
    a, b = backends("a", "127.0.0.1"), backends("b", "127.0.0.2")
    port = free_port()
    # nginx logs "temporarily disabled" at [warn], below the default `error` level.
    config = "error_log logs/error.log warn;\n" + seed_config(
        "active-active.conf", f"127.0.0.1:{port}", [a.address, b.address])
    balancer = balancer_factory(config, port)
    b.kill()  # connections to b are now refused
    # One client, so the failure count is deterministic (no two requests race to b).
    with SteadyLoad(port, workers=1, max_requests=200, max_seconds=20, post=False) as load:
        load.wait_for(load.max_requests, timeout=20)
    assert load.result.failed == 0, load.result.errors
    assert load.result.by_backend == {"a": 200}
    log = balancer.error_log()
    # max_fails=3 within fail_timeout=30s: three refused attempts, then b is out for 30 s.
    assert log.count("connect() failed (111: Connection refused) while connecting to upstream") == 3
    assert "upstream server temporarily disabled" in log


def _resetting_server(host: str) -> tuple[socket.socket, int]:
    """Accepts connections and resets them at once (RST via SO_LINGER 0)."""
    server = socket.socket()
    server.bind((host, 0))
    server.listen(64)

    def run() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.recv(65536)
            conn.close()

    threading.Thread(target=run, daemon=True).start()
    return server, server.getsockname()[1]


def test_active_active_resetting_backend_retried_for_idempotent_requests(
        backends, balancer_factory) -> None:
    a = backends("a", "127.0.0.1")
    resetter, reset_port = _resetting_server("127.0.0.2")
    try:
        port = free_port()
        balancer_factory(seed_config("active-active.conf", f"127.0.0.1:{port}",
                                     [a.address, f"127.0.0.2:{reset_port}"]), port)
        with SteadyLoad(port, workers=2, max_requests=100, max_seconds=20, post=False) as load:
            load.wait_for(load.max_requests, timeout=20)
        assert load.result.failed == 0, load.result.errors
        assert load.result.by_backend == {"a": 100}
    finally:
        resetter.close()


def test_active_passive_backup_takes_over_and_hands_back(backends, balancer_factory) -> None:
    primary = backends("primary", "127.0.0.1")
    backup = backends("backup", "127.0.0.2")
    port = free_port()
    balancer_factory(seed_config("active-passive.conf", f"127.0.0.1:{port}",
                                 [primary.address, backup.address], fail_timeout="1s"), port)
    assert {get(port)[2] for _ in range(10)} == {b"primary\n"}

    primary_port = primary.port
    primary.kill()
    with SteadyLoad(port, workers=2, max_requests=100, max_seconds=20, post=False) as load:
        load.wait_for(load.max_requests, timeout=20)
    assert load.result.failed == 0, load.result.errors
    assert load.result.by_backend == {"backup": 100}

    backends("primary", "127.0.0.1", primary_port)  # the primary comes back on its address
    time.sleep(1.2)  # fail_timeout passes: one probe request goes to the primary
    deadline = time.monotonic() + 5
    answers = []
    while time.monotonic() < deadline:
        answers.append(get(port)[2])
        if answers[-5:] == [b"primary\n"] * 5:
            break
    assert answers[-5:] == [b"primary\n"] * 5, answers


def test_active_active_health_seed_checks_every_5s_without_traffic(
        backends, balancer_factory, tmp_path: Path) -> None:
    health_file = tmp_path / "b-health"
    a = backends("a", "127.0.0.1")
    b = backends("b", "127.0.0.2", env={"BACKEND_HEALTH_FILE": str(health_file)})
    port = free_port()
    balancer_factory(seed_config("active-active-health.conf", f"127.0.0.1:{port}",
                                 [a.address, b.address]), port)
    assert Counter(get(port)[2] for _ in range(10)) == {b"a\n": 5, b"b\n": 5}
    health_file.write_text("503")
    time.sleep(5.5)  # one interval (5 s) with no client traffic at all
    assert {get(port)[2] for _ in range(10)} == {b"a\n"}
    health_file.write_text("200")
    time.sleep(5.5)  # passes=1: back after one good check
    assert Counter(get(port)[2] for _ in range(10)) == {b"a\n": 5, b"b\n": 5}
