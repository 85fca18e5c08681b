"""Ordered failover among backups (hotdeploy's `backup_mode ordered;`).

The seed's active-passive text: "If multiple backup servers are configured, Nginx will select
the first available backup server in the order they are defined, maintaining the
single-active-server principle". nginx itself balances among backups; this policy is the
opt-in alternative: the first eligible peer in definition order takes all traffic, and a retry
moves to the next one.
"""

from __future__ import annotations

from hotdeploy.balancer.base import Pick
from hotdeploy.upstream.peer import Peer


class Ordered:
    def select(self, pick: Pick) -> Peer | None:
        return next((p for p in pick.peers if pick.eligible(p)), None)
