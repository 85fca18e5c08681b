"""Live state as NGINX Plus API objects ("HTTP Upstream", "HTTP Upstream Server", peer). Pure.

Times: the balancer keeps monotonic seconds (`now`) for durations and wall-clock seconds for
`selected`; the API shows `downtime` in milliseconds and `downstart`/`selected` as ISO 8601 with
millisecond resolution, as NGINX Plus does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hotdeploy.admin.totals import totals
from hotdeploy.units import format_time
from hotdeploy.upstream.peer import Peer

if TYPE_CHECKING:
    from hotdeploy.upstream.group import PeerGroup

RESPONSE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def iso_time(wall: float) -> str:
    """`2026-11-26T10:01:06.123Z`"""
    stamp = datetime.fromtimestamp(wall, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def server_object(peer: Peer) -> dict[str, Any]:
    """The configuration of one server (GET/PATCH/POST `.../servers[/ID]`)."""
    return {
        "id": peer.id,
        "server": peer.address,
        "weight": peer.weight,
        "max_conns": peer.max_conns,
        "max_fails": peer.max_fails,
        "fail_timeout": format_time(peer.fail_timeout),
        "slow_start": format_time(peer.slow_start),
        "route": "",
        "backup": peer.backup,
        "down": peer.down,
        "drain": peer.draining,
    }


def downtime_ms(peer: Peer, now: float) -> int:
    """Total time not "up": what has been accumulated plus the current period, if any."""
    total = peer.downtime
    if peer.downstart is not None:
        total += max(0.0, now - peer.downstart)
    return int(total * 1000)


def peer_object(group: PeerGroup, peer: Peer, now: float, wall: float) -> dict[str, Any]:
    """The state and statistics of one server (`peers` of GET `/http/upstreams/NAME`);
    the statistics are every worker's (admin/totals.py)."""
    stats = totals(peer)
    obj: dict[str, Any] = {
        "id": peer.id,
        "server": peer.address,
        "name": peer.spec.name,
        "backup": peer.backup,
        "weight": peer.weight,
        "state": group.state_of(peer, now),
        "active": peer.conns,
    }
    if peer.max_conns:
        obj["max_conns"] = peer.max_conns
    obj.update(
        requests=stats.requests,
        responses=responses_object(stats),
        sent=stats.sent,
        received=stats.received,
        fails=stats.fails_total,
        unavail=stats.unavail,
        health_checks=health_checks_object(peer),
        downtime=downtime_ms(peer, now),
    )
    if peer.downstart is not None:
        obj["downstart"] = iso_time(wall - (now - peer.downstart))
    if peer.selected is not None:
        obj["selected"] = iso_time(peer.selected)
    timed = sum(stats.latency_buckets)
    if timed:
        # NGINX Plus: "the average time to get the full response from the server", in ms.
        obj["response_time"] = round(stats.latency_sum * 1000 / timed)
    return obj


def responses_object(peer: Any) -> dict[str, int]:
    out = {cls: peer.responses[i] for i, cls in enumerate(RESPONSE_CLASSES)}
    out["total"] = peer.responses[5]
    return out


def health_checks_object(peer: Peer) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "checks": peer.hc_checks,
        "fails": peer.hc_fails,
        "unhealthy": peer.hc_unhealthy,
    }
    if peer.hc_last_passed is not None:  # NGINX Plus omits it until a check has run
        obj["last_passed"] = peer.hc_last_passed
    return obj


def upstream_object(
    group: PeerGroup, now: float, wall: float, keepalive_idle: int = 0
) -> dict[str, Any]:
    return {
        "peers": [peer_object(group, p, now, wall) for p in group.peers],
        "keepalive": keepalive_idle,
        "zombies": len(group.zombies),
        "zone": group.config.zone or group.name,
    }
