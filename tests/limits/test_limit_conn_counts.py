"""limit_conn's counters: requests in progress per key, refusals give back what they took."""

from __future__ import annotations

from hotdeploy.proxy.limit_conn import BUSY, ERROR, OK, ConnZone, Limit, acquire_all, release_all


def test_counts_up_to_the_limit_and_back():
    zone = ConnZone("c", 1 << 20)
    limit = Limit(zone, 2)
    first = acquire_all([limit], [b"k"])
    second = acquire_all([limit], [b"k"])
    assert (first[0], second[0]) == (OK, OK)
    assert acquire_all([limit], [b"k"])[:2] == (BUSY, "c")
    release_all(first[2])
    assert acquire_all([limit], [b"k"])[0] == OK
    assert acquire_all([limit], [b"other"])[0] == OK


def test_refusal_by_a_later_zone_releases_the_earlier_counts():
    a, b = ConnZone("a", 1 << 20), ConnZone("b", 1 << 20)
    held = acquire_all([Limit(b, 1)], [b"k"])
    rc, zone, taken = acquire_all([Limit(a, 1), Limit(b, 1)], [b"k", b"k"])
    assert (rc, zone, taken) == (BUSY, "b", [])
    assert a.counts == {}
    release_all(held[2])
    assert b.counts == {} and b.used == 0


def test_empty_key_is_not_counted():
    zone = ConnZone("c", 1 << 20)
    assert acquire_all([Limit(zone, 1)], [b""]) == (OK, "", [])
    assert zone.counts == {}


def test_full_zone_refuses():
    zone = ConnZone("c", 2 * 64)  # two 4-byte keys (64 bytes each)
    limit = Limit(zone, 5)
    assert acquire_all([limit], [b"aaaa"])[0] == OK
    assert acquire_all([limit], [b"bbbb"])[0] == OK
    assert acquire_all([limit], [b"cccc"])[:2] == (ERROR, "c")
