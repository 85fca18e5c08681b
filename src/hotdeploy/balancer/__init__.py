"""Balancing policies: one small module each, pure functions of the peers and the request.

`policies_for(config)` returns the policy for the primaries and the one for the backups.
"""

from __future__ import annotations

import random

from hotdeploy.balancer.base import Pick, Policy
from hotdeploy.balancer.consistent_hash import ConsistentHash
from hotdeploy.balancer.ip_hash import IpHash
from hotdeploy.balancer.key_hash import KeyHash
from hotdeploy.balancer.least_conn import LeastConn
from hotdeploy.balancer.ordered import Ordered
from hotdeploy.balancer.round_robin import RoundRobin
from hotdeploy.balancer.weighted_random import WeightedRandom
from hotdeploy.config.model import UpstreamConfig

__all__ = ["Pick", "Policy", "policies_for", "primary_policy"]


def primary_policy(config: UpstreamConfig, rng: random.Random | None = None) -> Policy:
    if config.method == "least_conn":
        return LeastConn()
    if config.method == "ip_hash":
        return IpHash()
    if config.method == "hash":
        return ConsistentHash() if config.hash_consistent else KeyHash()
    if config.method == "random":
        return WeightedRandom(two=config.random_two, rng=rng)
    return RoundRobin()


def policies_for(
    config: UpstreamConfig, rng: random.Random | None = None
) -> tuple[Policy, Policy]:
    """(primary policy, backup policy). nginx runs the same method over the backup list
    (backups exist only with round robin and least_conn); `backup_mode ordered` replaces it."""
    primary = primary_policy(config, rng)
    if config.backup_mode == "ordered":
        return primary, Ordered()
    backup = LeastConn() if config.method == "least_conn" else RoundRobin()
    return primary, backup
