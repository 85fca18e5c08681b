"""Data planes: who routes traffic to the instances (see base.DataPlane). A registry by
engine name, so that `[balancer] engine` and a recorded engine find their implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotdeploy.dataplane.base import DataPlane


def dataplane_for(record: dict[str, Any], state_dir: Path, source: str) -> DataPlane:
    """The engine a state file recorded (to adopt it), or the built-in one for a first start."""
    engine = record.get("engine", "builtin")
    if engine == "builtin":
        from hotdeploy.dataplane.builtin.engine import BuiltinDataPlane

        return BuiltinDataPlane(state_dir, source, record)
    raise ValueError(f"unknown balancer engine {engine!r}: expected builtin")
