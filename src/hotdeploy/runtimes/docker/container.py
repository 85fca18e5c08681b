"""A container per instance: its name, labels, environment and the options it is created with.
Pure functions of the instance spec and the runtime settings, so the configuration of either
network mode can be checked without a daemon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.project.model import RuntimeSection
from hotdeploy.runtimes.base import InstanceSpec
from hotdeploy.runtimes.docker.image import LABEL, image_labels
from hotdeploy.runtimes.local import entry_point
from hotdeploy.units import memory_bytes

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an instance listens. bridge: on the container's own address at the fixed
    container port, published on `publish_host` at a port the daemon picks; host: on
    loopback at `port`, chosen free by the runtime, in the host's network namespace."""

    network: str
    publish_host: str = LOOPBACK
    port: int = d.DOCKER_CONTAINER_PORT

    @property
    def listen_host(self) -> str:
        return "0.0.0.0" if self.network == "bridge" else LOOPBACK


def container_name(project: str, instance_id: str) -> str:
    return f"hotdeploy-{project}-{instance_id}"


def project_filters(project: str, project_dir: str) -> dict[str, list[str]]:
    """Label filters for this project's containers only (two projects of the same name in
    different directories are told apart by the directory)."""
    return {"label": [f"{LABEL}.project={project}", f"{LABEL}.project_dir={project_dir}"]}


def container_labels(spec: InstanceSpec, project_dir: str) -> dict[str, str]:
    return {**image_labels(spec.project, spec.release), f"{LABEL}.instance": spec.instance_id,
            f"{LABEL}.project_dir": project_dir}


def container_env(spec: InstanceSpec, settings: RuntimeSection, port: int) -> dict[str, str]:
    """What the local runtime gives an instance (less the host's own environment, which has
    no business inside a container), then the release's env, then `[runtime] env`."""
    return {
        "PORT": str(port),
        "HOTDEPLOY_PROJECT": spec.project,
        "HOTDEPLOY_SERVICE": spec.service,
        "HOTDEPLOY_INSTANCE": spec.instance_id,
        "HOTDEPLOY_VERSION": spec.release.version,
        "HOTDEPLOY_DIGEST": spec.release.digest,
        "HOTDEPLOY_HEALTH": spec.health,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **spec.release.settings.env,
        **settings.env,
    }


def binds(volumes: tuple[str, ...], base_dir: Path | None) -> list[str]:
    """"data:/var/data:ro" with a relative host path resolved against the project directory
    (a bare name without a slash stays a named volume)."""
    out = []
    for volume in volumes:
        host, _, rest = volume.partition(":")
        if base_dir is not None and ("/" in host or host.startswith(".")) and \
                not host.startswith("/"):
            host = str((base_dir / host).resolve())
        out.append(f"{host}:{rest}")
    return out


def run_options(spec: InstanceSpec, settings: RuntimeSection, image: str, place: Placement,
                project_dir: str, base_dir: Path | None = None) -> dict[str, Any]:
    """Keyword arguments of docker's `containers.run` for one instance."""
    release = spec.release
    options: dict[str, Any] = {
        "image": image,
        "name": container_name(spec.project, spec.instance_id),
        "command": entry_point(release.settings, spec.health, place.port, python="python3",
                               host=place.listen_host),
        "environment": container_env(spec, settings, place.port),
        "labels": container_labels(spec, project_dir),
        "detach": True,
        # hotdeploy's supervisor restarts crashed instances (with back-off, taking them out of
        # the balancer first); a daemon restarting them too would race it.
        "restart_policy": {"Name": "no"},
        "stop_signal": "SIGTERM",  # then SIGKILL after stop_grace (DockerRuntime.stop)
    }
    if place.network == "host":
        options["network_mode"] = "host"
    else:
        # An empty host port: the daemon picks a free one, read back after the start.
        options["ports"] = {f"{place.port}/tcp": (place.publish_host, None)}
    if settings.memory is not None:
        options["mem_limit"] = memory_bytes(settings.memory)
    if settings.cpus is not None:
        options["nano_cpus"] = int(settings.cpus * 1e9)
    if settings.volumes:
        options["volumes"] = binds(settings.volumes, base_dir)
    return {k: v for k, v in options.items() if v is not None}


def published_port(attrs: dict[str, Any], container_port: int) -> int | None:
    """The host port a bridge-mode container's port was published on (from inspect)."""
    ports = ((attrs.get("NetworkSettings") or {}).get("Ports") or {})
    bindings = ports.get(f"{container_port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None
