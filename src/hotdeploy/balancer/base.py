"""What every balancing policy sees: the peers of one tier (primaries or backups) and callbacks.

A policy never decides *eligibility* itself (tried, down, max_conns, passive failure, drain,
active health): the group owns those rules and hands them in as `eligible`. A policy never reads
the nominal weight for slow start either: `weight` is the weight the policy should use now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.peer import Peer


@dataclass(slots=True)
class Pick:
    peers: Sequence[Peer]  # one tier, definition order (nginx's peers list)
    attempt: Attempt
    eligible: Callable[[Peer], bool]
    weight: Callable[[Peer], float]  # nominal weight, ramped down during slow start
    now: float  # monotonic seconds (round_robin.smooth_wrr ramps weights itself)


class Policy(Protocol):
    def select(self, pick: Pick) -> Peer | None:
        """The peer to use, or None when no peer of this tier is eligible."""
        ...
