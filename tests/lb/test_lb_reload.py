"""Reloads and shutdown with zero failed requests, under steady keep-alive load."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from pathlib import Path

from lbtools import SteadyLoad, free_port, get, seed_config, start_balancer


def test_ten_reloads_under_load_fail_no_request(three_backends, tmp_path: Path) -> None:
    a, b, c = three_backends
    port = free_port()
    two = seed_config("active-active.conf", f"127.0.0.1:{port}", [a.address, b.address])
    three = two.replace(f"server {b.address} max_fails=3 fail_timeout=30s;",
                        f"server {b.address} max_fails=3 fail_timeout=30s;\n"
                        f"      server {c.address} weight=2;")
    assert three != two
    balancer = start_balancer(tmp_path, two, port)
    try:
        with SteadyLoad(port, workers=4, max_requests=30000, max_seconds=30) as load:
            load.wait_for(200)
            for index in range(10):
                balancer.conf.write_text(three if index % 2 == 0 else two)
                before = load.result.ok + load.result.failed
                balancer.signal(signal.SIGHUP)
                load.wait_for(before + 150)
            after_last = load.result.ok
            load.wait_for(after_last + 200)
        assert load.result.failed == 0, load.result.errors
        assert load.result.ok > 1500
        # The last configuration (two servers) is the one in force.
        assert {get(port)[2] for _ in range(20)} == {b"a\n", b"b\n"}
        assert balancer.process.poll() is None
    finally:
        balancer.stop()


def test_invalid_reload_keeps_serving_old_configuration(three_backends, tmp_path: Path) -> None:
    a, b, _ = three_backends
    port = free_port()
    good = seed_config("active-active.conf", f"127.0.0.1:{port}", [a.address, b.address])
    balancer = start_balancer(tmp_path, good, port)
    try:
        balancer.conf.write_text(good.replace("events {}", "events {}\nbogus_directive;"))
        balancer.signal(signal.SIGHUP)
        time.sleep(0.5)
        assert {get(port)[2] for _ in range(10)} == {b"a\n", b"b\n"}
        assert 'unknown directive "bogus_directive"' in balancer.error_log()
    finally:
        balancer.stop()


def test_sigquit_lets_in_flight_request_finish(three_backends, tmp_path: Path) -> None:
    a, _, _ = three_backends
    port = free_port()
    config = seed_config("active-active.conf", f"127.0.0.1:{port}", [a.address, a.address])
    balancer = start_balancer(tmp_path, config, port)
    result: dict[str, object] = {}

    def slow_request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/slow?ms=800")
        response = conn.getresponse()
        result["status"] = response.status
        result["body"] = response.read()

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.3)
    balancer.signal(signal.SIGQUIT)
    thread.join(10)
    assert result == {"status": 200, "body": b"a\n"}
    assert balancer.process.wait(10) == 0
