"""The orchestrator's model: instances and their states, services, the control state. Pure
data (persisted as .hotdeploy/state.json by orchestrator.state).

An instance moves through a fixed set of states; `Instance.move` refuses a transition the
orchestrator never makes, so a bug shows up as an error at the step that made it instead of
as a state file that disagrees with what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hotdeploy.orchestrator.releases import Release
from hotdeploy.runtimes.base import Handle


class InstanceState(StrEnum):
    STARTING = "starting"  # started, not yet in the balancer
    SERVING = "serving"  # in the balancer, taking traffic
    DRAINING = "draining"  # no new requests; in-flight ones finish
    STANDBY = "standby"  # blue-green: out of the balancer, kept running for a quick swap back
    STOPPING = "stopping"
    CRASHED = "crashed"  # exited on its own; a restart is scheduled
    FAILED = "failed"  # kept crashing: not restarted, reported


S = InstanceState
TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    S.STARTING: frozenset({S.SERVING, S.DRAINING, S.STOPPING, S.CRASHED, S.FAILED}),
    S.SERVING: frozenset({S.DRAINING, S.CRASHED, S.FAILED, S.STOPPING}),
    S.DRAINING: frozenset({S.STOPPING, S.STANDBY, S.CRASHED, S.FAILED, S.SERVING}),
    S.STANDBY: frozenset({S.SERVING, S.STOPPING, S.DRAINING}),
    S.STOPPING: frozenset(),
    S.CRASHED: frozenset({S.STOPPING, S.DRAINING, S.FAILED}),
    S.FAILED: frozenset({S.STOPPING, S.DRAINING}),
}


class InvalidTransition(RuntimeError):
    """An orchestrator bug: a state change its model does not allow."""


@dataclass(slots=True)
class Instance:
    service: str
    instance_id: str
    version: str
    digest: str
    handle: Handle
    backup: bool = False
    server_id: int | None = None  # the data plane's id, while it is listed there
    state: InstanceState = InstanceState.STARTING
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)  # wall-clock times

    @property
    def address(self) -> str:
        return str(self.handle.endpoint)

    def move(self, to: InstanceState) -> None:
        if to != self.state and to not in TRANSITIONS[self.state]:
            raise InvalidTransition(f"{self.instance_id}: {self.state} -> {to} is not a "
                                    f"transition an instance makes")
        self.state = to

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "instance_id": self.instance_id,
                "version": self.version, "digest": self.digest, "handle": self.handle.to_json(),
                "backup": self.backup, "server_id": self.server_id, "state": str(self.state),
                "restarts": self.restarts, "crashes": list(self.crashes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instance:
        return cls(service=data["service"], instance_id=data["instance_id"],
                   version=data["version"], digest=data["digest"],
                   handle=Handle.from_json(data["handle"]), backup=bool(data["backup"]),
                   server_id=data.get("server_id"), state=InstanceState(data["state"]),
                   restarts=int(data.get("restarts", 0)),
                   crashes=[float(t) for t in data.get("crashes", [])])


@dataclass(slots=True)
class ServiceState:
    name: str
    release: Release
    previous: Release | None = None
    instances: list[Instance] = field(default_factory=list)
    standby: list[Instance] = field(default_factory=list)  # blue-green: old colour, idle
    standby_release: Release | None = None
    standby_until: float | None = None  # wall-clock time
    next_index: int = 1
    desired: int = 1  # instance count (hotdeploy.toml, then `scale`)
    last_deploy: dict[str, Any] = field(default_factory=dict)
    last_autoscale: dict[str, Any] = field(default_factory=dict)  # the autoscaler's last step

    def new_instance_id(self) -> str:
        instance_id = f"{self.name}-{self.next_index}"
        self.next_index += 1
        return instance_id

    def serving(self) -> list[Instance]:
        return [i for i in self.instances if i.state == InstanceState.SERVING]

    def releases_in_use(self) -> set[str]:
        """Versions that must stay in the store: current, previous, standby, running."""
        used = {self.release.version, *(i.version for i in [*self.instances, *self.standby])}
        for release in (self.previous, self.standby_release):
            if release is not None:
                used.add(release.version)
        return used

    def to_json(self) -> dict[str, Any]:
        def rel(release: Release | None) -> dict[str, Any] | None:
            return release.to_json() if release else None

        return {
            "name": self.name, "release": self.release.to_json(),
            "previous": rel(self.previous),
            "instances": [i.to_json() for i in self.instances],
            "standby": [i.to_json() for i in self.standby],
            "standby_release": rel(self.standby_release),
            "standby_until": self.standby_until, "next_index": self.next_index,
            "desired": self.desired, "last_deploy": self.last_deploy,
            "last_autoscale": self.last_autoscale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceState:
        def rel(value: dict[str, Any] | None) -> Release | None:
            return Release.from_json(value) if value else None

        return cls(name=data["name"], release=Release.from_json(data["release"]),
                   previous=rel(data.get("previous")),
                   instances=[Instance.from_json(i) for i in data.get("instances", [])],
                   standby=[Instance.from_json(i) for i in data.get("standby", [])],
                   standby_release=rel(data.get("standby_release")),
                   standby_until=data.get("standby_until"),
                   next_index=int(data.get("next_index", 1)),
                   desired=int(data.get("desired", 1)),
                   last_deploy=data.get("last_deploy") or {},
                   last_autoscale=data.get("last_autoscale") or {})


@dataclass(slots=True)
class ControlState:
    dataplane: dict[str, Any] = field(default_factory=dict)  # DataPlane.record()
    services: dict[str, ServiceState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"dataplane": self.dataplane,
                "services": {n: s.to_json() for n, s in self.services.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControlState:
        return cls(dataplane=dict(data.get("dataplane") or {}),
                   services={n: ServiceState.from_json(s)
                             for n, s in data.get("services", {}).items()})
