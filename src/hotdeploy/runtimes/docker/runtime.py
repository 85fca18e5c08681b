"""The docker runtime: each release becomes an image (image.py), each instance a container
(container.py) on one Docker daemon per `docker_host`.

Containers are created with restart policy "no" (hotdeploy's supervisor restarts them) and
labelled with the project, its directory, the service, release and instance, so a restarted
control process adopts them by id or label and `down` removes exactly this project's. The
Docker SDK is blocking: every call runs on this runtime's own thread pool, so a slow `docker
stop` never holds up the event loop or the supervisor's liveness checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from hotdeploy.errors import DeployError
from hotdeploy.orchestrator.releases import Release
from hotdeploy.project.model import Project, RuntimeSection
from hotdeploy.runtimes.base import Endpoint, Handle, InstanceSpec, RunState
from hotdeploy.runtimes.docker import image as images
from hotdeploy.runtimes.docker.connect import client_for, docker_host
from hotdeploy.runtimes.docker.container import (
    LOOPBACK,
    Placement,
    container_name,
    project_filters,
    published_port,
    run_options,
)
from hotdeploy.runtimes.process import free_port, log_tail

T = TypeVar("T")
Emit = Callable[[str], None]
RUNNING = ("created", "running", "restarting")
SAVED_LOG_LINES = 2000


class DockerRuntime:
    name = "docker"

    def __init__(self, log_dir: Path, project: Project | None = None,
                 base_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.project = project
        self.base_dir = base_dir
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="docker")

    # --- settings -------------------------------------------------------------------------
    def settings(self, service: str) -> RuntimeSection:
        if self.project is not None and service in self.project.deployables():
            return self.project.runtime_of(service)
        return RuntimeSection(kind="docker")

    @property
    def project_dir(self) -> str:
        return str(self.base_dir.resolve()) if self.base_dir is not None else ""

    def publish_host(self) -> str:
        """The balancer's host address: a published port is reachable there (a wildcard
        listener reaches instances on loopback)."""
        if self.project is None:
            return LOOPBACK
        host = self.project.balancer.listen.rpartition(":")[0].strip("[]") or LOOPBACK
        return LOOPBACK if host in ("0.0.0.0", "::", "*", "localhost") else host

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- images (ReleaseArtifacts) ----------------------------------------------------------
    async def prepare(self, release: Release, emit: Emit) -> None:
        loop = asyncio.get_running_loop()

        def threadsafe(message: str) -> None:
            loop.call_soon_threadsafe(emit, message)

        await self._run(self._ensure_image, release, threadsafe)

    def _project_name(self, release: Release) -> str:
        if self.project is None:
            raise DeployError(f"{release.service}: building an image needs the project file")
        return self.project.project.name

    def _ensure_image(self, release: Release, emit: Emit) -> str:
        """The image of `release`, built if it is not there (by tag and digest label)."""
        settings = self.settings(release.service)
        client = client_for(docker_host(settings.docker_host))
        tag = images.image_tag(self._project_name(release), release.service, release.version)
        found = images.find_image(client, tag, release.digest)
        if found is not None:
            emit(f"image {tag} kept (release {release.short_digest}): not rebuilt")
            return tag
        began = time.monotonic()
        if settings.dockerfile is None:
            images.ensure_base(client, settings.base_image, emit)
            has_requirements = (Path(release.code_dir) / "requirements.txt").is_file()
            text = images.dockerfile_text(self._project_name(release), release,
                                          settings.base_image, has_requirements)
            context = images.build_context(release, None, text)
            dockerfile, origin = "Dockerfile", f"from {settings.base_image}"
        else:
            if not (Path(release.code_dir) / settings.dockerfile).is_file():
                raise DeployError(f"{release.service}: dockerfile {settings.dockerfile!r} is "
                                  f"not in the release (relative to the service's `path`; "
                                  f"not excluded?)")
            context = images.build_context(release, settings.dockerfile, None)
            dockerfile, origin = settings.dockerfile, f"with {settings.dockerfile}"
        emit(f"building image {tag} {origin}")
        with context:
            image_id = images.build(client, tag,
                                    images.image_labels(self._project_name(release), release),
                                    context, dockerfile, emit)
        emit(f"built image {tag} ({image_id[:19]}) in {time.monotonic() - began:.1f}s")
        return tag

    async def forget(self, service: str, versions: list[str]) -> None:
        if self.project is None:
            return
        client = client_for(docker_host(self.settings(service).docker_host))
        tags = [images.image_tag(self.project.project.name, service, v) for v in versions]
        await self._run(_remove_images, client, tags)

    async def sweep(self, emit: Emit) -> None:
        if self.project is None:
            return
        hosts = {docker_host(self.settings(n).docker_host) for n in self.project.deployables()}
        for host in sorted(hosts):
            client = client_for(host)
            for name in await self._run(self._remove_project_containers, client):
                emit(f"removed container {name}")

    def _remove_project_containers(self, client: Any) -> list[str]:
        assert self.project is not None
        found = client.containers.list(all=True, filters=project_filters(
            self.project.project.name, self.project_dir))
        for container in found:
            self._save_logs(container, container.labels.get("hotdeploy.instance", container.name))
            with contextlib.suppress(Exception):
                container.remove(force=True)
        return [c.name for c in found]

    # --- instances --------------------------------------------------------------------------
    async def start(self, spec: InstanceSpec) -> Handle:
        return await self._run(self._start, spec)

    def _start(self, spec: InstanceSpec) -> Handle:
        from docker.errors import DockerException

        settings = self.settings(spec.service)
        host = docker_host(settings.docker_host)
        client = client_for(host)
        tag = self._ensure_image(spec.release, lambda message: None)  # pruned: build again
        name = container_name(spec.project, spec.instance_id)
        self._remove_stale(client, name)
        if settings.network == "host":
            place = Placement("host", port=free_port(LOOPBACK))
        else:
            place = Placement("bridge", publish_host=self.publish_host())
        options = run_options(spec, settings, tag, place, self.project_dir, self.base_dir)
        try:
            container = client.containers.run(**options)
        except DockerException as exc:
            raise DeployError(f"{spec.instance_id}: could not start a container of {tag}: "
                              f"{str(exc).splitlines()[0][:300]}") from None
        if place.network == "host":
            endpoint = Endpoint(LOOPBACK, place.port)
        else:
            container.reload()
            port = published_port(container.attrs, place.port)
            if port is None:
                raise DeployError(f"{spec.instance_id}: the daemon published no port for "
                                  f"{place.port}/tcp of {name}")
            endpoint = Endpoint(place.publish_host, port)
        details = {"container": name, "id": container.id[:12], "image": tag,
                   "docker_host": host, "network": place.network,
                   "project": spec.project, "instance": spec.instance_id,
                   "log": str(self.log_dir / f"{spec.instance_id}.log")}
        if settings.stop_grace is not None:
            details["stop_grace"] = f"{settings.stop_grace:g}"
        return Handle(self.name, container.id, endpoint, details)

    def _remove_stale(self, client: Any, name: str) -> None:
        """A container left under this name (the crashed one this instance replaces)."""
        from docker.errors import NotFound

        try:
            old = client.containers.get(name)
        except NotFound:
            return
        self._save_logs(old, old.labels.get("hotdeploy.instance", name))
        with contextlib.suppress(NotFound):
            old.remove(force=True)

    async def stop(self, handle: Handle, grace: float) -> None:
        # `[runtime] stop_grace` wins over [deploy].stop_grace; docker stop -t is whole seconds.
        grace = float(handle.details.get("stop_grace", grace))
        await self._run(self._stop, handle, max(0, math.ceil(grace)))

    def _stop(self, handle: Handle, seconds: int) -> None:
        from docker.errors import NotFound

        container = self._container(handle)
        if container is None:
            return
        with contextlib.suppress(NotFound):
            container.stop(timeout=seconds)  # SIGTERM, SIGKILL after `seconds`
            self._save_logs(container, handle.details.get("instance", container.name))
            container.remove(force=True)

    async def state(self, handle: Handle) -> RunState:
        return await self._run(self._state, handle)

    def _state(self, handle: Handle) -> RunState:
        container = self._container(handle)
        if container is None:
            return RunState.EXITED
        return RunState.RUNNING if container.status in RUNNING else RunState.EXITED

    async def logs(self, handle: Handle, lines: int) -> list[str]:
        return await self._run(self._logs, handle, lines)

    def _logs(self, handle: Handle, lines: int) -> list[str]:
        container = self._container(handle)
        if container is None:  # removed: what it printed was saved when it was stopped
            return log_tail(handle.details.get("log", ""), lines).splitlines()
        text = container.logs(tail=lines, stdout=True, stderr=True).decode(errors="replace")
        out = text.splitlines()
        if container.status not in RUNNING:
            code = (container.attrs.get("State") or {}).get("ExitCode")
            out.append(f"(container {container.name} exited with code {code})")
        return out

    def record(self, handle: Handle) -> dict[str, Any]:
        return handle.to_json()

    async def adopt(self, record: dict[str, Any]) -> Handle | None:
        handle = Handle.from_json(record)
        container = await self._run(self._find, handle)
        if container is None or container.status not in RUNNING:
            return None
        return Handle(self.name, container.id, handle.endpoint, handle.details)

    # --- helpers ----------------------------------------------------------------------------
    def _client(self, handle: Handle) -> Any:
        return client_for(handle.details.get("docker_host") or docker_host(None))

    def _container(self, handle: Handle) -> Any | None:
        from docker.errors import NotFound

        try:
            return self._client(handle).containers.get(handle.ref)
        except NotFound:
            return None

    def _find(self, handle: Handle) -> Any | None:
        """By id, else by the project and instance labels (a container recreated under the
        same instance after the state file was written)."""
        found = self._container(handle)
        if found is not None or "instance" not in handle.details:
            return found
        labels = [f"hotdeploy.project={handle.details.get('project', '')}",
                  f"hotdeploy.instance={handle.details['instance']}"]
        if self.project_dir:
            labels.append(f"hotdeploy.project_dir={self.project_dir}")
        matches = self._client(handle).containers.list(filters={"label": labels})
        return matches[0] if matches else None

    def _save_logs(self, container: Any, instance: str) -> None:
        """Keep what a container printed once it is removed (`hotdeploy logs`, and the reason
        a crashed instance is quoted with)."""
        with contextlib.suppress(Exception):
            text = container.logs(tail=SAVED_LOG_LINES).decode(errors="replace")
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / f"{instance}.log", "a", encoding="utf-8") as log:
                log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} container "
                          f"{container.name} ({container.id[:12]})\n{text}")


def _remove_images(client: Any, tags: list[str]) -> None:
    from docker.errors import APIError, ImageNotFound

    for tag in tags:
        # In use by a container (an instance still runs it): kept, pruned next time.
        with contextlib.suppress(ImageNotFound, APIError):
            client.images.remove(tag)
