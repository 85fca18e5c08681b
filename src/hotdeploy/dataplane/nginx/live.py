"""Live mode: nginx with the Lua balancer. Servers change through the admin API without a
reload (no keep-alive connection is dropped), the shared dict counts in-flight requests and
responses per server, and worker 0 runs the active checks: every capability."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from hotdeploy.dataplane.base import Capabilities, NewServer, ServerView
from hotdeploy.dataplane.nginx import process
from hotdeploy.dataplane.nginx.admin import AdminClient
from hotdeploy.dataplane.nginx.config import Runtime, generation_of, render_live
from hotdeploy.dataplane.nginx.detect import NginxInstall
from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.errors import ControlError
from hotdeploy.fileio import atomic_write, write_if_changed
from hotdeploy.project.topology import Topology
from hotdeploy.runtimes.process import free_port, is_alive


def lua_dir() -> str:
    """Where hotdeploy_balancer.lua is installed (package data)."""
    return str(resources.files("hotdeploy.dataplane.nginx") / "lua")


class NginxLiveDataPlane:
    engine = "nginx"
    mode = "live"
    capabilities = Capabilities(live_changes=True, drain_counts=True, server_counters=True,
                                active_checks=True)

    def __init__(self, state_dir: Path, source: str, install: NginxInstall,
                 record: dict[str, Any] | None = None) -> None:
        record = record or {}
        self.paths = NginxPaths.under(state_dir)
        self.source = source
        self.install = install
        self.pid: int | None = record.get("pid")
        self.admin_port = int(record.get("admin_port", 0))
        self.admin_host = "127.0.0.1"
        self._api: AdminClient | None = None

    @property
    def admin(self) -> str:
        return f"{self.admin_host}:{self.admin_port}"

    @property
    def api(self) -> AdminClient:
        if self._api is None:
            self._api = AdminClient(self.admin)
        return self._api

    def record(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": self.mode, "pid": self.pid,
                "admin_port": self.admin_port, "nginx": self.install.binary}

    def describe(self) -> dict[str, Any]:
        caps = self.capabilities
        return {"engine": self.engine, "mode": self.mode, "pid": self.pid,
                "nginx": f"{self.install.binary} ({self.install.version})",
                "api": f"http://{self.admin}/api/9" if self.admin_port else None,
                "capabilities": {"live_changes": caps.live_changes,
                                 "drain_counts": caps.drain_counts,
                                 "server_counters": caps.server_counters,
                                 "active_checks": caps.active_checks}}

    async def running(self) -> bool:
        return bool(self.pid and self.admin_port and is_alive(self.pid)
                    and await self.api.ping())

    def _render(self, topology: Topology) -> str:
        return render_live(topology, Runtime(self.paths, self.admin_port, lua_dir(),
                                             self.install.modules, None, self.source))

    async def apply(self, topology: Topology) -> str:
        self.admin_host = topology.admin_host
        Path(self.paths.prefix).mkdir(parents=True, exist_ok=True)
        process.prepare(self.paths)
        if await self.running():
            assert self.pid is not None
            text = self._render(topology)
            old = Path(self.paths.conf).read_text() if Path(self.paths.conf).exists() else ""
            if not write_if_changed(self.paths.conf, text):
                return f"adopted nginx (pid {self.pid}, live mode)"
            # hotdeploy.toml changed since nginx started: reload; the shared dict keeps the
            # servers and their counters across it.
            try:
                process.check_config(self.install.binary, self.paths)
            except ControlError:
                atomic_write(self.paths.conf, old, fsync=False)  # nginx runs the old one
                raise
            await self._reload(generation_of(text))
            return (f"adopted nginx (pid {self.pid}); the project file changed: "
                    "configuration reloaded")
        self.admin_port = self.admin_port or free_port(self.admin_host)
        self._api = None
        text = self._render(topology)
        write_if_changed(self.paths.conf, text)
        process.check_config(self.install.binary, self.paths)
        self.pid = process.start(self.install.binary, self.paths)
        await process.wait_until(self.pid, self.paths, self.api.ping, "starting")
        host, port = topology.listen
        return (f"nginx {self.install.version} started (pid {self.pid}, live mode: Lua "
                f"balancer) on {host}:{port}, admin API on {self.admin}")

    async def _reload(self, generation: str | None) -> None:
        assert self.pid is not None
        process.reload(self.pid)

        async def applied() -> bool:
            return await self.api.generation() == generation

        await process.wait_until(self.pid, self.paths, applied, "the reload",
                                 process.RELOAD_TIMEOUT)

    async def _save(self) -> None:
        """Servers to the file a restarted nginx starts from (its shared dict is gone)."""
        atomic_write(self.paths.servers, json.dumps(await self.api.saved_servers()),
                     fsync=False)

    async def add(self, upstream: str, server: NewServer) -> int:
        server_id = await self.api.add(upstream, server)
        await self._save()
        return server_id

    async def update(self, upstream: str, server_id: int, *, weight: int | None = None,
                     drain: bool | None = None, down: bool | None = None,
                     backup: bool | None = None) -> None:
        await self.api.patch(upstream, server_id, weight=weight, drain=drain, down=down,
                             backup=backup)
        await self._save()

    async def remove(self, upstream: str, server_id: int) -> None:
        await self.api.remove(upstream, server_id)
        await self._save()

    async def servers(self, upstream: str) -> list[ServerView]:
        return await self.api.peers(upstream)

    async def stop(self, grace: float) -> None:
        if self.pid:
            await process.stop(self.pid, grace)
        if self._api is not None:
            await self._api.aclose()
            self._api = None
        if os.path.exists(self.paths.servers):
            os.unlink(self.paths.servers)  # `down`: the next `up` starts with no servers
