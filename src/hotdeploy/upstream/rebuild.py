"""Configuration reload: carry observed server state from the old groups into the new config.

nginx forgets everything on reload (new workers, new peers). hotdeploy keeps the group object of
every upstream that is still configured and matches servers by `Peer.key` (address + backup
role): a server still configured keeps its id, passive failures, health, drain flag, counters
and round-robin position, and takes its configured parameters from the new file. New servers of
an upstream whose health check is `mandatory` start in "checking"; with `persistent`, a server
whose address was known before (in another role) inherits its health instead. Servers no longer
configured are dropped, or kept as zombies while requests are in flight on them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hotdeploy.balancer import policies_for
from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.events import PeerEvent
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.peer import Peer


def rebuild_groups(
    old: dict[str, PeerGroup],
    upstreams: dict[str, UpstreamConfig],
    now: float,
    mandatory: set[str] | frozenset[str] = frozenset(),
    persistent: set[str] | frozenset[str] = frozenset(),
    on_event: Callable[[PeerEvent], None] | None = None,
    health_checked: set[str] | frozenset[str] | None = None,
    rng: random.Random | None = None,
    wall_offset: float | None = None,
) -> dict[str, PeerGroup]:
    """New name -> group map. Groups of upstreams still configured are the *same objects*,
    reconfigured in place, so a request in flight releases its peer into the live group.
    `health_checked` (optional): upstreams that still have active checks; servers of the
    others are set healthy, since nothing would ever pass them again. `wall_offset`
    (time.time() - time.monotonic(), computed by the caller) makes Peer.selected wall-clock."""
    groups: dict[str, PeerGroup] = {}
    for name, config in upstreams.items():
        group = old.get(name)
        if group is None:
            group = PeerGroup(config, on_event, mandatory=name in mandatory, now=now, rng=rng)
        else:
            if on_event is not None:
                group.on_event = on_event
            reconfigure(group, config, now, name in mandatory, name in persistent)
        if health_checked is not None and name not in health_checked:
            for peer in group.peers:
                group.set_health(peer, "healthy", now)
        if wall_offset is not None:
            group.wall_offset = wall_offset
        groups[name] = group
    return groups


def reconfigure(
    group: PeerGroup, config: UpstreamConfig, now: float, mandatory: bool, persistent: bool
) -> None:
    old_by_key: dict[tuple[str, bool], list[Peer]] = {}
    for peer in group.peers:
        old_by_key.setdefault(peer.key, []).append(peer)
    health_by_address = {p.address: p.health for p in [*group.peers, *group.zombies]}

    group.config = config
    group.mandatory = mandatory
    group._primary_policy, group._backup_policy = policies_for(config, group.rng)

    kept: list[Peer] = []
    for spec in config.servers:
        bucket = old_by_key.get((spec.address, spec.backup))
        if bucket:
            peer = bucket.pop(0)
            apply_spec(peer, spec)
        else:
            peer = group._new_peer(spec, now, ramp=True)
            if mandatory and persistent and spec.address in health_by_address:
                peer.health = health_by_address[spec.address]
                group._ramp_on_pass.discard(peer.id)
                peer.downstart = None
                group._settle(peer, now)
        kept.append(peer)

    kept_ids = {p.id for p in kept}
    for peer in list(group.peers):
        if peer.id not in kept_ids:
            group._drop(peer, now, "removed by reload")
    group.peers[:] = kept
    group._version += 1
    group._refresh_all(now, "reload")


def apply_spec(peer: Peer, spec: ServerSpec) -> None:
    """Configured values come from the new file; observed state stays."""
    if spec.weight != peer.weight:
        peer.effective_weight = spec.weight
    peer.spec = spec
    peer.weight = spec.weight
    peer.max_fails = spec.max_fails
    peer.fail_timeout = spec.fail_timeout
    peer.max_conns = spec.max_conns
    peer.backup = spec.backup
    peer.down = spec.down
    peer.slow_start = spec.slow_start
