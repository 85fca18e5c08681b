"""nginx's upstream `keepalive N` cache: per-peer reuse, LRU eviction across the upstream, and
`keepalive_timeout` expiry (UpstreamPool keeps idle connections per peer for O(1) reuse)."""

from __future__ import annotations

from hotdeploy.config.model import ServerSpec
from hotdeploy.proxy.upstream import UpstreamConnection, UpstreamPool
from hotdeploy.upstream.peer import Peer


class _Transport:
    """Stands in for the socket transport only; the pool is what is under test."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _peer(port: int, peer_id: int) -> Peer:
    return Peer.from_spec(ServerSpec(name=f"127.0.0.1:{port}", host="127.0.0.1", port=port),
                          peer_id)


def _conn(peer: Peer) -> UpstreamConnection:
    conn = UpstreamConnection(peer, 0.0)
    conn.connection_made(_Transport())  # type: ignore[arg-type]
    return conn


def test_take_reuses_the_most_recent_idle_connection_of_that_peer() -> None:
    a, b = _peer(1, 0), _peer(2, 1)
    pool = UpstreamPool(size=8, timeout=60.0)
    a1, b1, a2 = _conn(a), _conn(b), _conn(a)
    pool.put(a1, 1.0)
    pool.put(b1, 2.0)
    pool.put(a2, 3.0)
    assert pool.take(a, 4.0) is a2
    assert pool.take(a, 4.0) is a1
    assert pool.take(a, 4.0) is None  # never hands out another peer's connection
    assert len(pool.idle) == 1 and pool.take(b, 4.0) is b1


def test_over_the_limit_the_least_recently_used_connection_of_the_upstream_closes() -> None:
    a, b = _peer(1, 0), _peer(2, 1)
    pool = UpstreamPool(size=2, timeout=60.0)
    oldest, newer, newest = _conn(b), _conn(a), _conn(a)
    pool.put(oldest, 1.0)
    pool.put(newer, 2.0)
    pool.put(newest, 3.0)
    assert oldest.transport.closed  # type: ignore[union-attr]
    assert [c for c in pool.idle] == [newer, newest]
    assert pool.take(b, 4.0) is None


def test_idle_connections_expire_after_keepalive_timeout() -> None:
    a = _peer(1, 0)
    pool = UpstreamPool(size=8, timeout=10.0)
    stale, fresh = _conn(a), _conn(a)
    pool.put(stale, 0.0)
    pool.put(fresh, 8.0)
    pool.expire(11.0)
    assert stale.transport.closed and not fresh.transport.closed  # type: ignore[union-attr]
    assert pool.idle == [fresh]
    # take() also refuses a connection idle for longer than the timeout
    assert pool.take(a, 19.0) is None and fresh.transport.closed  # type: ignore[union-attr]
