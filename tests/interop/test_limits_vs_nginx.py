"""limit_req and limit_conn through real nginx and through `hotdeploy lb` on one configuration:
the same statuses for the same burst of requests, the same delays (within timing tolerance),
and the same error log messages."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    log_format limits "$status $limit_req_status $limit_conn_status";
    access_log logs/access.log limits;
    limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;
    limit_req_zone $binary_remote_addr zone=fast:1m rate=10r/s;
    limit_req_zone $http_x_key zone=keyed:1m rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=conns:1m;
    upstream up { server 127.0.0.1:{backend}; }
    server {
        listen 127.0.0.1:{port};
        location /nodelay/ { limit_req zone=slow burst=3 nodelay; proxy_pass http://up; }
        location /delay/ { limit_req zone=fast burst=2; proxy_pass http://up; }
        location /status/ {
            limit_req zone=keyed; limit_req_status 429; limit_req_log_level warn;
            proxy_pass http://up;
        }
        location /dry/ { limit_req zone=keyed; limit_req_dry_run on; proxy_pass http://up; }
        location /conn/ { limit_conn conns 1; proxy_pass http://up; }
        location /conn-dry/ { limit_conn conns 1; limit_conn_dry_run on; proxy_pass http://up; }
    }
}
"""


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("limits"), CONF)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def _statuses(port: int, path: str, count: int, headers: str = "") -> list[int]:
    return [p.get(port, path, headers)[0] for _ in range(count)]


def _concurrent(port: int, paths: list[str]) -> list[tuple[int, float]]:
    """All requests at once: (status, seconds until the answer) per request."""
    results: list[tuple[int, float]] = [(0, 0.0)] * len(paths)
    start = time.monotonic()

    def one(i: int) -> None:
        results[i] = (p.get(port, paths[i])[0], time.monotonic() - start)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def _wait_log(proxy: p.Proxy, marker: str, count: int) -> list[str]:
    deadline = time.monotonic() + 3
    while True:
        found = p.log_messages(proxy.error_log, marker)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _same_messages(got: list[str], expected: list[str], tolerance: float = 0.1) -> None:
    """Equal messages, except that each `excess: N.NNN` may differ by timing (milliseconds
    between the requests drain the bucket a little)."""
    excess = re.compile(r"excess: (\d+\.\d+)")
    assert [excess.sub("excess: X", m) for m in got] == [excess.sub("excess: X", m)
                                                         for m in expected]
    for mine, theirs in zip(got, expected, strict=True):
        for a, b in zip(excess.findall(mine), excess.findall(theirs), strict=True):
            assert abs(float(a) - float(b)) <= tolerance, (mine, theirs)


def test_burst_nodelay_passes_burst_plus_one_then_503_like_nginx(proxies):
    seen = {proxy.name: _statuses(proxy.port, "/nodelay/x", 8) for proxy in proxies}
    assert seen["nginx"] == [200, 200, 200, 200, 503, 503, 503, 503]
    assert seen["hotdeploy"] == seen["nginx"]
    messages = {proxy.name: _wait_log(proxy, "limiting requests", 4) for proxy in proxies}
    _same_messages(messages["hotdeploy"], messages["nginx"])
    assert messages["nginx"][0].startswith('[error] limiting requests, excess: ')


def test_burst_without_nodelay_delays_at_the_rate_like_nginx(proxies):
    timings = {}
    for proxy in proxies:
        time.sleep(0.5)  # the zone drains between the two runs (10r/s, burst 2)
        timings[proxy.name] = sorted(_concurrent(proxy.port, ["/delay/x"] * 4))
    for name, results in timings.items():
        statuses = [status for status, _ in results]
        assert sorted(statuses) == [200, 200, 200, 503], name
    # One request at once, then one per 100 ms: the last delayed one answers after ~200 ms.
    slowest = {name: max(t for s, t in results if s == 200) for name, results in timings.items()}
    assert 0.15 <= slowest["nginx"] < 0.6
    assert abs(slowest["hotdeploy"] - slowest["nginx"]) < 0.15
    for proxy in proxies:
        delayed = _wait_log(proxy, "delaying request", 2)
        assert len(delayed) == 2 and delayed[0].startswith("[warn] delaying request, excess: ")


def test_limit_req_status_and_log_level_like_nginx(proxies):
    for proxy in proxies:
        statuses = _statuses(proxy.port, "/status/x", 2, "X-Key: a\r\n")
        assert statuses == [200, 429], proxy.name
        # The empty key is not accounted: requests without X-Key are never limited.
        assert _statuses(proxy.port, "/status/x", 3) == [200, 200, 200], proxy.name
    messages = {proxy.name: _wait_log(proxy, 'by zone "keyed"', 1) for proxy in proxies}
    _same_messages(messages["hotdeploy"], messages["nginx"])
    assert messages["nginx"][0].startswith("[warn] limiting requests, excess: ")


def test_dry_run_passes_and_logs_like_nginx(proxies):
    for proxy in proxies:
        assert _statuses(proxy.port, "/dry/x", 3, "X-Key: dry\r\n") == [200, 200, 200]
    messages = {proxy.name: _wait_log(proxy, "dry run", 2) for proxy in proxies}
    _same_messages(messages["hotdeploy"], messages["nginx"])
    assert len(messages["nginx"]) == 2


def test_limit_conn_rejects_concurrent_requests_like_nginx(proxies):
    seen = {}
    for proxy in proxies:
        seen[proxy.name] = sorted(s for s, _ in _concurrent(proxy.port, ["/conn/slow/400"] * 3))
        # Finished requests gave their count back.
        assert p.get(proxy.port, "/conn/x")[0] == 200
    assert seen["nginx"] == [200, 503, 503]
    assert seen["hotdeploy"] == seen["nginx"]
    messages = {proxy.name: _wait_log(proxy, "limiting connections", 2) for proxy in proxies}
    assert messages["hotdeploy"] == messages["nginx"]


def test_limit_conn_dry_run_like_nginx(proxies):
    for proxy in proxies:
        statuses = sorted(s for s, _ in _concurrent(proxy.port, ["/conn-dry/slow/300"] * 2))
        assert statuses == [200, 200], proxy.name
    messages = {proxy.name: _wait_log(proxy, "dry run,", 1) for proxy in proxies}
    assert messages["hotdeploy"] == messages["nginx"]


def test_limit_status_variables_like_nginx(proxies):
    lines = {}
    for proxy in proxies:
        text = (proxy.prefix / "logs" / "access.log").read_text()
        lines[proxy.name] = sorted(set(text.splitlines()))
    assert lines["hotdeploy"] == lines["nginx"]
