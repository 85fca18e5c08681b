"""limit_req / limit_conn zones with `worker_processes 2`: both workers count in the same zone,
as nginx's shared memory zones do. Real master, workers and backend on loopback; each test is
bounded (requests and seconds)."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from lbtools import children_of, free_port, get, start_balancer, wait_children

pytestmark = pytest.mark.timeout(90)


def _config(port: int, backend: str, location: str, http_extra: str) -> str:
    return f"""
worker_processes 2;
error_log logs/error.log notice;
events {{}}
http {{
   log_format limits '$pid $status';
   access_log logs/access.log limits;
   {http_extra}
   server {{
      listen 127.0.0.1:{port};
      location / {{
         {location}
         proxy_pass http://{backend};
      }}
   }}
}}
"""


def _served(prefix: Path) -> list[tuple[int, int]]:
    """(worker pid, status) of every logged request."""
    path = prefix / "logs" / "access.log"
    if not path.exists():
        return []
    return [(int(pid), int(status))
            for pid, status in (line.split() for line in path.read_text().splitlines())]


def _wait_logged(prefix: Path, count: int, timeout: float = 10.0) -> list[tuple[int, int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _served(prefix)
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{len(_served(prefix))} requests logged, wanted {count}")


def test_limit_req_burst_is_shared_by_both_workers(three_backends, tmp_path: Path) -> None:
    port = free_port()
    config = _config(port, three_backends[0].address, "limit_req zone=one burst=3 nodelay;",
                     "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;")
    balancer = start_balancer(tmp_path, config, port)
    try:
        workers = wait_children(balancer.process.pid, 2)
        statuses = [get(port)[0] for _ in range(20)]  # each on a new connection
        lines = _wait_logged(tmp_path, 20)
    finally:
        balancer.stop()
    assert sorted(statuses) == [200] * 4 + [503] * 16, statuses
    assert {pid for pid, _ in lines} == workers  # both workers served and counted
    assert sorted(status for _, status in lines) == [200] * 4 + [503] * 16


def _concurrent(port: int, path: str, count: int) -> list[int]:
    """`count` requests at once, each on its own new connection."""
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            start.wait(5)
            conn.request("GET", path)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = -1
        finally:
            conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return statuses


def test_limit_conn_one_holds_across_both_workers(three_backends, tmp_path: Path) -> None:
    port = free_port()
    config = _config(port, three_backends[0].address, "limit_conn addr 1;",
                     "limit_conn_zone $binary_remote_addr zone=addr:1m;")
    balancer = start_balancer(tmp_path, config, port)
    try:
        workers = wait_children(balancer.process.pid, 2)
        statuses = _concurrent(port, "/slow?ms=3000", 12)
        lines = _wait_logged(tmp_path, 12)
        # The count was given back: the next request passes, whichever worker takes it.
        after = [get(port, "/slow?ms=1")[0] for _ in range(4)]
    finally:
        balancer.stop()
    assert sorted(statuses) == [200] + [503] * 11, statuses
    assert {pid for pid, _ in lines} == workers  # both workers refused with the same count
    assert after == [200] * 4


def test_a_killed_workers_limit_conn_counts_are_given_back(three_backends,
                                                          tmp_path: Path) -> None:
    port = free_port()
    config = _config(port, three_backends[0].address, "limit_conn addr 1;",
                     "limit_conn_zone $binary_remote_addr zone=addr:1m;")
    balancer = start_balancer(tmp_path, config, port)
    try:
        workers = wait_children(balancer.process.pid, 2)
        deadline = time.monotonic() + 20
        slow: threading.Thread | None = None
        while True:
            if slow is None or not slow.is_alive():
                # (Again if it met a probe holding the count and was refused.)
                slow = threading.Thread(target=_concurrent, args=(port, "/slow?ms=20000", 1),
                                        daemon=True)
                slow.start()
                time.sleep(0.2)
            if get(port, "/slow?ms=1")[0] == 503:  # the slow request holds the count
                break
            assert time.monotonic() < deadline, "the slow request never held the count"
            time.sleep(0.05)
        for pid in workers:  # the holder is one of them: kill both, no request can leave
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while children_of(balancer.process.pid) & workers or len(
                children_of(balancer.process.pid)) < 2:
            assert time.monotonic() < deadline, "the killed workers were not replaced"
            time.sleep(0.05)
        while True:
            try:
                if get(port, "/slow?ms=1")[0] == 200:
                    break
            except OSError:
                pass  # a replacement not yet listening
            assert time.monotonic() < deadline, "the dead worker's count was kept"
            time.sleep(0.05)
        error_log = balancer.error_log()
    finally:
        balancer.stop()
    assert "released 1 limit_conn counts of worker" in error_log


def _reload(balancer, text: str, done: int) -> None:
    """Write the configuration, SIGHUP, wait for the master and both workers to finish."""
    balancer.conf.write_text(text)
    balancer.signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while balancer.error_log().count("reconfiguring done") < 3 * done:
        assert time.monotonic() < deadline, "the reload did not finish"
        time.sleep(0.05)


def test_a_reload_keeps_the_shared_states_unless_the_size_changes(three_backends,
                                                                  tmp_path: Path) -> None:
    port = free_port()
    config = _config(port, three_backends[0].address, "limit_req zone=one burst=3 nodelay;",
                     "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;")
    balancer = start_balancer(tmp_path, config, port)
    try:
        wait_children(balancer.process.pid, 2)
        first = [get(port)[0] for _ in range(6)]
        _reload(balancer, config + "# same zones\n", 1)
        kept = [get(port)[0] for _ in range(6)]
        _reload(balancer, config.replace("zone=one:1m", "zone=one:2m"), 2)
        resized = [get(port)[0] for _ in range(6)]
    finally:
        balancer.stop()
    assert first == [200] * 4 + [503] * 2
    assert kept == [503] * 6  # the same states, in both workers
    assert resized == [200] * 4 + [503] * 2  # a new size: an empty zone
