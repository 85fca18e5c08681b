"""Helpers for the docker runtime's tests: is a daemon there, the test base image (built once
from Debian packages with mmdebstrap and cached by tag: no image registry is needed), and a
shop project whose orders run in containers with host networking on loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "orchestrator"))
from hd_e2e_harness import SHOP, free_port

BASE_IMAGE = "hotdeploy-test-base:bookworm"
BUILD_BASE = (f"mmdebstrap --variant=apt --include=python3,python3-pip bookworm - "
              f"| docker import - {BASE_IMAGE}")


def docker_client():
    import docker

    return docker.from_env(timeout=60)


def daemon_problem() -> str | None:
    """Why Docker cannot run here, or None when a daemon answers."""
    try:
        docker_client().ping()
    except Exception as exc:
        return (f"no Docker daemon answers ({type(exc).__name__}); start one "
                f"(`dockerd --bridge=none --iptables=false &`, as .ci/run does)")
    return None


def ensure_base_image() -> str:
    """The test base image: looked up by tag, built once when missing."""
    from docker.errors import ImageNotFound

    client = docker_client()
    try:
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except ImageNotFound:
        pass
    if shutil.which("mmdebstrap") is None:
        pytest.skip(f"{BASE_IMAGE} is missing and mmdebstrap is not installed to build it "
                    f"(apt-get install mmdebstrap)")
    began = time.monotonic()
    subprocess.run(BUILD_BASE, shell=True, check=True, capture_output=True, timeout=600)
    print(f"built {BASE_IMAGE} in {time.monotonic() - began:.0f}s")
    return BASE_IMAGE


def make_docker_project(tmp: Path, *, balancer: str = "active-active", orders: int = 3,
                        name: str = "dshop", orders_runtime: str = "",
                        deploy: str = "", dockerfile: str | None = None) -> tuple[Path, int]:
    """orders (3 containers) on the docker runtime, payments as a local process: one project,
    two runtimes."""
    root = tmp / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns(".hotdeploy", "__pycache__"))
    port = free_port()
    if dockerfile is not None:
        (root / "Dockerfile").write_text(dockerfile)
    (root / "hotdeploy.toml").write_text(f"""
[project]
name = "{name}"

[balancer]
listen = "127.0.0.1:{port}"
strategy = "{balancer}"
max_fails = 3
fail_timeout = "30s"
retry_non_idempotent = true
health_check = {{ uri = "/health", interval = "500ms", fails = 1, passes = 1 }}

[services.orders]
app = "orders.api:app"
route = "/orders"
instances = {orders}
version = "1.0.0"

[services.orders.runtime]
kind = "docker"
base_image = "{BASE_IMAGE}"
network = "host"
stop_grace = "3s"
{orders_runtime}

[services.payments]
app = "payments.api:app"
instances = 1
version = "1.0.0"

[deploy]
drain_timeout = "3s"
health_timeout = "10s"
stop_grace = "3s"
{deploy}
""")
    return root / "hotdeploy.toml", port


def project_containers(project: str, all_: bool = True) -> list:
    return docker_client().containers.list(
        all=all_, filters={"label": [f"hotdeploy.project={project}"]})


# A service's own Dockerfile that runs the built-in ASGI host: it copies the runner hotdeploy
# adds to the build context.
USER_DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY .hotdeploy-runner/ /opt/hotdeploy/lib/
ENV PYTHONPATH=/opt/hotdeploy/lib
COPY . /app/
WORKDIR /app
USER 10001:10001
"""
