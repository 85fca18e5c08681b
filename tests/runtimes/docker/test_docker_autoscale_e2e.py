"""Autoscaling with the Docker runtime: the autoscaled service runs as containers (host
networking, 127.0.0.1 ports) and is scaled up under load and back down, through the same
health-gated steps as with local processes; no container of the project is left."""

from __future__ import annotations

import pytest
from autoscale_scenario import CLIENTS, scale_up_then_down, slow_project
from dockertools import BASE_IMAGE, docker_client, project_containers
from hd_e2e_harness import cli, service

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("base_image")]
PROJECT = "scaling"  # slow_project's [project] name


def test_containers_scale_up_under_load_and_back_to_min(tmp_path):
    file, base = slow_project(tmp_path, runtime=f"""
[runtime]
kind = "docker"
base_image = "{BASE_IMAGE}"
network = "host"
""")
    try:
        up = cli(file, "up", "--detach", timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        scaled = scale_up_then_down(file, base)
        (instance,) = service(file, "slow")["instances"]
        assert instance["runtime"] == "docker"
        assert len(project_containers(PROJECT, all_=False)) == 1  # the scaled-down ones stopped
    finally:
        cli(file, "down", timeout=90)
        for container in project_containers(PROJECT):
            container.remove(force=True)
        for image in docker_client().images.list(name=f"hotdeploy/{PROJECT}-slow"):
            docker_client().images.remove(image.id, force=True)
    print(f"\ndocker: scale up 1->3 under {CLIENTS} clients took {scaled.up_took:.1f}s, down "
          f"3->1 after the load dropped {scaled.down_took:.1f}s; {scaled.requests} requests, "
          f"0 failed")
