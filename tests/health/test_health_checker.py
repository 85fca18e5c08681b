"""Active health checks against real in-process backends on 127.0.0.1 (no client traffic).

Short intervals (0.05-0.1 s) keep the suite fast; waits poll with a deadline instead of sleeping
for a fixed time.
"""

import asyncio
import re
import time

import pytest

from hotdeploy.config.model import (
    BodyTest,
    HealthCheckConfig,
    MatchConfig,
    ServerSpec,
    UpstreamConfig,
)
from hotdeploy.upstream.checker import HealthChecker
from hotdeploy.upstream.rebuild import rebuild_groups


class Backend:
    """A tiny HTTP server whose /health answer the test controls."""

    def __init__(self, status=200, body=b"ok", hang=False):
        self.status, self.body, self.hang = status, body, hang
        self.requests = []
        self.active = self.max_active = 0

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader, writer):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.decode())
            if self.hang:
                # Answer nothing; return when the prober gives up and closes.
                await asyncio.wait_for(reader.read(), 5)
                return
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (self.status, len(self.body), self.body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self.active -= 1
            writer.close()

    async def close(self):
        self.server.close()


def spec(port):
    return ServerSpec(name=f"127.0.0.1:{port}", host="127.0.0.1", port=port)


def make_groups(*ports, mandatory=False):
    upstream = UpstreamConfig(name="backend", servers=tuple(spec(p) for p in ports))
    return rebuild_groups({}, {"backend": upstream}, time.monotonic(),
                          mandatory={"backend"} if mandatory else set(), persistent=set())


async def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def state(groups, peer):
    return groups["backend"].state_of(peer, time.monotonic())


@pytest.fixture
async def backends():
    started = []

    async def make(**kw):
        b = await Backend(**kw).start()
        started.append(b)
        return b

    yield make
    for b in started:
        await b.close()


async def test_503_goes_unhealthy_within_one_interval_and_back_after_passes(backends):
    b = await backends()
    groups = make_groups(b.port)
    peer = groups["backend"].peers[0]
    check = HealthCheckConfig(upstream="backend", uri="/health", interval=0.1, passes=2)
    events = []
    checker = HealthChecker(groups, [check], on_event=lambda up, ch: events.append(ch))
    checker.start()
    try:
        assert await wait_for(lambda: peer.hc_checks >= 1)
        assert state(groups, peer) == "up"
        b.status = 503
        t0 = time.monotonic()
        assert await wait_for(lambda: state(groups, peer) == "unhealthy", timeout=1.0)
        assert time.monotonic() - t0 < 0.1 + 0.15  # one interval (+ scheduling slack)
        b.status = 200
        checks_before = peer.hc_checks
        assert await wait_for(lambda: peer.health == "healthy", timeout=1.0)
        assert peer.hc_checks - checks_before >= 2  # `passes=2`: one pass is not enough
        assert [(e.was, e.state) for e in events] == [("healthy", "unhealthy"),
                                                      ("unhealthy", "healthy")]
        assert peer.hc_unhealthy == 1 and peer.hc_last_passed is True
    finally:
        await checker.stop()


async def test_probe_is_get_uri_with_host_and_connection_close(backends):
    b = await backends()
    groups = make_groups(b.port)
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", uri="/health?x=1",
                                                       interval=0.05)])
    checker.start()
    try:
        assert await wait_for(lambda: b.requests)
    finally:
        await checker.stop()
    head = b.requests[0]
    assert head.startswith("GET /health?x=1 HTTP/1.")
    assert re.search(r"(?im)^host: backend\r$", head)
    assert re.search(r"(?im)^connection: close\r$", head)


async def test_refused_connection_is_a_failed_check():
    b = await Backend().start()
    port = b.port
    await b.close()
    b.server.close()
    await b.server.wait_closed()
    groups = make_groups(port)
    peer = groups["backend"].peers[0]
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05)])
    checker.start()
    try:
        assert await wait_for(lambda: peer.health == "unhealthy")
        assert peer.hc_fails >= 1
    finally:
        await checker.stop()


async def test_a_hanging_server_times_out_and_probes_never_overlap(backends):
    b = await backends(hang=True)
    groups = make_groups(b.port)
    peer = groups["backend"].peers[0]
    check = HealthCheckConfig(upstream="backend", interval=0.02, read_timeout=0.2)
    checker = HealthChecker(groups, [check])
    checker.start()
    try:
        assert await wait_for(lambda: peer.health == "unhealthy", timeout=1.0)
        await asyncio.sleep(0.1)
        assert b.max_active == 1  # the next probe waited for the hung one to time out
    finally:
        await checker.stop()


async def test_match_with_body_test_over_the_wire(backends):
    good = await backends(body=b'{"status":"UP"}')
    bad = await backends(body=b'{"status":"DOWN"}')
    groups = make_groups(good.port, bad.port)
    match = MatchConfig(name="up", body=(BodyTest(negate=False, pattern=re.compile('"UP"')),))
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05,
                                                       match=match)])
    checker.start()
    g, b_ = groups["backend"].peers
    try:
        assert await wait_for(lambda: b_.health == "unhealthy")
        assert g.health == "healthy" and g.hc_checks >= 1
    finally:
        await checker.stop()


async def test_port_parameter_probes_another_port(backends):
    health = await backends(status=503)
    groups = make_groups(1)  # the server's own port is never contacted
    peer = groups["backend"].peers[0]
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05,
                                                       port=health.port)])
    checker.start()
    try:
        assert await wait_for(lambda: peer.health == "unhealthy")
        assert health.requests
    finally:
        await checker.stop()


async def test_mandatory_new_server_gets_no_traffic_before_its_first_pass(backends):
    first = await backends()
    late = await backends(hang=True)  # its first probe cannot pass yet
    groups = make_groups(first.port, mandatory=True)
    check = HealthCheckConfig(upstream="backend", interval=0.05, mandatory=True, read_timeout=5)
    checker = HealthChecker(groups, [check])
    checker.start()
    try:
        peer0 = groups["backend"].peers[0]
        assert await wait_for(lambda: peer0.health == "healthy")
        added = groups["backend"].add(spec(late.port), time.monotonic())
        checker.reconcile()  # what the API does after a POST
        assert state(groups, added) == "checking"
        assert await wait_for(lambda: late.requests)  # probed at once, still no verdict
        assert state(groups, added) == "checking"
        late.hang = False
    finally:
        await checker.stop()


async def test_servers_added_later_are_picked_up_without_being_told(backends):
    first, second = await backends(), await backends(status=500)
    groups = make_groups(first.port)
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05)])
    checker.start()
    try:
        added = groups["backend"].add(spec(second.port), time.monotonic())
        assert await wait_for(lambda: added.health == "unhealthy", timeout=2.0)
    finally:
        await checker.stop()


async def test_update_keeps_unchanged_checks_running_and_starts_new_ones(backends):
    a, b = await backends(), await backends(status=503)
    groups = make_groups(a.port)
    check = HealthCheckConfig(upstream="backend", interval=0.05)
    checker = HealthChecker(groups, [check])
    checker.start()
    try:
        peer_a = groups["backend"].peers[0]
        assert await wait_for(lambda: peer_a.hc_checks >= 1)
        tasks_before = dict(checker._tasks)
        upstream = UpstreamConfig(name="backend", servers=(spec(a.port), spec(b.port)))
        new_groups = rebuild_groups(groups, {"backend": upstream}, time.monotonic(),
                                    mandatory=set(), persistent=set())
        checker.update(new_groups, [HealthCheckConfig(upstream="backend", interval=0.05)])
        new_a = next(p for p in new_groups["backend"].peers if p.spec.port == a.port)
        new_b = next(p for p in new_groups["backend"].peers if p.spec.port == b.port)
        if new_a is peer_a:  # same Peer object kept: its probe task was not restarted
            assert set(tasks_before.values()) <= set(checker._tasks.values())
        assert await wait_for(lambda: new_b.health == "unhealthy", timeout=1.0)
        assert new_a.health == "healthy"
    finally:
        await checker.stop()


async def test_reload_with_changed_check_keeps_an_unhealthy_server_out(backends):
    a, b = await backends(), await backends(status=503)
    groups = make_groups(a.port, b.port)
    peer_b = groups["backend"].peers[1]
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05)])
    checker.start()
    try:
        assert await wait_for(lambda: peer_b.health == "unhealthy")
        changed = HealthCheckConfig(upstream="backend", interval=0.07, uri="/ready")
        checker.update(groups, [changed])
        # Synchronously after the reload, before any new probe: still out of rotation.
        assert state(groups, peer_b) == "unhealthy"
        assert checker.checks == [changed]
        checker.update(groups, [])  # no more checks: nothing could ever pass it again
        assert state(groups, peer_b) == "up"
        assert not checker._tasks
    finally:
        await checker.stop()


async def test_a_stopped_checker_starts_nothing_again(backends):
    b = await backends()
    groups = make_groups(b.port)
    checker = HealthChecker(groups, [HealthCheckConfig(upstream="backend", interval=0.05)])
    checker.start()
    assert await wait_for(lambda: b.requests)
    await checker.stop()
    checker.reconcile()  # e.g. an API write served by an old configuration generation
    seen = len(b.requests)
    await asyncio.sleep(0.15)
    assert len(b.requests) == seen
