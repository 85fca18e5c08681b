"""The DataPlane interface: what the orchestrator needs from a load balancer.

An engine is given the project's Topology (`apply`), then servers come and go at run time
(`add`, `update`, `remove`) and are observed through `servers`. What an engine can do differs
(open-source nginx has no live API, no per-server counters, no active checks), so each engine
declares its Capabilities and the orchestrator asks them instead of assuming NGINX Plus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hotdeploy.project.topology import Topology


@dataclass(frozen=True, slots=True)
class Capabilities:
    live_changes: bool  # servers change without a reload (no dropped keep-alive connection)
    drain_counts: bool  # a draining server reports its in-flight requests (`active`)
    server_counters: bool  # per-server requests, 5xx and response time (canary analysis)
    active_checks: bool  # the engine runs the topology's HealthProbe itself


@dataclass(frozen=True, slots=True)
class NewServer:
    """A server to add: the upstream `server` directive's parameters."""

    address: str  # host:port
    weight: int = 1
    backup: bool = False
    max_fails: int | None = None
    fail_timeout: float | None = None
    slow_start: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerView:
    """One server as the engine reports it."""

    id: int
    address: str
    state: str  # up | draining | down | unavail | checking | unhealthy
    active: int  # requests in flight
    requests: int
    server_errors: int  # 5xx responses
    responses_total: int
    weight: int
    backup: bool
    response_time: float | None  # mean, seconds; None when the engine does not measure it
    fails: int


class DataPlane(Protocol):
    engine: str
    capabilities: Capabilities

    async def apply(self, topology: Topology) -> str:
        """Start the engine, or adopt a running one and bring it to `topology`; says which."""
        ...

    async def running(self) -> bool: ...

    async def add(self, upstream: str, server: NewServer) -> int: ...

    async def update(self, upstream: str, server_id: int, *, weight: int | None = None,
                     drain: bool | None = None, down: bool | None = None,
                     backup: bool | None = None) -> None: ...

    async def remove(self, upstream: str, server_id: int) -> None: ...

    async def servers(self, upstream: str) -> list[ServerView]: ...

    async def stop(self, grace: float) -> None: ...

    def describe(self) -> dict[str, Any]:
        """For `status`: engine, mode, pid, API address, as JSON-ready values."""
        ...

    def record(self) -> dict[str, Any]:
        """What a restarted control process needs to adopt this engine (state.json)."""
        ...
