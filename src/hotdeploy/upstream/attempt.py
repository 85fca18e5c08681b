"""One client request's journey across the peers of an upstream (nginx's per-request peer data).

nginx keeps a `tried` bitmap and, for the hash methods, the running hash and a try counter in
the request's peer data (`ngx_http_upstream_*_peer_data_t`). They live here so a retry of the
same request continues where the previous selection stopped (ip_hash/hash rehash from the last
value, consistent hash moves to the next ring point).
"""

from __future__ import annotations


class Attempt:
    """Per-request selection state, created once per client request and reused for retries."""

    __slots__ = ("client_ip", "hash_key", "hash_value", "on_backups", "policy_tries", "rehash",
                 "tried")

    def __init__(self, client_ip: str = "", hash_key: str | None = None) -> None:
        self.client_ip = client_ip
        self.hash_key = hash_key
        # Peer ids already tried for this request, as bits (nginx's `tried` bitmap): no set
        # is allocated for the usual single-try request.
        self.tried = 0
        # nginx moves a request to the backup list (`rrp->peers = peers->next`) once no primary
        # is eligible, and its later retries stay there.
        self.on_backups = False
        # Hash methods: running hash (ip_hash starts at 89, hash at 0, consistent hash holds the
        # ring point index), the rehash counter of `hash`, and the ">20 tries" counter after
        # which nginx falls back to round robin.
        self.hash_value: int | None = None
        self.rehash = 0
        self.policy_tries = 0
