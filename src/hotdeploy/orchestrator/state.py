"""The control process's files, and its persistent state: .hotdeploy/state.json, written
atomically after every change so that a control process killed at any moment can be replaced
by one that adopts the running balancer and instances."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hotdeploy import defaults as d
from hotdeploy.fileio import atomic_write
from hotdeploy.orchestrator.model import ControlState


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
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def control_log(self) -> Path:
        return self.logs / "control.log"

    @property
    def releases(self) -> Path:
        return self.state_dir / d.RELEASES_DIR

    def source_dir(self, path: str) -> Path:
        """A service's `path`, relative to the project file."""
        return (self.base / path).resolve()


def save_state(path: Path, state: ControlState) -> None:
    """Atomic: a reader (or a control process started after a crash) sees the old file or the
    new one, never half of one. Not fsynced: it is rewritten after every step, and a machine
    crash loses the instances it describes too."""
    atomic_write(path, json.dumps(state.to_json(), indent=1), fsync=False)


def load_state(path: Path) -> ControlState | None:
    try:
        return ControlState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
