"""What every runtime is given (InstanceSpec) and gives back (InstanceInfo)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Release:
    """What one version of a service or unit runs: exactly one of app, artifacts, command."""

    version: str
    app: str | None = None
    artifacts: dict[str, str] | None = None
    command: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    service: str
    instance_id: str  # "orders-3": unique within the project, never reused
    release: Release
    health: str  # readiness path
    cwd: str  # where the instance runs (the project directory)
    log_path: str


@dataclass(slots=True)
class InstanceInfo:
    """A started instance, as recorded in .hotdeploy/state.json (so it can be adopted)."""

    service: str
    instance_id: str
    version: str
    pid: int
    port: int
    log_path: str
    backup: bool = False
    lb_id: int | None = None  # the balancer's server id, once added
    state: str = "starting"  # starting | serving | draining | standby | crashed | failed
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)  # monotonic-free: wall-clock times

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstanceInfo:
        return cls(**data)


class Runtime(Protocol):
    def start(self, spec: InstanceSpec) -> InstanceInfo: ...

    async def stop(self, info: InstanceInfo, grace: float) -> None: ...

    def alive(self, info: InstanceInfo) -> bool: ...
