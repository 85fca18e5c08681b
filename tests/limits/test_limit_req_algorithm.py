"""The leaky bucket of ngx_http_limit_req_module on a fake millisecond clock: the same
excess, delays and refusals as nginx's arithmetic gives."""

from __future__ import annotations

from hotdeploy.config.limits import NODELAY
from hotdeploy.proxy.limit_req import BUSY, DECLINED, ERROR, OK, Limit, ReqZone, check

MB = 1 << 20


def zone(rate_per_s: float, size: int = MB, name: str = "z") -> ReqZone:
    return ReqZone(name, int(rate_per_s * 1000), size)


def one(limit: Limit, now: int, key: bytes = b"k"):
    return check([limit], [key], now)


def test_rate_without_burst_refuses_until_a_request_drained():
    limit = Limit(zone(1), burst=0, delay=0)
    assert one(limit, 0).rc == OK
    refused = one(limit, 500)
    assert (refused.rc, refused.excess, refused.zone) == (BUSY, 500, "z")
    assert one(limit, 1000).rc == OK  # a refused request is not accounted


def test_burst_is_delayed_one_interval_per_excess_request():
    limit = Limit(zone(10), burst=2000, delay=0)
    assert [(v.rc, v.delay_ms) for v in (one(limit, 0) for _ in range(3))] == [
        (OK, 0), (OK, 100), (OK, 200)]
    last = one(limit, 0)
    assert (last.rc, last.excess) == (BUSY, 3000)


def test_nodelay_passes_the_burst_at_once():
    limit = Limit(zone(10), burst=2000, delay=NODELAY)
    assert [one(limit, 0).delay_ms for _ in range(3)] == [0, 0, 0]
    assert one(limit, 0).rc == BUSY


def test_delay_threshold_delays_only_beyond_it():
    # burst=3 delay=1: the first two pass at once, the next ones wait.
    limit = Limit(zone(10), burst=3000, delay=1000)
    assert [one(limit, 0).delay_ms for _ in range(4)] == [0, 0, 100, 200]


def test_requests_per_minute_drain_per_millisecond():
    limit = Limit(zone(1 / 60), burst=1000, delay=NODELAY)  # 1r/m: rate 16 milli-req/s
    assert one(limit, 0).rc == OK
    second = one(limit, 1000)
    assert (second.rc, second.excess) == (OK, 984)  # 1000 - 16 * 1000 / 1000
    assert one(limit, 1000).excess == 1984 and one(limit, 1000).rc == BUSY


def test_empty_key_is_not_accounted():
    limit = Limit(zone(1), burst=0, delay=0)
    assert [one(limit, 0, b"").rc for _ in range(3)] == [DECLINED] * 3
    assert one(limit, 0).rc == OK


def test_keys_have_their_own_buckets():
    limit = Limit(zone(1), burst=0, delay=0)
    assert one(limit, 0, b"a").rc == OK
    assert one(limit, 0, b"b").rc == OK
    assert one(limit, 0, b"a").rc == BUSY


def test_a_later_zone_refusing_takes_nothing_from_the_earlier_one():
    first = Limit(zone(1, name="first"), burst=0, delay=0)
    second = Limit(zone(1, name="second"), burst=0, delay=0)
    now = 5_000_000  # nginx's clock (ngx_current_msec) is far from 0
    assert check([first, second], [b"k", b"k"], now).rc == OK
    refused = check([first, second], [b"k", b"other"], now)
    assert refused.rc == BUSY and refused.zone == "first"
    # `second` refuses for key k; `first` is then not charged for key x.
    assert check([first, second], [b"x", b"k"], now).zone == "second"
    assert check([first], [b"x"], now).rc == OK


def test_the_longest_delay_of_several_zones_wins():
    fast = Limit(zone(100, name="fast"), burst=5000, delay=0)
    slow = Limit(zone(10, name="slow"), burst=5000, delay=0)
    now = 5_000_000
    check([slow, fast], [b"k", b"k"], now)
    verdict = check([slow, fast], [b"k", b"k"], now)
    assert (verdict.zone, verdict.delay_ms, verdict.excess) == ("slow", 100, 1000)


def test_clock_going_back_counts_as_no_time():
    limit = Limit(zone(1), burst=5000, delay=NODELAY)
    one(limit, 10_000)
    assert one(limit, 9_000).excess == 1000  # ms < 0 -> 0
    assert one(limit, 9_000 - 120_000).excess == 1999  # far back: counted as one ms


def test_full_zone_forgets_the_oldest_idle_state():
    small = ReqZone("z", 1000, 3 * 128)  # room for three 4-byte keys (128 bytes each)
    limit = Limit(small, burst=0, delay=0)
    for i, key in enumerate((b"aaaa", b"bbbb", b"cccc")):
        assert one(limit, i, key).rc == OK
    assert one(limit, 3, b"dddd").rc == OK  # forced: the oldest (aaaa) goes
    assert set(small.nodes) == {b"bbbb", b"cccc", b"dddd"}
    assert one(limit, 4, b"aaaa").rc == OK  # forgotten: a new state, not refused


def test_state_held_by_a_pending_request_is_never_forgotten():
    small = ReqZone("z", 1000, 128)
    held = Limit(small, burst=0, delay=0)
    other = Limit(zone(1), burst=0, delay=0)
    # Simulate a lookup that holds the node (an earlier limit of a request).
    assert small.lookup(b"aaaa", 0, False, 0)[0] == "again"
    assert check([held, other], [b"bbbb", b"k"], 1).rc == ERROR


def test_idle_drained_states_expire_after_a_minute():
    z = zone(1, size=MB)
    limit = Limit(z, burst=0, delay=0)
    one(limit, 0, b"old1")
    one(limit, 0, b"old2")
    one(limit, 70_000, b"new")
    assert set(z.nodes) == {b"new"}
