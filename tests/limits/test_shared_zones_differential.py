"""The shared limit zones (proxy/shared_limits.py) against the pure ones, step by step: random
sequences of requests (keys short and long, clock jumps forward and back, zones small enough to
fill and evict, two zones per request for the lookup/account split) give the same verdicts,
excess, delays, node sizes and LRU order. Seeded `random` (hypothesis is not a test extra)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from hotdeploy.proxy import limit_conn, limit_req
from hotdeploy.proxy.limiting import PrivateZones
from hotdeploy.proxy.shared_limits import REQ_KEY_BYTES, SharedZones

SEEDS = range(40)
STEPS = 400


def _keys(rng: random.Random) -> list[bytes]:
    short = [bytes([65 + i]) * rng.choice((1, 4, 16)) for i in range(rng.randint(2, 8))]
    long = [bytes([97 + i]) * rng.choice((65, 100, 300)) for i in range(rng.randint(0, 3))]
    return short + long


def _stored(key: bytes) -> bytes:
    return key if len(key) <= REQ_KEY_BYTES else hashlib.blake2b(key, digest_size=32).digest()


def _req_state(zone: limit_req.ReqZone, stored: bool) -> tuple[object, ...]:
    # The shared store yields keys as stored (a long key's digest).
    keys = [key if stored else _stored(key) for key in zone.nodes]  # type: ignore[attr-defined]
    fields = [(node.excess, node.last, node.count, node.size) for node in _values(zone)]
    return zone.used, len(zone.nodes), keys, fields


def _values(zone: limit_req.ReqZone) -> list[limit_req.Node]:
    return list(zone.nodes.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_limit_req_shared_store_matches_the_pure_zone(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    shared_maker = SharedZones(str(tmp_path), worker=0)
    sizes = [rng.choice((128, 3 * 128, 5 * 128 + 64, 8 * 256, 32 * 1024)) for _ in range(2)]
    rates = [rng.choice((16, 500, 1000, 10_000)) for _ in range(2)]
    pure = [PrivateZones().req_zone(f"z{i}", rates[i], sizes[i]) for i in range(2)]
    shared = [shared_maker.req_zone(f"z{i}", rates[i], sizes[i]) for i in range(2)]
    bursts = [rng.choice((0, 1000, 3000, 20_000)) for _ in range(2)]
    delays = [rng.choice((0, 1000, 1 << 40)) for _ in range(2)]
    pure_limits = [limit_req.Limit(pure[i], bursts[i], delays[i]) for i in range(2)]
    shared_limits = [limit_req.Limit(shared[i], bursts[i], delays[i]) for i in range(2)]
    keys = _keys(rng)
    now = rng.randint(0, 10_000)
    for step in range(STEPS):
        now += rng.choice((0, 0, 1, 7, 100, 999, 30_000, 61_000, -5, -70_000))
        which = rng.choice(((0,), (1,), (0, 1), (1, 0)))
        request_keys = [rng.choice([*keys, b""]) if rng.random() < 0.1 else rng.choice(keys)
                        for _ in which]
        expected = limit_req.check([pure_limits[i] for i in which], request_keys, now)
        got = limit_req.check([shared_limits[i] for i in which], request_keys, now)
        assert got == expected, (seed, step)
        for p, s in zip(pure, shared, strict=True):
            assert _req_state(s, stored=True) == _req_state(p, stored=False), (seed, step)


@pytest.mark.parametrize("seed", SEEDS)
def test_limit_conn_shared_store_matches_the_pure_zone(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    shared_maker = SharedZones(str(tmp_path), worker=rng.randint(0, 63))
    sizes = [rng.choice((64, 2 * 64, 3 * 64 + 128, 1024, 32 * 1024)) for _ in range(2)]
    pure = [PrivateZones().conn_zone(f"c{i}", sizes[i]) for i in range(2)]
    shared = [shared_maker.conn_zone(f"c{i}", sizes[i]) for i in range(2)]
    conns = [rng.choice((1, 2, 5)) for _ in range(2)]
    keys = [bytes([65 + i]) * rng.choice((1, 4, 60, 255)) for i in range(rng.randint(2, 8))]
    held: list[tuple[list[tuple[limit_conn.ConnZone, bytes]],
                     list[tuple[limit_conn.ConnZone, bytes]]]] = []
    for step in range(STEPS):
        if held and rng.random() < 0.45:
            pure_taken, shared_taken = held.pop(rng.randrange(len(held)))
            limit_conn.release_all(pure_taken)
            limit_conn.release_all(shared_taken)
        else:
            which = rng.choice(((0,), (1,), (0, 1), (1, 0)))
            request_keys = [rng.choice([*keys, b""]) for _ in which]
            rc, zone, pure_taken = limit_conn.acquire_all(
                [limit_conn.Limit(pure[i], conns[i]) for i in which], request_keys)
            got = limit_conn.acquire_all(
                [limit_conn.Limit(shared[i], conns[i]) for i in which], request_keys)
            assert got[:2] == (rc, zone), (seed, step)
            assert [key for _, key in got[2]] == [key for _, key in pure_taken]
            held.append((pure_taken, got[2]))
        for p, s in zip(pure, shared, strict=True):
            counts = dict(s.counts.items())  # type: ignore[attr-defined]
            assert (s.used, counts) == (p.used, p.counts), (seed, step)
    for pure_taken, shared_taken in held:
        limit_conn.release_all(pure_taken)
        limit_conn.release_all(shared_taken)
    assert [(z.used, dict(z.counts.items())) for z in shared] == [(0, {}), (0, {})]  # type: ignore[attr-defined]


def test_a_reload_keeping_kind_and_size_finds_the_states(tmp_path: Path) -> None:
    """Another process (here: another maker) opening the zone's file sees its states; a new
    size is a new, empty zone."""
    first = SharedZones(str(tmp_path), worker=0).req_zone("one", 16, 32 * 1024)
    limit = limit_req.Limit(first, 3000, 1 << 40)
    assert [limit_req.check([limit], [b"k"], 0).rc for _ in range(5)] == ["ok"] * 4 + ["busy"]
    again = SharedZones(str(tmp_path), worker=1).req_zone("one", 16, 32 * 1024)
    assert limit_req.check([limit_req.Limit(again, 3000, 1 << 40)], [b"k"], 0).rc == "busy"
    resized = SharedZones(str(tmp_path), worker=1).req_zone("one", 16, 64 * 1024)
    assert limit_req.check([limit_req.Limit(resized, 3000, 1 << 40)], [b"k"], 0).rc == "ok"
