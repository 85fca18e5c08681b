"""The state file: what a control process started after a crash reads back."""

from __future__ import annotations

import json

import pytest

from hotdeploy.orchestrator.model import (
    ControlState,
    Instance,
    InstanceState,
    InvalidTransition,
    ServiceState,
)
from hotdeploy.orchestrator.releases import Release, ReleaseSettings
from hotdeploy.orchestrator.state import ProjectPaths, load_state, save_state
from hotdeploy.runtimes.base import Endpoint, Handle


def release(version: str, **settings) -> Release:
    return Release(service="orders", version=version, digest=version * 8, created=1.0, size=3,
                   files=1, settings=ReleaseSettings(health="/health", **settings),
                   root=f"/r/{version}")


def test_state_round_trips_through_the_file(tmp_path):
    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    svc = ServiceState(name="orders", release=release("2.0.0", app="o:app", env={"A": "1"}),
                       previous=release("1.0.0", app="o:app"), desired=3, next_index=7,
                       last_autoscale={"from": 2, "to": 3, "reason": "load", "status": "done"})
    handle = Handle("local", "123", Endpoint("127.0.0.1", 4567), {"pid": "123"})
    svc.instances.append(Instance("orders", "orders-6", "2.0.0", "ab" * 32, handle,
                                  server_id=4, state=InstanceState.SERVING, crashes=[1.5]))
    state = ControlState(dataplane={"engine": "builtin", "pid": 99, "admin_port": 9100},
                         services={"orders": svc})
    save_state(paths.state_file, state)
    again = load_state(paths.state_file)
    assert again == state
    assert again.services["orders"].new_instance_id() == "orders-7"
    assert json.loads(paths.state_file.read_text())["services"]["orders"]["desired"] == 3
    assert [p.name for p in paths.state_dir.iterdir()] == ["state.json"]  # no temporary left


def test_no_state_file_means_nothing_runs(tmp_path):
    assert load_state(tmp_path / "state.json") is None


def test_paths_live_beside_the_project_file(tmp_path):
    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    assert paths.state_dir == tmp_path / ".hotdeploy"
    assert paths.socket.parent == paths.state_dir
    assert paths.releases == tmp_path / ".hotdeploy" / "releases"


def test_an_instance_refuses_a_transition_the_orchestrator_never_makes():
    info = Instance("orders", "orders-1", "1", "d", Handle("local", "1", Endpoint("h", 1)))
    info.move(InstanceState.SERVING)
    info.move(InstanceState.DRAINING)
    info.move(InstanceState.STOPPING)
    with pytest.raises(InvalidTransition, match="stopping -> serving"):
        info.move(InstanceState.SERVING)
