"""The controller: one project's orchestrator state, its runtimes (one per `[runtime] kind` in
use: each service or unit may choose its own), its data plane and its release store, and the
boot sequence that starts or adopts everything.

It knows no transport: the control socket (orchestrator.server) and the unit tests (with the
fakes of hotdeploy.testing) drive the same object through the commands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from hotdeploy.dataplane import dataplane_for, same_engine
from hotdeploy.dataplane.base import DataPlane
from hotdeploy.errors import HotdeployError
from hotdeploy.orchestrator import instances as ops
from hotdeploy.orchestrator import rollout, teardown
from hotdeploy.orchestrator.autoscaler import Autoscaler
from hotdeploy.orchestrator.backoff import RestartPolicy
from hotdeploy.orchestrator.model import ControlState, InstanceState, ServiceState
from hotdeploy.orchestrator.releases import (
    Built,
    Release,
    ReleaseSettings,
    ReleaseStore,
    SourceFilter,
)
from hotdeploy.orchestrator.state import ProjectPaths, load_state, save_state
from hotdeploy.orchestrator.supervisor import Supervisor
from hotdeploy.project.loader import load_project
from hotdeploy.project.model import Project
from hotdeploy.project.topology import topology_of
from hotdeploy.runtimes import runtime_for
from hotdeploy.runtimes.base import Handle, ReleaseArtifacts, Runtime

Emit = Callable[[str], None]


class Controller:
    def __init__(self, project_file: str, *, runtime: Runtime | None = None,
                 dataplane: DataPlane | None = None, probe: ops.Probe = ops.http_probe,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 log: Callable[[str], None] | None = None) -> None:
        self.paths = ProjectPaths.for_file(project_file)
        self.project: Project = load_project(self.paths.project_file)
        self.topology = topology_of(self.project)
        self.state = load_state(self.paths.state_file) or ControlState()
        # A runtime given here (the tests' fake) runs every service, whatever its kind.
        self._forced_runtime = runtime
        self.runtimes: dict[str, Runtime] = {}
        self.runtime = self.runtime_named(self.project.runtime.kind)  # the project's default
        # A recorded engine other than the project's is stopped at boot and the project's
        # started; `_reconcile` then replaces the instances (the new engine lists none).
        self.previous: DataPlane | None = None
        record = self.state.dataplane
        if dataplane is None and record and not same_engine(record, self.project.balancer):
            self.previous = dataplane_for(record, self.paths.state_dir,
                                          str(self.paths.project_file))
            record = {}
        self.dataplane = dataplane or dataplane_for(record, self.paths.state_dir,
                                                    str(self.paths.project_file),
                                                    self.project.balancer)
        self.store = ReleaseStore(self.paths.releases)
        self.locks: dict[str, asyncio.Lock] = {n: asyncio.Lock()
                                               for n in self.project.deployables()}
        self.ready = False
        self.boot_error: str | None = None
        self.boot_log: list[str] = []
        self._log = log or _print
        self.probe, self.clock, self.sleep = probe, clock, sleep
        self._autoscaler: Autoscaler | None = None

    # --- plumbing -----------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self._log(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}")

    def persist(self) -> None:
        self.state.dataplane = self.dataplane.record()
        save_state(self.paths.state_file, self.state)

    @property
    def active_passive(self) -> bool:
        return self.project.balancer.strategy == "active-passive"

    def runtime_named(self, kind: str) -> Runtime:
        """The runtime of that kind (created on first use: a docker runtime connects lazily)."""
        if self._forced_runtime is not None:
            return self._forced_runtime
        if kind not in self.runtimes:
            self.runtimes[kind] = runtime_for(kind, self.paths.logs, self.project,
                                              self.paths.base)
        return self.runtimes[kind]

    def runtime_of(self, name: str) -> Runtime:
        """The runtime a service or unit runs on (`[runtime]` and its own overrides)."""
        return self.runtime_named(self.project.runtime_of(name).kind)

    def runtime_of_handle(self, handle: Handle) -> Runtime:
        """The runtime that started a recorded instance (kinds may change between runs)."""
        return self.runtime_named(handle.runtime)

    def runtime_kinds(self) -> set[str]:
        """Every kind the project file uses or a recorded instance ran on."""
        kinds = {self.project.runtime_of(n).kind for n in self.project.deployables()}
        kinds |= {i.handle.runtime for svc in self.state.services.values()
                  for i in [*svc.instances, *svc.standby]}
        return kinds

    def context(self, name: str, emit: Emit | None = None) -> ops.ServiceContext:
        def both(message: str) -> None:
            self.log(f"{name}: {message}")
            if emit is not None:
                emit(message)

        return ops.ServiceContext(
            project=self.project.project.name, service=self.state.services[name],
            upstream=self.topology.upstream(name), health=self.project.health_of(name),
            deploy=self.project.deploy, runtime=self.runtime_of(name), dataplane=self.dataplane,
            persist=self.persist, emit=both, probe=self.probe, clock=self.clock,
            sleep=self.sleep)

    def supervisor(self) -> Supervisor:
        cfg = self.project.deploy.restart
        policy = RestartPolicy(cfg.backoff, cfg.max_backoff, cfg.max_restarts, cfg.window)
        return Supervisor(lambda: {n: self.context(n) for n in self.state.services},
                          self.locks, policy, self.log)

    def autoscaler(self) -> Autoscaler:
        """The one autoscaler of this control process (`status` reads its measurements)."""
        if self._autoscaler is None:
            sections = {n: dep.autoscale for n, dep in self.project.deployables().items()
                        if dep.autoscale is not None}
            self._autoscaler = Autoscaler(sections, self.context, self.locks,
                                          self.active_passive, self.log, self.clock)
        return self._autoscaler

    # --- releases -------------------------------------------------------------------------------
    def source_filter(self, name: str) -> SourceFilter:
        dep = self.project.deployables()[name]
        return SourceFilter(self.paths.source_dir(dep.path), tuple(dep.exclude))

    def settings_of(self, name: str) -> ReleaseSettings:
        """The release settings hotdeploy.toml gives a service or unit."""
        dep = self.project.deployables()[name]
        health = self.project.health_of(name)
        if name in self.project.units:
            unit = self.project.units[name]
            return ReleaseSettings(health=health, artifacts=dict(unit.artifacts),
                                   env=dict(dep.env))
        svc = self.project.services[name]
        return ReleaseSettings(health=health, app=svc.app, command=svc.command,
                               env=dict(dep.env))

    def build(self, name: str, settings: ReleaseSettings, version: str | None,
              on_conflict: str = "refuse") -> Built:
        live = frozenset(self.state.services[name].releases_in_use()) \
            if name in self.state.services else frozenset()
        return self.store.build(name, self.source_filter(name), settings, version,
                                on_conflict=on_conflict, live=live)

    async def prepare(self, name: str, release: Release, emit: Emit) -> None:
        """Whatever the service's runtime makes of a release before running it (an image)."""
        runtime = self.runtime_of(name)
        if isinstance(runtime, ReleaseArtifacts):
            await runtime.prepare(release, emit)

    async def prune_releases(self, name: str, emit: Emit) -> None:
        svc = self.state.services[name]
        removed = self.store.prune(name, self.project.deploy.keep_releases,
                                   svc.releases_in_use())
        if removed:
            emit(f"pruned releases {', '.join(removed)} (keep_releases = "
                 f"{self.project.deploy.keep_releases})")
            runtime = self.runtime_of(name)
            if isinstance(runtime, ReleaseArtifacts):
                await runtime.forget(name, removed)

    # --- boot: start or adopt -------------------------------------------------------------------
    async def boot(self) -> None:
        try:
            if self.previous is not None:
                await self._switch_engine(self.previous)
            self._boot(await self.dataplane.apply(self.topology))
            self.persist()
            for name in [n for n in self.state.services if n not in self.project.deployables()]:
                gone = self.state.services.pop(name)  # removed from hotdeploy.toml
                self._boot(f"{name} is no longer in the project file: stopping its instances")
                await teardown.stop_instances(self.runtime_named,
                                              [*gone.instances, *gone.standby],
                                              self.project.deploy.stop_grace)
            for name, dep in self.project.deployables().items():
                if name not in self.state.services:
                    built = self.build(name, self.settings_of(name), dep.version,
                                       on_conflict="suffix")
                    if built.note:
                        self._boot(f"{name}: {built.note}")
                    await self.prepare(name, built.release, self._boot)
                    self.state.services[name] = ServiceState(
                        name=name, release=built.release, desired=dep.instances)
            self.persist()
            await asyncio.gather(*(self._reconcile(n) for n in self.project.deployables()))
            for name in self.project.deployables():
                release = self.state.services[name].release
                if not self.store.went_live(name, release.version):
                    self.store.record_live(release, "up")
            self.ready = True
            host, port = self.topology.listen
            self._boot(f"ready: http://{host}:{port}")
        except HotdeployError as exc:
            self.boot_error = str(exc)
            self._boot(f"boot failed: {exc}")
        except Exception as exc:  # a bug or a library's own error: say so instead of hanging `up`
            self.boot_error = f"internal error: {exc!r}"
            self._boot(f"boot failed: {self.boot_error}")

    async def _switch_engine(self, old: DataPlane) -> None:
        """The project names another engine than the one running: stop the old one (it holds
        the listen port) and forget its server ids; `_reconcile` stops the instances the new
        engine does not list and `converge` starts the desired count on it."""
        self._boot(f"[balancer] engine is now {self.dataplane.engine!r} "
                   f"({self.dataplane.describe().get('mode')}); stopping the running "
                   f"{old.engine!r} balancer")
        await old.stop(self.project.deploy.stop_grace)
        for svc in self.state.services.values():
            for info in svc.instances:
                info.server_id = None
        self.previous = None

    def _boot(self, message: str) -> None:
        self.boot_log.append(message)
        self.log(message)

    def _boot_event(self, message: str) -> None:
        self.boot_log.append(message)  # context() has logged it already

    async def _reconcile(self, name: str) -> None:
        """Make the data plane and the state file agree with what runs, then top up."""
        async with self.locks[name]:
            ctx = self.context(name, self._boot_event)
            svc = ctx.service
            views = {v.address: v for v in await self.dataplane.servers(ctx.upstream.name)}
            for info in list(svc.instances):
                view = views.pop(info.address, None)
                alive = await self._adopt(info.handle)
                # An instance of another runtime kind (the service's kind changed in the
                # project file) is replaced, not adopted: every later step of this service
                # acts through its current runtime.
                same_kind = info.handle.runtime == ctx.runtime.name
                if alive and same_kind and view is not None and info.state in (
                        InstanceState.SERVING, InstanceState.STARTING):
                    info.server_id = view.id
                    info.move(InstanceState.SERVING)
                    if view.state == "draining":  # an interrupted deploy was retiring it
                        await ops.retire(ctx, info)
                    continue
                info.server_id = view.id if view is not None else None
                if view is not None and info.state == InstanceState.STOPPING:
                    await self.dataplane.remove(ctx.upstream.name, view.id)
                    info.server_id = None
                elif view is not None:
                    await ops.unlist(ctx, info)
                if alive and not same_kind:  # stopped where it runs
                    await self.runtime_of_handle(info.handle).stop(
                        info.handle, self.project.deploy.stop_grace)
                    svc.instances.remove(info)
                elif alive:
                    await ops.stop(ctx, info)
                else:
                    svc.instances.remove(info)
            for view in views.values():  # servers no instance owns any more
                await self.dataplane.remove(ctx.upstream.name, view.id)
            for info in [i for i in svc.standby if i.handle.runtime != ctx.runtime.name]:
                await self.runtime_of_handle(info.handle).stop(info.handle,
                                                               self.project.deploy.stop_grace)
                svc.standby.remove(info)
            svc.standby = [i for i in svc.standby if await self._adopt(i.handle)]
            self.persist()
            await rollout.converge(ctx, self.active_passive)
            self._boot(f"{name}: {len(svc.instances)} instances serving version "
                       f"{svc.release.version} (release {svc.release.short_digest})")

    async def _adopt(self, handle: Handle) -> bool:
        runtime = self.runtime_of_handle(handle)
        return await runtime.adopt(runtime.record(handle)) is not None

    async def watch_dataplane(self) -> None:
        """A balancer that died is started again; the built-in one keeps its servers in its
        state files, so instances need not be touched."""
        while True:
            await asyncio.sleep(1.0)
            if not await self.dataplane.running():
                self.log(f"the {self.dataplane.engine} balancer is not running; starting it")
                try:
                    self.log(await self.dataplane.apply(self.topology))
                    self.persist()
                except HotdeployError as exc:
                    self.log(f"could not restart the balancer: {exc}")


def _print(line: str) -> None:
    print(line, flush=True)

