"""`worker_processes N`: a master and N real worker processes on loopback, sharing upstream
state through the zone. Each test is bounded (requests and seconds)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from lbtools import SteadyLoad, children_of, free_port, get, start_balancer, wait_children

SYNC = 0.3  # > several zone ticks (ZONE_SYNC_INTERVAL): time for state to reach every worker
API = "/api/9/http/upstreams/backend"


def _config(port: int, servers: str, workers: int = 2, zone: bool = True,
            api_port: int | None = None) -> str:
    api = (f"server {{ listen 127.0.0.1:{api_port}; location /api {{ api write=on; }} "
           "location = /metrics { metrics; } }"
           if api_port else "")
    return f"""
worker_processes {workers};
error_log logs/error.log notice;
events {{}}
http {{
   log_format workers '$pid $upstream_addr $status';
   access_log logs/access.log workers;
   upstream backend {{
      {"zone backend 64k;" if zone else ""}
      {servers}
   }}
   server {{
      listen 127.0.0.1:{port};
      location / {{ proxy_pass http://backend; }}
   }}
   {api}
}}
"""


def _access(prefix: Path) -> list[tuple[str, str, str]]:
    """(worker pid, upstream address, status) of every proxied request (not the API's)."""
    path = prefix / "logs" / "access.log"
    if not path.exists():
        return []
    lines = [line.split(" ", 2) for line in path.read_text().splitlines()]
    return [(pid, addr, status) for pid, addr, status in lines if addr != "-"]


def _spread_requests(port: int, count: int) -> list[int]:
    """`count` requests, each over a new connection (so each may land on any worker)."""
    return [get(port)[0] for _ in range(count)]


class ClosingBackend:
    """A server that accepts and closes at once (a failed attempt for the balancer) and
    counts the connections it got."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def closing_backend():
    backend = ClosingBackend()
    yield backend
    backend.close()


def test_new_connections_reach_several_workers_and_logs_name_them(three_backends,
                                                                  tmp_path: Path) -> None:
    a, b, _ = three_backends
    port = free_port()
    balancer = start_balancer(tmp_path, _config(port, f"server {a.address}; server {b.address};"),
                              port)
    try:
        master = balancer.process.pid
        workers = wait_children(master, 2)
        assert int(balancer.pid_path.read_text()) == master  # the pid file names the master
        assert set(_spread_requests(port, 60)) == {200}
        served_by = {int(pid) for pid, _, _ in _access(tmp_path)}
        assert served_by == workers, (served_by, workers)  # `$pid` is the worker's
        # The master's error log lines carry its pid, and it logged each worker's start.
        log = balancer.error_log()
        for worker in workers:
            assert f"] {master}#0: start worker process {worker}" in log
    finally:
        assert balancer.stop() == 0
    assert not any(Path(f"/proc/{w}").exists() for w in workers)


def test_worker_processes_one_is_the_single_process(three_backends, tmp_path: Path) -> None:
    a, _, _ = three_backends
    port = free_port()
    balancer = start_balancer(tmp_path, _config(port, f"server {a.address};", workers=1), port)
    try:
        assert children_of(balancer.process.pid) == set()
        assert get(port)[0] == 200
        assert {int(pid) for pid, _, _ in _access(tmp_path)} == {balancer.process.pid}
    finally:
        balancer.stop()


@pytest.mark.parametrize("zone", [True, False])
def test_server_failed_in_one_worker_gets_no_traffic_from_any(three_backends, closing_backend,
                                                              tmp_path: Path, zone: bool) -> None:
    a, _, _ = three_backends
    port = free_port()
    servers = f"server {a.address}; server {closing_backend.address} max_fails=1 fail_timeout=30s;"
    balancer = start_balancer(tmp_path, _config(port, servers, zone=zone), port)
    try:
        wait_children(balancer.process.pid, 2)
        for _ in range(10):  # until one worker has tried the closing server once
            assert get(port)[0] == 200  # the failed attempt is passed to the next server
            if closing_backend.accepted:
                break
        assert closing_backend.accepted == 1
        time.sleep(SYNC)
        assert set(_spread_requests(port, 40)) == {200}
        served_by = {pid for pid, _, _ in _access(tmp_path)}
        assert len(served_by) == 2  # both workers served
        # The failed attempt's error line is the worker's, named as nginx names it.
        assert any(f"[error] {pid}#0: *" in balancer.error_log() for pid in served_by)
        if zone:
            # Shared through the zone: no other worker tries it during fail_timeout.
            assert closing_backend.accepted == 1
        else:
            # nginx without `zone`: each worker keeps its own failure count, so the other
            # worker tried it once too.
            assert closing_backend.accepted == 2
    finally:
        balancer.stop()


def test_api_drain_and_counts_apply_to_all_workers(three_backends, tmp_path: Path) -> None:
    a, b, _ = three_backends
    port, api_port = free_port(), free_port()
    config = _config(port, f"server {a.address}; server {b.address};", api_port=api_port)
    balancer = start_balancer(tmp_path, config, port)
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)
    try:
        wait_children(balancer.process.pid, 2)
        ids = {p["server"]: p["id"] for p in api.get(API).json()["peers"]}
        # One worker answers the PATCH; all must stop sending to `a`.
        patched = api.patch(f"{API}/servers/{ids[a.address]}", json={"drain": True})
        assert patched.status_code == 200 and patched.json()["drain"] is True
        time.sleep(SYNC)
        assert set(_spread_requests(port, 40)) == {200}
        lines = _access(tmp_path)
        assert {addr for _, addr, _ in lines} == {b.address}
        assert len({pid for pid, _, _ in lines}) == 2
        time.sleep(SYNC)
        # Whichever worker answers, the API reports the drain and every worker's requests.
        for _ in range(6):
            with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as fresh:
                peers = {p["server"]: p for p in fresh.get(API).json()["peers"]}
            assert peers[a.address]["state"] == "draining"
            assert peers[b.address]["requests"] == 40
            assert peers[a.address]["requests"] == 0
            with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as fresh:
                metrics = fresh.get("/metrics").text
            assert (f'hotdeploy_upstream_server_requests_total{{id="{ids[b.address]}",'
                    f'server="{b.address}",upstream="backend"}} 40.0') in metrics
        # Undrain through the API again: traffic to `a` comes back in every worker.
        assert api.patch(f"{API}/servers/{ids[a.address]}", json={"drain": False}).is_success
        time.sleep(SYNC)
        before = len(_access(tmp_path))
        _spread_requests(port, 20)
        assert a.address in {addr for _, addr, _ in _access(tmp_path)[before:]}
    finally:
        api.close()
        balancer.stop()


def test_killed_worker_is_replaced_losing_only_its_requests(three_backends,
                                                            tmp_path: Path) -> None:
    a, b, _ = three_backends
    port = free_port()
    balancer = start_balancer(tmp_path, _config(port, f"server {a.address}; server {b.address};"),
                              port)
    try:
        master = balancer.process.pid
        first = wait_children(master, 2)
        victim = min(first)
        with SteadyLoad(port, workers=4, max_requests=4000, max_seconds=20) as load:
            load.wait_for(300)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while children_of(master) in (first, first - {victim}) and time.monotonic() < deadline:
                time.sleep(0.02)
            replaced = wait_children(master, 2) - first
            assert len(replaced) == 1 and victim not in children_of(master)
            done = load.result.ok + load.result.failed
            load.wait_for(done + 300)
        # At most the killed worker's connections (4 client threads, one connection each)
        # lost a request; everything else was served.
        assert load.result.failed <= 4, load.result.errors
        assert load.result.ok > 500
        assert f"worker process {victim} exited on signal 9" in balancer.error_log()
        new = replaced.pop()
        _spread_requests(port, 30)
        assert str(new) in {pid for pid, _, _ in _access(tmp_path)}
    finally:
        balancer.stop()


def test_ten_reloads_under_load_with_two_workers_fail_no_request(three_backends,
                                                                 tmp_path: Path) -> None:
    a, b, c = three_backends
    port = free_port()
    two = _config(port, f"server {a.address}; server {b.address};")
    three = _config(port, f"server {a.address}; server {b.address}; server {c.address};")
    balancer = start_balancer(tmp_path, two, port)
    try:
        workers = wait_children(balancer.process.pid, 2)
        with SteadyLoad(port, workers=4, max_requests=30000, max_seconds=30) as load:
            load.wait_for(200)
            for index in range(10):
                balancer.conf.write_text(three if index % 2 == 0 else two)
                before = load.result.ok + load.result.failed
                balancer.signal(signal.SIGHUP)
                load.wait_for(before + 150)
            load.wait_for(load.result.ok + 200)
        assert load.result.failed == 0, load.result.errors
        assert load.result.ok > 1500
        # Reloaded in place: the same workers, now with the last configuration.
        assert children_of(balancer.process.pid) == workers
        assert {get(port)[2] for _ in range(20)} == {b"a\n", b"b\n"}
        assert balancer.error_log().count("reconfiguring done") >= 10
    finally:
        balancer.stop()


def test_reload_binds_a_new_address_for_every_worker(three_backends, tmp_path: Path) -> None:
    a, _, _ = three_backends
    port, second = free_port(), free_port()
    config = _config(port, f"server {a.address};")
    balancer = start_balancer(tmp_path, config, port)
    try:
        wait_children(balancer.process.pid, 2)
        balancer.conf.write_text(config.replace(
            f"listen 127.0.0.1:{port};", f"listen 127.0.0.1:{port}; listen 127.0.0.1:{second};"))
        balancer.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reconfiguring done" not in balancer.error_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(SYNC)
        assert set(_spread_requests(second, 40)) == {200}
        on_second = {pid for pid, _, _ in _access(tmp_path)}
        assert len(on_second) == 2  # both workers accept on the address bound after the fork
    finally:
        balancer.stop()


def test_sigquit_drains_every_worker(three_backends, tmp_path: Path) -> None:
    a, _, _ = three_backends
    port = free_port()
    balancer = start_balancer(tmp_path, _config(port, f"server {a.address};"), port)
    results: list[tuple[int, bytes]] = []

    def slow_request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/slow?ms=800")
        response = conn.getresponse()
        results.append((response.status, response.read()))
        conn.close()

    try:
        workers = wait_children(balancer.process.pid, 2)
        threads = [threading.Thread(target=slow_request) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        balancer.signal(signal.SIGQUIT)
        for thread in threads:
            thread.join(10)
        assert results == [(200, b"a\n")] * 6
        assert balancer.process.wait(10) == 0
        assert not any(Path(f"/proc/{w}").exists() for w in workers)
        assert not balancer.pid_path.exists()
    finally:
        balancer.stop()


def test_signal_flags_reach_the_master_and_reload_changes_the_worker_count(
        three_backends, tmp_path: Path) -> None:
    from lbtools import run_lb

    a, _, _ = three_backends
    port = free_port()
    two = _config(port, f"server {a.address};")
    balancer = start_balancer(tmp_path, two, port)
    try:
        master = balancer.process.pid
        first = wait_children(master, 2)
        balancer.conf.write_text(two.replace("worker_processes 2;", "worker_processes 3;"))
        args = ("-p", str(tmp_path), "-c", str(balancer.conf))
        assert run_lb(*args, "-s", "reload").returncode == 0
        grown = wait_children(master, 3)
        assert first < grown  # the two workers stay (reloaded in place); one is added
        assert set(_spread_requests(port, 10)) == {200}
        balancer.conf.write_text(two)
        assert run_lb(*args, "-s", "reload").returncode == 0
        assert wait_children(master, 2) == first  # the third retires gracefully
        assert run_lb(*args, "-s", "quit").returncode == 0
        assert balancer.process.wait(10) == 0
    finally:
        balancer.stop()


class CountingHealthBackend:
    """An HTTP backend that counts `/health` probes and answers them with `health_status`."""

    def __init__(self, name: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self
        self.probes = 0
        self.health_status = 200

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status = 200
                if self.path.startswith("/health"):
                    owner.probes += 1
                    status = owner.health_status
                body = name.encode() + b"\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_health_checks_run_once_and_their_verdict_reaches_every_worker(tmp_path: Path) -> None:
    a, b = CountingHealthBackend("a"), CountingHealthBackend("b")
    port = free_port()
    config = _config(port, f"server {a.address}; server {b.address};", workers=3).replace(
        "location / { proxy_pass http://backend; }",
        "location / { proxy_pass http://backend; health_check uri=/health interval=200ms; }")
    balancer = start_balancer(tmp_path, config, port)
    try:
        wait_children(balancer.process.pid, 3)
        time.sleep(0.5)
        start = a.probes
        time.sleep(2.0)
        probes = a.probes - start
        # One checker (worker 0) probes every 200 ms: about 10 in 2 s; three would make ~30.
        assert 6 <= probes <= 14, probes
        a.health_status = 503
        time.sleep(0.4 + SYNC)  # one failed probe (fails=1), then one zone tick
        assert set(_spread_requests(port, 40)) == {200}
        lines = _access(tmp_path)
        assert {addr for _, addr, _ in lines} == {b.address}
        assert len({pid for pid, _, _ in lines}) >= 2
    finally:
        balancer.stop()
        a.close()
        b.close()
