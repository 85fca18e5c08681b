"""An upstream's configured servers as plain data, and applying that data to another worker's
group: how an API change made in one worker reaches the others (lb/zonesync.py carries it).

Only what the API can change travels (membership with ids, the server parameters, drain);
observed state stays where it is, or travels through the shared table. Pure.
"""

from __future__ import annotations

from typing import Any

from hotdeploy.config.model import ServerSpec
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.peer import Peer

_PARAMS = ("weight", "max_conns", "max_fails", "fail_timeout", "slow_start", "backup", "down")


def server_record(peer: Peer) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(peer, name) for name in _PARAMS}
    record.update(id=peer.id, name=peer.spec.name, host=peer.spec.host, port=peer.spec.port,
                  drain=peer.draining)
    return record


def group_snapshot(group: PeerGroup) -> dict[str, Any]:
    return {"next_id": group._next_id, "servers": [server_record(p) for p in group.peers]}


def apply_snapshot(group: PeerGroup, snapshot: dict[str, Any], now: float) -> bool:
    """Make `group` list the snapshot's servers with the same ids and parameters (removals,
    additions, then changes, each through the group's own API so events and zombies follow
    the usual rules). Returns whether anything changed."""
    servers: list[dict[str, Any]] = snapshot["servers"]
    wanted = {record["id"] for record in servers}
    changed = False
    for peer in list(group.peers):
        if peer.id not in wanted:
            group.remove(peer.id, now)
            changed = True
    present = {peer.id: peer for peer in group.peers}
    for record in servers:
        peer = present.get(record["id"])
        if peer is None:
            spec = ServerSpec(name=record["name"], host=record["host"], port=record["port"],
                              **{name: record[name] for name in _PARAMS})
            group._next_id = record["id"]  # the id the writing worker gave it
            peer = group.add(spec, now)
            changed = True
        updates = {name: record[name] for name in _PARAMS if getattr(peer, name) != record[name]}
        if peer.draining != record["drain"]:
            updates["drain"] = record["drain"]
        if updates:
            group.update(peer.id, now, **updates)
            changed = True
    group._next_id = max(group._next_id, int(snapshot["next_id"]),
                         max((p.id + 1 for p in group.peers), default=0))
    return changed
