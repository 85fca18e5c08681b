"""The state file: what a control process started after a crash reads back."""

from __future__ import annotations

import json

from hotdeploy.control.state import (
    ControlState,
    ProjectPaths,
    ServiceState,
    load_state,
    save_state,
)
from hotdeploy.runtimes.base import InstanceInfo, Release


def test_state_round_trips_through_the_file(tmp_path):
    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    svc = ServiceState(name="orders", release=Release("2.0.0", app="o:app", env={"A": "1"}),
                       previous=Release("1.0.0", app="o:app"), desired=3, next_index=7)
    svc.instances.append(InstanceInfo("orders", "orders-6", "2.0.0", pid=123, port=4567,
                                      log_path="/x.log", lb_id=4, state="serving",
                                      crashes=[1.5]))
    state = ControlState(admin_port=9100, lb_pid=99, services={"orders": svc})
    save_state(paths.state_file, state)
    again = load_state(paths.state_file)
    assert again == state
    assert again.services["orders"].new_instance_id() == "orders-7"
    assert json.loads(paths.state_file.read_text())["services"]["orders"]["desired"] == 3
    assert not paths.state_file.with_suffix(".tmp").exists()


def test_no_state_file_means_nothing_runs(tmp_path):
    assert load_state(tmp_path / "state.json") is None


def test_paths_live_beside_the_project_file(tmp_path):
    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    assert paths.state_dir == tmp_path / ".hotdeploy"
    assert paths.socket.parent == paths.state_dir
    assert paths.instance_log("orders-2") == tmp_path / ".hotdeploy" / "logs" / "orders-2.log"
