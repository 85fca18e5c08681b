"""Runtimes: where instances run (see base.Runtime). A registry by name, so that a project's
`[runtime] kind` and a recorded instance's `runtime` field find their implementation."""

from __future__ import annotations

from pathlib import Path

from hotdeploy.runtimes.base import Runtime


def runtime_for(kind: str, log_dir: Path) -> Runtime:
    if kind == "local":
        from hotdeploy.runtimes.local import LocalRuntime

        return LocalRuntime(log_dir)
    raise ValueError(f"unknown runtime {kind!r}: expected local")
