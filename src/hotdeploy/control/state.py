"""The control process's persistent state: .hotdeploy/state.json, written atomically after
every change so that a control process killed at any moment can be replaced by one that
adopts the running balancer and instances."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.runtimes.base import InstanceInfo, Release


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    project_file: Path

    @classmethod
    def for_file(cls, file: str | Path) -> ProjectPaths:
        return cls(Path(file).resolve())

    @property
    def base(self) -> Path:
        return self.project_file.parent

    @property
    def state_dir(self) -> Path:
        return self.base / d.PROJECT_STATE_DIR

    @property
    def socket(self) -> Path:
        return self.state_dir / d.CONTROL_SOCKET

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def nginx_conf(self) -> Path:
        return self.state_dir / "nginx.conf"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def control_log(self) -> Path:
        return self.logs / "control.log"

    @property
    def lb_log(self) -> Path:
        return self.logs / "lb.log"

    @property
    def lb_pid(self) -> Path:
        return self.state_dir / "lb.pid"

    def instance_log(self, instance_id: str) -> Path:
        return self.logs / f"{instance_id}.log"


@dataclass(slots=True)
class ServiceState:
    name: str
    release: Release
    previous: Release | None = None
    instances: list[InstanceInfo] = field(default_factory=list)
    standby: list[InstanceInfo] = field(default_factory=list)  # blue-green: old colour, idle
    standby_release: Release | None = None
    standby_until: float | None = None  # wall-clock time
    next_index: int = 1
    desired: int = 1  # instance count (hotdeploy.toml, then `scale`)
    last_deploy: dict[str, Any] = field(default_factory=dict)

    def new_instance_id(self) -> str:
        instance_id = f"{self.name}-{self.next_index}"
        self.next_index += 1
        return instance_id

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "release": self.release.to_json(),
            "previous": self.previous.to_json() if self.previous else None,
            "instances": [i.to_json() for i in self.instances],
            "standby": [i.to_json() for i in self.standby],
            "standby_release": self.standby_release.to_json() if self.standby_release else None,
            "standby_until": self.standby_until, "next_index": self.next_index,
            "desired": self.desired,
            "last_deploy": self.last_deploy,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceState:
        def rel(value: dict[str, Any] | None) -> Release | None:
            return Release.from_json(value) if value else None

        return cls(name=data["name"], release=Release.from_json(data["release"]),
                   previous=rel(data.get("previous")),
                   instances=[InstanceInfo.from_json(i) for i in data.get("instances", [])],
                   standby=[InstanceInfo.from_json(i) for i in data.get("standby", [])],
                   standby_release=rel(data.get("standby_release")),
                   standby_until=data.get("standby_until"),
                   next_index=int(data.get("next_index", 1)),
                   desired=int(data.get("desired", 1)),
                   last_deploy=data.get("last_deploy") or {})


@dataclass(slots=True)
class ControlState:
    admin_port: int = 0
    lb_pid: int | None = None
    services: dict[str, ServiceState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"admin_port": self.admin_port, "lb_pid": self.lb_pid,
                "services": {n: s.to_json() for n, s in self.services.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControlState:
        return cls(admin_port=int(data.get("admin_port", 0)), lb_pid=data.get("lb_pid"),
                   services={n: ServiceState.from_json(s)
                             for n, s in data.get("services", {}).items()})


def save_state(path: Path, state: ControlState) -> None:
    """Write-then-rename: a reader (or a control process started after a crash) sees the old
    file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def load_state(path: Path) -> ControlState | None:
    try:
        return ControlState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
