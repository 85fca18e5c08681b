"""The built-in engine behind the DataPlane interface: `hotdeploy lb` as a child process,
changed live through its NGINX Plus-shaped API (so it has every capability)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hotdeploy.dataplane.base import Capabilities, NewServer, ServerView
from hotdeploy.dataplane.builtin import process
from hotdeploy.dataplane.builtin.api import LbClient
from hotdeploy.dataplane.builtin.process import LbFiles
from hotdeploy.errors import ControlError
from hotdeploy.project.topology import Topology
from hotdeploy.runtimes.process import free_port, is_alive

UPSTREAMS_TIMEOUT = 10.0


class BuiltinDataPlane:
    engine = "builtin"
    capabilities = Capabilities(live_changes=True, drain_counts=True, server_counters=True,
                                active_checks=True)

    def __init__(self, state_dir: Path, source: str, record: dict[str, Any] | None = None) -> None:
        self.files = LbFiles(str(state_dir))
        self.source = source  # the project file, named in the generated configuration
        record = record or {}
        self.pid: int | None = record.get("pid")
        self.admin_port: int = int(record.get("admin_port", 0))
        self.admin_host = "127.0.0.1"
        self._api: LbClient | None = None

    @property
    def api(self) -> LbClient:
        if self._api is None:
            self._api = LbClient(self.admin)
        return self._api

    @property
    def admin(self) -> str:
        return f"{self.admin_host}:{self.admin_port}"

    def record(self) -> dict[str, Any]:
        return {"engine": self.engine, "pid": self.pid, "admin_port": self.admin_port}

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": "live", "pid": self.pid,
                "api": f"http://{self.admin}" if self.admin_port else None,
                "capabilities": {
                    "live_changes": True, "drain_counts": True, "server_counters": True,
                    "active_checks": True}}

    async def running(self) -> bool:
        return bool(self.pid and self.admin_port and is_alive(self.pid)
                    and await self.api.ping())

    async def apply(self, topology: Topology) -> str:
        self.admin_host = topology.admin_host
        if await self.running():
            assert self.pid is not None
            if not process.write_config(topology, self.files, self.admin_port, self.source):
                return f"adopted the balancer (pid {self.pid})"
            # hotdeploy.toml changed since the balancer started (routes, services)
            process.check_config(self.files)
            process.reload(self.pid)
            await self._await_upstreams(topology)
            return (f"adopted the balancer (pid {self.pid}); the project file changed: "
                    "balancer configuration reloaded")
        self.admin_port = self.admin_port or free_port(self.admin_host)
        self._api = None
        process.write_config(topology, self.files, self.admin_port, self.source)
        self.pid = process.start(self.files)
        await process.wait_ready(self.api, self.pid, self.files)
        host, port = topology.listen
        return f"balancer started (pid {self.pid}) on {host}:{port}, API on {self.admin}"

    async def _await_upstreams(self, topology: Topology) -> None:
        """After a reload, the new configuration's upstreams answer in the API."""
        deadline = time.monotonic() + UPSTREAMS_TIMEOUT
        for spec in topology.upstreams:
            while True:
                try:
                    await self.api.peers(spec.name)
                    break
                except ControlError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    async def add(self, upstream: str, server: NewServer) -> int:
        return await self.api.add(upstream, server)

    async def update(self, upstream: str, server_id: int, *, weight: int | None = None,
                     drain: bool | None = None, down: bool | None = None,
                     backup: bool | None = None) -> None:
        await self.api.patch(upstream, server_id, weight=weight, drain=drain, down=down,
                             backup=backup)

    async def remove(self, upstream: str, server_id: int) -> None:
        await self.api.remove(upstream, server_id)

    async def servers(self, upstream: str) -> list[ServerView]:
        return await self.api.peers(upstream)

    async def stop(self, grace: float) -> None:
        if self.pid:
            await process.stop(self.pid, grace)
        if self._api is not None:
            await self._api.aclose()
            self._api = None
