"""The Runtime interface: where instances run (local processes today; containers and hosts
over SSH plug in the same way).

A runtime is given an InstanceSpec and gives back a Handle: an opaque reference (a pid, a
container id, unit@host) and the Endpoint the balancer sends traffic to. Nothing outside a
runtime reads the reference or assumes a pid, a local port or 127.0.0.1. `record` and `adopt`
let a restarted control process find the instances of any runtime again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from hotdeploy.config.addresses import key_text, parse_endpoint
from hotdeploy.orchestrator.releases import Release


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return key_text(self.host, self.port)

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, port = parse_endpoint(text)
        return cls(host, port)


@dataclass(frozen=True, slots=True)
class Handle:
    runtime: str  # the runtime's name: "local"
    ref: str  # opaque to everyone but that runtime
    endpoint: Endpoint
    details: dict[str, str] = field(default_factory=dict)  # shown by `status` (log file...)

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "ref": self.ref, "endpoint": str(self.endpoint),
                "details": dict(self.details)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Handle:
        return cls(runtime=str(data["runtime"]), ref=str(data["ref"]),
                   endpoint=Endpoint.parse(str(data["endpoint"])),
                   details={str(k): str(v) for k, v in (data.get("details") or {}).items()})


class RunState(StrEnum):
    RUNNING = "running"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    project: str
    service: str
    instance_id: str  # "orders-3": unique within the project, never reused
    release: Release  # what to run: its snapshot and settings
    health: str  # readiness path
    # A deploy's instances go where the runtime's placement puts them, or fail (a lost host
    # fails the deploy). A restart after a crash and a rollback's replacements may go to any
    # place that works instead: they bring a service back to strength.
    relocatable: bool = False


class Runtime(Protocol):
    name: str

    async def start(self, spec: InstanceSpec) -> Handle: ...

    async def stop(self, handle: Handle, grace: float) -> None:
        """Ask it to finish (SIGTERM or the runtime's equivalent), force it after `grace`."""
        ...

    async def state(self, handle: Handle) -> RunState: ...

    async def logs(self, handle: Handle, lines: int) -> list[str]: ...

    def record(self, handle: Handle) -> dict[str, Any]: ...

    async def adopt(self, record: dict[str, Any]) -> Handle | None:
        """The handle of a recorded instance that still runs; None when it is gone."""
        ...


@runtime_checkable
class ReleaseArtifacts(Protocol):
    """Optional, for runtimes that turn a release into something of their own before an
    instance can run it (the docker runtime: an image per release). The controller calls
    `prepare` when a release is built or rolled back to (a failure fails the deploy before
    any instance is touched), `forget` when releases are pruned, and `sweep` at `down`."""

    async def prepare(self, release: Release, emit: Callable[[str], None]) -> None: ...

    async def forget(self, service: str, versions: list[str]) -> None: ...

    async def sweep(self, emit: Callable[[str], None]) -> None:
        """Remove whatever of this project still runs that no handle recorded."""
        ...
