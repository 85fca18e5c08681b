"""Data planes: who routes traffic to the instances (see base.DataPlane). A registry by
engine name, so that `[balancer] engine` and a recorded engine find their implementation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotdeploy.dataplane.base import DataPlane

if TYPE_CHECKING:
    from hotdeploy.project.model import BalancerSection

ENGINES = ("builtin", "nginx")


def dataplane_for(record: dict[str, Any], state_dir: Path, source: str,
                  balancer: BalancerSection | None = None) -> DataPlane:
    """The engine a state file recorded (to adopt it), else the project's `[balancer] engine`
    (the built-in one when no project is given)."""
    engine = record.get("engine") or (balancer.engine if balancer else "builtin")
    if engine == "builtin":
        from hotdeploy.dataplane.builtin.engine import BuiltinDataPlane

        return BuiltinDataPlane(state_dir, source, record)
    if engine == "nginx":
        from hotdeploy.dataplane.nginx.factory import nginx_dataplane

        return nginx_dataplane(record, state_dir, source,
                               balancer.nginx if balancer else None,
                               balancer.nginx_mode if balancer else "auto")
    raise ValueError(f"unknown balancer engine {engine!r}: expected one of {', '.join(ENGINES)}")


def same_engine(record: dict[str, Any], balancer: BalancerSection) -> bool:
    """Whether the recorded engine is the one the project asks for (a forced nginx mode
    counts: live and reload render different configurations)."""
    if (record.get("engine") or "builtin") != balancer.engine:
        return False
    return not (balancer.engine == "nginx" and balancer.nginx_mode != "auto"
                and record.get("mode") not in (None, balancer.nginx_mode))
