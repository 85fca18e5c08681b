"""A fake runtime, a fake data plane and a fake clock for the orchestrator's unit tests.

They keep the contracts of the real parts (runtimes.base.Runtime, dataplane.base.DataPlane)
and add what a test needs: faults to inject at a chosen operation, instances that never
become healthy or crash, and a record of every call. Time is virtual: `sleep` advances the
clock at once, so a 30 s drain_timeout costs nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from hotdeploy.dataplane.base import Capabilities, NewServer, ServerView
from hotdeploy.errors import ControlError
from hotdeploy.project.topology import Topology
from hotdeploy.runtimes.base import Endpoint, Handle, InstanceSpec, RunState

ALL = Capabilities(live_changes=True, drain_counts=True, server_counters=True,
                   active_checks=True)


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


class Faults:
    """Counts operations across the fakes and raises at the one chosen (once)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.count = 0
        self.log: list[str] = []

    def tick(self, operation: str) -> None:
        self.count += 1
        self.log.append(operation)
        if self.fail_at is not None and self.count == self.fail_at:
            self.fail_at = None
            raise ControlError(f"injected fault at operation {self.count} ({operation})")


@dataclass
class FakeInstance:
    spec: InstanceSpec
    handle: Handle
    running: bool = True
    healthy: bool = True


@dataclass
class FakeRuntime:
    faults: Faults = field(default_factory=Faults)
    # Releases (by version) whose instances never answer their health check, or exit at once.
    unhealthy: set[str] = field(default_factory=set)
    crashing: set[str] = field(default_factory=set)
    instances: dict[str, FakeInstance] = field(default_factory=dict)  # by ref
    name: str = "fake"
    _ports: itertools.count[int] = field(default_factory=lambda: itertools.count(20001))

    async def start(self, spec: InstanceSpec) -> Handle:
        self.faults.tick(f"start {spec.instance_id}")
        port = next(self._ports)
        handle = Handle(self.name, f"fake-{port}", Endpoint("127.0.0.1", port),
                        {"code": spec.release.code_dir})
        self.instances[handle.ref] = FakeInstance(
            spec, handle, running=spec.release.version not in self.crashing,
            healthy=spec.release.version not in self.unhealthy)
        return handle

    async def stop(self, handle: Handle, grace: float) -> None:
        self.faults.tick(f"stop {handle.ref}")
        if handle.ref in self.instances:
            self.instances[handle.ref].running = False

    async def state(self, handle: Handle) -> RunState:
        inst = self.instances.get(handle.ref)
        return RunState.RUNNING if inst is not None and inst.running else RunState.EXITED

    async def logs(self, handle: Handle, lines: int) -> list[str]:
        inst = self.instances.get(handle.ref)
        return [] if inst is None else [f"fake log of {inst.spec.instance_id}"]

    def record(self, handle: Handle) -> dict[str, Any]:
        return handle.to_json()

    async def adopt(self, record: dict[str, Any]) -> Handle | None:
        handle = Handle.from_json(record)
        inst = self.instances.get(handle.ref)
        return handle if inst is not None and inst.running else None

    async def probe(self, url: str) -> tuple[bool, str]:
        """The health probe: answers for the instance listening at the URL's endpoint."""
        self.faults.tick(f"probe {url}")
        address = url.split("//", 1)[1].split("/", 1)[0]
        for inst in self.instances.values():
            if str(inst.handle.endpoint) == address and inst.running:
                return (True, "HTTP 200 'ok'") if inst.healthy else (False, "HTTP 503 'no'")
        return False, "ConnectError: connection refused"

    def kill(self, instance_id: str) -> None:
        for inst in self.instances.values():
            if inst.spec.instance_id == instance_id and inst.running:
                inst.running = False
                return
        raise KeyError(instance_id)

    def running(self) -> list[FakeInstance]:
        return [i for i in self.instances.values() if i.running]


@dataclass
class FakeDataPlane:
    faults: Faults = field(default_factory=Faults)
    capabilities: Capabilities = ALL
    engine: str = "fake"
    upstreams: dict[str, dict[int, ServerView]] = field(default_factory=dict)
    topology: Topology | None = None
    # In-flight requests each server reports while draining, counting down per look.
    inflight: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def apply(self, topology: Topology) -> str:
        self.topology = topology
        for spec in topology.upstreams:
            self.upstreams.setdefault(spec.name, {})
        return "fake balancer applied"

    async def running(self) -> bool:
        return True

    def _group(self, upstream: str) -> dict[int, ServerView]:
        if upstream not in self.upstreams:
            raise ControlError(f"upstream {upstream!r} not found")
        return self.upstreams[upstream]

    async def add(self, upstream: str, server: NewServer) -> int:
        self.faults.tick(f"add {server.address}")
        server_id = next(self._ids)
        self._group(upstream)[server_id] = ServerView(
            id=server_id, address=server.address, state="up", active=0, requests=0,
            server_errors=0, responses_total=0, weight=server.weight, backup=server.backup,
            response_time=None, fails=0)
        return server_id

    async def update(self, upstream: str, server_id: int, *, weight: int | None = None,
                     drain: bool | None = None, down: bool | None = None,
                     backup: bool | None = None) -> None:
        self.faults.tick(f"update {server_id}")
        group = self._group(upstream)
        if server_id not in group:
            raise ControlError(f"server {server_id} not found")
        view = group[server_id]
        if weight is not None:
            view = replace(view, weight=weight)
        if drain is not None:
            view = replace(view, state="draining" if drain else "up",
                           active=self.inflight.get(view.address, 0) if drain else view.active)
        group[server_id] = view

    async def remove(self, upstream: str, server_id: int) -> None:
        self.faults.tick(f"remove {server_id}")
        if self._group(upstream).pop(server_id, None) is None:
            raise ControlError(f"server {server_id} not found")

    async def servers(self, upstream: str) -> list[ServerView]:
        self.faults.tick(f"servers {upstream}")
        group = self._group(upstream)
        for server_id, view in list(group.items()):  # draining requests finish one per look
            if view.state == "draining" and view.active:
                group[server_id] = replace(view, active=view.active - 1)
        return list(group.values())

    async def stop(self, grace: float) -> None:
        self.upstreams.clear()

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": "fake", "pid": None, "api": None}

    def record(self) -> dict[str, Any]:
        return {"engine": self.engine}

    def listed(self, upstream: str) -> dict[str, ServerView]:
        """Servers by address, for assertions."""
        return {v.address: v for v in self.upstreams.get(upstream, {}).values()}
