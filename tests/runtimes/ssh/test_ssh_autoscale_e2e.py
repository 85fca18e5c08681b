"""Autoscaling with the SSH runtime: the autoscaled service's instances start over SSH on the
two sshd "hosts" (127.0.0.2 and 127.0.0.3, loopback only) and are scaled up under load and
back down, through the same health-gated steps as with local processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "orchestrator"))
from autoscale_scenario import CLIENTS, scale_up_then_down, slow_project
from hd_e2e_harness import cli, service

pytestmark = pytest.mark.timeout(240)


def test_ssh_instances_scale_up_under_load_and_back_to_min(ssh_hosts, tmp_path):
    host_list = ", ".join(f'"{h}"' for h in ssh_hosts.hosts)
    file, base = slow_project(tmp_path, health_timeout="20s", runtime=f"""
[runtime]
kind = "ssh"
hosts = [{host_list}]
identity_file = "{ssh_hosts.identity}"
known_hosts = "{ssh_hosts.known_hosts}"
remote_dir = "{tmp_path / 'remote'}"
python = "{sys.executable}"
supervisor = "process"
""")
    try:
        up = cli(file, "up", "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        scaled = scale_up_then_down(file, base)
        (instance,) = service(file, "slow")["instances"]
        assert instance["runtime"] == "ssh"
    finally:
        cli(file, "down", timeout=60)
    print(f"\nssh: scale up 1->3 under {CLIENTS} clients took {scaled.up_took:.1f}s, down 3->1 "
          f"after the load dropped {scaled.down_took:.1f}s; {scaled.requests} requests, 0 failed")
