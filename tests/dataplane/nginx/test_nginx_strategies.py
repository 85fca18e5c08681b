"""The seed's three balancer strategies, and nginx's upstream rules, through real nginx driven
by the live-mode engine (the Lua balancer). Loopback only; every case bounded in time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import httpx
import pytest
from nginx_tools import needs_lua

from hotdeploy.dataplane.base import NewServer

pytestmark = [needs_lua, pytest.mark.timeout(60)]
UPS = "svc_web"


async def names(base: str, n: int, path: str = "/") -> list[str]:
    """n GETs on ONE keep-alive connection (one nginx worker): the backends that answered."""
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=10, trust_env=False) as http:
        for _ in range(n):
            resp = await http.get(path)
            out.append(resp.text.strip() if resp.status_code == 200 else str(resp.status_code))
    return out


async def add_all(engine, found, **params) -> list[int]:
    return [await engine.add(UPS, NewServer(b.address, **params)) for b in found]


# Each nginx worker adds its request counters to the shared dict every 0.2 s
# (docs/engines/nginx.md): a read of them waits that long first.
COUNTERS_FLUSH = 0.3


async def view(engine, server_id):
    await asyncio.sleep(COUNTERS_FLUSH)
    return next(s for s in await engine.servers(UPS) if s.id == server_id)


async def test_round_robin_splits_evenly_and_smooth_weights_interleave(live, backends):
    engine, _, base = await live()
    a, b, c = backends("a", "b", "c")
    ids = await add_all(engine, [a, b, c])
    assert Counter(await names(base, 30)) == {"a": 10, "b": 10, "c": 10}
    await engine.update(UPS, ids[0], weight=5)
    # nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a (a fresh
    # connection may land on another worker, whose weights are its own: use one connection).
    got = await names(base, 70)
    assert Counter(got) == {"a": 50, "b": 10, "c": 10}
    await asyncio.sleep(COUNTERS_FLUSH)
    views = {v.address: v for v in await engine.servers(UPS)}
    assert views[a.address].requests == 60 and views[b.address].responses_total == 20


async def test_weights_5_1_1_give_nginx_sequence(live, backends):
    engine, _, base = await live()
    a, b, c = backends("a", "b", "c")
    await engine.add(UPS, NewServer(a.address, weight=5))
    await add_all(engine, [b, c])
    assert await names(base, 7) == list("aabacaa")


async def test_a_dead_instance_is_taken_out_after_max_fails_without_a_client_error(live,
                                                                                   backends):
    engine, _, base = await live(max_fails=2, fail_timeout="30s")
    a, b, c = backends("a", "b", "c")
    ids = await add_all(engine, [a, b, c], max_fails=2, fail_timeout=30.0)
    c.kill()
    got = await names(base, 30)
    assert "502" not in got and set(got) == {"a", "b"}  # each refused connect was retried
    dead = await view(engine, ids[2])
    assert dead.state == "unavail" and dead.fails == 2 and dead.requests == 2
    got = await names(base, 10)
    assert (await view(engine, ids[2])).requests == 2  # out of rotation for fail_timeout


async def test_after_fail_timeout_one_probe_brings_a_recovered_server_back(live, backends):
    engine, _, base = await live(max_fails=1, fail_timeout="1s")
    a, b = backends("a", "b")
    ids = await add_all(engine, [a, b], max_fails=1, fail_timeout=1.0)
    port = b.port
    b.kill()
    assert set(await names(base, 6)) == {"a"}
    assert (await view(engine, ids[1])).state == "unavail"
    backends("b", port=port)
    await asyncio.sleep(1.3)
    assert set(await names(base, 6)) == {"a", "b"}
    assert (await view(engine, ids[1])).state == "up"


async def test_backup_takes_over_and_hands_back(live, backends):
    engine, _, base = await live(strategy="active-passive", max_fails=1, fail_timeout="1s")
    primary, backup = backends("primary", "backup")
    pid = await engine.add(UPS, NewServer(primary.address, max_fails=1, fail_timeout=1.0))
    bid = await engine.add(UPS, NewServer(backup.address, backup=True, max_fails=1,
                                          fail_timeout=1.0))
    assert set(await names(base, 10)) == {"primary"}  # backups only while no primary is up
    port = primary.port
    primary.kill()
    assert set(await names(base, 10)) == {"backup"}  # takeover, no client error
    backends("primary", port=port)
    await asyncio.sleep(1.3)  # fail_timeout: the next request probes the primary
    got = await names(base, 10)
    assert got[-5:] == ["primary"] * 5 and "502" not in got  # handed back
    await asyncio.sleep(COUNTERS_FLUSH)
    views = {v.id: v for v in await engine.servers(UPS)}
    assert views[bid].backup and views[bid].requests >= 10 and views[pid].state == "up"


async def test_health_check_takes_a_503_server_out_within_one_interval_without_traffic(
        live, backends, tmp_path):
    engine, _, base = await live(strategy="active-active-health",
                                 health_check={"uri": "/health", "interval": "500ms",
                                               "fails": 1, "passes": 1})
    flag = tmp_path / "a-health"
    a = backends("a", env={"BACKEND_HEALTH_FILE": str(flag)})[0]
    b = backends("b")[0]
    ida, idb = await add_all(engine, [a, b])
    deadline = time.monotonic() + 3
    while {(await view(engine, i)).state for i in (ida, idb)} != {"up"}:
        assert time.monotonic() < deadline, "mandatory checks never passed"
        await asyncio.sleep(0.05)
    flag.write_text("503")
    began = time.monotonic()
    while (await view(engine, ida)).state != "unhealthy":
        assert time.monotonic() - began < 1.5, "still not unhealthy"
        await asyncio.sleep(0.05)
    took = time.monotonic() - began
    print(f"unhealthy {took:.2f}s after /health turned 503 (interval 0.5s)")
    assert took <= 0.5 + 1.0 + 0.2  # one interval (+ the check's own timeout + polling)
    assert (await view(engine, ida)).requests == 0  # no client traffic was needed
    assert set(await names(base, 6)) == {"b"}
    flag.unlink()
    deadline = time.monotonic() + 2
    while (await view(engine, ida)).state != "up":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_mandatory_check_keeps_a_new_server_out_until_it_passes(live, backends,
                                                                      tmp_path):
    engine, _, base = await live(strategy="active-active-health",
                                 health_check={"interval": "500ms"})
    flag = tmp_path / "h"
    flag.write_text("503")
    a = backends("a", env={"BACKEND_HEALTH_FILE": str(flag)})[0]
    ida = await engine.add(UPS, NewServer(a.address))
    assert (await view(engine, ida)).state in ("checking", "unhealthy")
    assert await names(base, 3) == ["502"] * 3  # no live upstreams
    assert (await view(engine, ida)).requests == 0


async def test_least_conn_prefers_the_idle_server(live, backends):
    engine, _, base = await live(method="least_conn")
    a, b = backends("a", "b")
    ida, _ = await add_all(engine, [a, b])
    async with httpx.AsyncClient(base_url=base, timeout=10, trust_env=False) as slow:
        pending = [asyncio.create_task(slow.get("/slow?ms=800")) for _ in range(1)]
        await asyncio.sleep(0.2)
        busy = next(v for v in await engine.servers(UPS) if v.active == 1)
        other = await names(base, 6)
        await asyncio.gather(*pending)
    idle = "b" if busy.id == ida else "a"
    assert set(other) == {idle}


async def test_ip_hash_keeps_a_client_on_one_server(live, backends):
    engine, _, base = await live(method="ip_hash")
    await add_all(engine, backends("a", "b", "c"))
    assert len(set(await names(base, 12))) == 1


async def test_drain_stops_new_requests_and_counts_in_flight_down(live, backends):
    engine, _, base = await live()
    a, b = backends("a", "b")
    ida, _ = await add_all(engine, [a, b])
    async with httpx.AsyncClient(base_url=base, timeout=10, trust_env=False) as http:
        slow = [asyncio.create_task(http.get("/slow?ms=700")) for _ in range(4)]
        await asyncio.sleep(0.25)
        assert (await view(engine, ida)).active >= 1
        await engine.update(UPS, ida, drain=True)
        assert (await view(engine, ida)).state == "draining"
        assert set(await names(base, 6)) == {"b"}
        await asyncio.gather(*slow)
    assert (await view(engine, ida)).active == 0


async def test_removed_and_down_servers_get_nothing_and_none_left_is_502(live, backends):
    engine, _, base = await live()
    a, b = backends("a", "b")
    ida, idb = await add_all(engine, [a, b])
    await engine.update(UPS, ida, down=True)
    assert set(await names(base, 4)) == {"b"}
    await engine.remove(UPS, idb)
    assert await names(base, 2) == ["502", "502"]
    assert [v.id for v in await engine.servers(UPS)] == [ida]


async def test_servers_survive_a_restart_of_nginx(live, backends):
    engine, topo, base = await live()
    (a,) = backends("a")
    ida = await engine.add(UPS, NewServer(a.address))
    os.killpg(engine.pid, signal.SIGKILL)  # a crash of the master and its workers
    deadline = time.monotonic() + 5
    while await engine.running():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await engine.apply(topo)
    assert [v.id for v in await engine.servers(UPS)] == [ida]
    assert await names(base, 2) == ["a", "a"]


async def test_a_changed_project_reloads_nginx_and_keeps_servers_and_counters(live, backends):
    from nginx_tools import NGINX, topology

    from hotdeploy.dataplane.nginx.detect import inspect
    from hotdeploy.dataplane.nginx.live import NginxLiveDataPlane

    engine, topo, base = await live()
    (a,) = backends("a")
    ida = await engine.add(UPS, NewServer(a.address))
    assert await names(base, 3) == ["a"] * 3
    # A new control process adopts the running nginx; the project now has a longer route.
    again = NginxLiveDataPlane(engine.paths.prefix.rsplit("/nginx", 1)[0], "test",
                               inspect(NGINX), engine.record())
    assert "adopted" in await again.apply(topo) and "reloaded" not in await again.apply(topo)
    changed = topology(topo.listen[1], route="/web", max_fails=5)
    said = await again.apply(changed)
    assert "reloaded" in said and again.pid == engine.pid
    assert await names(base, 1, "/web/x") == ["a"]
    assert await names(base, 1, "/other") == ["404"]
    await asyncio.sleep(COUNTERS_FLUSH)
    (view_a,) = await again.servers(UPS)
    assert view_a.id == ida and view_a.requests == 4  # the shared dict outlived the reload
    await again.api.aclose()


async def test_a_client_that_goes_away_is_not_a_server_failure(live, backends):
    # nginx frees the peer with state 0 on a 499: aborted requests (a load generator
    # stopping) must not take healthy servers out.
    engine, _, base = await live(max_fails=1, fail_timeout="30s")
    ids = await add_all(engine, backends("a", "b"), max_fails=1, fail_timeout=30.0)
    async with httpx.AsyncClient(base_url=base, timeout=0.2, trust_env=False) as http:
        for _ in range(4):
            with pytest.raises(httpx.TimeoutException):
                await http.get("/slow?ms=600")
    await asyncio.sleep(0.8)  # the aborted requests' log phase ran
    for server_id in ids:
        seen = await view(engine, server_id)
        assert (seen.state, seen.fails, seen.active) == ("up", 0, 0)
    assert set(await names(base, 4)) == {"a", "b"}


async def test_slow_start_ramps_a_new_server_weight_up(live, backends):
    engine, _, base = await live(slow_start="4s")
    a, b = backends("a", "b")
    await engine.add(UPS, NewServer(a.address))
    await engine.add(UPS, NewServer(b.address, slow_start=4.0))
    early = Counter(await names(base, 20))
    assert early["b"] <= 6, early  # a small share of its weight early in the ramp
    await asyncio.sleep(4.1)
    late = Counter(await names(base, 40))
    assert late == {"a": 20, "b": 20}, late
