"""Reaching the Docker daemon: which address, one client per address, and an error that says
which socket was tried and how to start a daemon when none answers."""

from __future__ import annotations

import os
import threading
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.errors import DeployError

_clients: dict[str, Any] = {}
_lock = threading.Lock()


class DockerUnavailable(DeployError):
    """No Docker daemon answers at the configured address."""


def docker_host(configured: str | None) -> str:
    """`[runtime] docker_host`, else $DOCKER_HOST, else the local socket."""
    return configured or os.environ.get("DOCKER_HOST") or d.DOCKER_SOCKET


def client_for(host: str) -> Any:
    """A connected docker.DockerClient for `host` (cached: the supervisor asks every 0.25 s)."""
    with _lock:
        client = _clients.get(host)
        if client is not None:
            return client
    import docker
    from docker.errors import DockerException

    try:
        client = docker.DockerClient(base_url=host, timeout=60)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(unreachable(host, exc)) from None
    with _lock:
        _clients[host] = client
    return client


def unreachable(host: str, exc: Exception) -> str:
    return (f"Docker is not reachable at {host} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no answer'}). Start the daemon "
            f"(`systemctl start docker`, or `dockerd &` as root), or point `[runtime] "
            f"docker_host` / $DOCKER_HOST at one that runs (e.g. unix:///run/user/1000/"
            f"docker.sock, tcp://127.0.0.1:2375)")
