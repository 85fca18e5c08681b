"""One upstream server as the balancer sees it: its configured parameters plus observed state.

Configured values start from the `ServerSpec` but can be changed live (NGINX Plus API PATCH),
so they are copied into mutable fields. Observed state (passive failures, health, counters)
is kept across configuration reloads for servers that are still configured (keyed by
upstream name + `spec.address` + backup flag).

Pure data: no I/O, no asyncio. Times are monotonic seconds supplied by the caller (`now`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from hotdeploy.config.model import ServerSpec
from hotdeploy.defaults import UPSTREAM_LATENCY_BUCKETS

_BOUNDS: Final[tuple[float, ...]] = UPSTREAM_LATENCY_BUCKETS

HealthState = Literal["healthy", "unhealthy", "checking"]


@dataclass(slots=True, eq=False)
class Peer:
    spec: ServerSpec
    id: int  # stable API id within its upstream (NGINX Plus `id`)

    # --- configured (mutable via the API) ---------------------------------------------------
    weight: int = 1
    max_fails: int = 1
    fail_timeout: float = 10.0
    max_conns: int = 0
    backup: bool = False
    down: bool = False
    slow_start: float = 0.0

    # --- smooth weighted round robin (ngx_http_upstream_round_robin.c) -----------------------
    # float: slow start feeds fractional weights (hotdeploy; nginx's are integers)
    current_weight: float = 0.0
    effective_weight: int = 1

    # --- in flight ----------------------------------------------------------------------------
    conns: int = 0  # requests/tunnels currently using this peer ("active" in the API)

    # --- passive health (nginx's fails / accessed / checked) --------------------------------
    fails: int = 0
    accessed: float = 0.0  # time of the last failure
    checked: float = 0.0  # time the peer was last allowed a probe / last failure

    # --- active health and drain (NGINX Plus) ----------------------------------------------
    health: HealthState = "healthy"
    draining: bool = False
    slow_start_began: float | None = None  # when the weight ramp started (recovery or add)

    # --- statistics (NGINX Plus API) --------------------------------------------------------
    requests: int = 0
    responses: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0])  # 1xx..5xx, total
    sent: int = 0
    received: int = 0
    fails_total: int = 0  # API "fails": all failed attempts
    unavail: int = 0  # API "unavail": times it became unavailable (max_fails reached)
    downtime: float = 0.0  # seconds spent not "up", accumulated
    downstart: float | None = None  # when the current non-up period started (monotonic)
    selected: float | None = None  # wall-clock time of the last selection (API "selected")
    hc_checks: int = 0
    hc_fails: int = 0
    hc_unhealthy: int = 0
    hc_last_passed: bool | None = None

    # --- hotdeploy metrics (admin/metrics.py reads them; the proxy fills them) ---------------
    retries: int = 0  # failed attempts on this peer that were passed to the next server
    # Upstream response time histogram: counts per bucket of UPSTREAM_LATENCY_BUCKETS (+Inf last)
    latency_buckets: list[int] = field(
        default_factory=lambda: [0] * (len(UPSTREAM_LATENCY_BUCKETS) + 1)
    )
    latency_sum: float = 0.0

    # --- shared zone (`worker_processes N` with `zone`; lb/zonesync.py fills them) ---------
    zone_slot: int = -1  # this server's slot in the shared table; -1 = per-worker state
    zone_conns: int = 0  # other workers' in-flight requests, included in `conns`
    zone_fails: int = 0  # other workers' failures within fail_timeout of their last one
    zone_checked: float = 0.0  # the latest of their fail/probe stamps (`checked`)
    # Other workers' statistics summed (upstream.zone record layout), refreshed for a read of
    # the API or the metrics; None = this process is the only one.
    elsewhere: list[float] | None = None

    def observe_latency(self, seconds: float) -> None:
        """Record one upstream response time (the proxy calls this once per attempt)."""
        # Prometheus `le` buckets: the first bound >= seconds (bisect_left). A plain loop, as
        # it ends at the first bound for the usual sub-millisecond response and compiles to
        # native float compares.
        index = 0
        for bound in _BOUNDS:
            if seconds <= bound:
                break
            index += 1
        self.latency_buckets[index] += 1
        self.latency_sum += seconds

    @classmethod
    def from_spec(cls, spec: ServerSpec, peer_id: int) -> Peer:
        return cls(
            spec=spec,
            id=peer_id,
            weight=spec.weight,
            max_fails=spec.max_fails,
            fail_timeout=spec.fail_timeout,
            max_conns=spec.max_conns,
            backup=spec.backup,
            down=spec.down,
            slow_start=spec.slow_start,
            effective_weight=spec.weight,
        )

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def key(self) -> tuple[str, bool]:
        """Identity across reloads: the same address in the same role keeps its state."""
        return (self.spec.address, self.backup)
