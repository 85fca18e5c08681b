"""Reload mode: an nginx without the Lua module. Servers are `server` lines in an include
file; each change rewrites it, checks it (`nginx -t`) and reloads, and the reload counts only
once a worker of the new generation answers. Changes that arrive together (one deploy step)
share one reload. nginx counts nothing per server and cannot change a server live, so every
capability is off: the orchestrator removes a server and waits drain_timeout, gates new
instances with its own probe and refuses canary deploys.

A reload closes the old workers' idle keep-alive connections at once (trac #1022): a client
that sends on one at that moment sees a reset. That race is nginx's; live mode avoids it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from hotdeploy.dataplane.base import Capabilities, NewServer, ServerView
from hotdeploy.dataplane.nginx import process
from hotdeploy.dataplane.nginx.config import (
    Runtime,
    StaticServer,
    render_reload,
    render_upstreams,
    with_generation,
)
from hotdeploy.dataplane.nginx.detect import NginxInstall
from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.dataplane.nginx.reload_checks import ReloadChecks
from hotdeploy.errors import ControlError
from hotdeploy.fileio import atomic_write
from hotdeploy.project.topology import Topology
from hotdeploy.runtimes.process import free_port, is_alive

BATCH_WINDOW = 0.05  # seconds: changes within it go into one reload


class NginxReloadDataPlane:
    engine = "nginx"
    mode = "reload"
    capabilities = Capabilities(live_changes=False, drain_counts=False, server_counters=False,
                                active_checks=False)

    def __init__(self, state_dir: Path, source: str, install: NginxInstall,
                 record: dict[str, Any] | None = None) -> None:
        record = record or {}
        self.paths = NginxPaths.under(state_dir)
        self.source = source
        self.install = install
        self.pid: int | None = record.get("pid")
        self.admin_port = int(record.get("admin_port", 0))
        self.admin_host = "127.0.0.1"
        self.topology: Topology | None = None
        self.generation: str | None = None
        self.next_id, self.table = self._load()
        self._pending: asyncio.Future[None] | None = None
        self.reloads = 0
        self._checks: asyncio.Task[None] | None = None

    # --- the server table (ours: nginx has no API to ask) ---------------------------------------
    def _load(self) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        try:
            data = json.loads(Path(self.paths.servers).read_text())
        except (OSError, ValueError):
            return 0, {}
        return int(data.get("nextid", 0)), dict(data.get("upstreams", {}))

    def _save(self) -> None:
        atomic_write(self.paths.servers, json.dumps({"nextid": self.next_id,
                                                     "upstreams": self.table}), fsync=False)

    def _find(self, upstream: str, server_id: int) -> dict[str, Any]:
        for server in self.table.get(upstream, []):
            if server["id"] == server_id:
                return server
        raise ControlError(f"nginx: upstream {upstream} has no server {server_id}")

    # --- DataPlane ------------------------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": self.mode, "pid": self.pid,
                "admin_port": self.admin_port, "nginx": self.install.binary}

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": self.mode, "pid": self.pid,
                "nginx": f"{self.install.binary} ({self.install.version})", "api": None,
                "reloads": self.reloads,
                "health_checks": "control process" if self._checks else None,
                "capabilities": {"live_changes": False, "drain_counts": False,
                                 "server_counters": False, "active_checks": False}}

    async def _generation_answered(self) -> str | None:
        try:
            async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
                resp = await http.get(f"http://{self.admin_host}:{self.admin_port}/generation")
        except httpx.HTTPError:
            return None
        return resp.text if resp.status_code == 200 else None

    async def running(self) -> bool:
        return bool(self.pid and self.admin_port and is_alive(self.pid)
                    and await self._generation_answered() is not None)

    def _render(self) -> tuple[str, str, str]:
        assert self.topology is not None
        # an unhealthy server (reload_checks) is rendered `down` until it passes again
        servers = {name: [StaticServer(s["server"], s["weight"], s["backup"], s["max_fails"],
                                       s["fail_timeout"], s["down"] or bool(s.get("unhealthy")))
                          for s in listed]
                   for name, listed in self.table.items()}
        include = render_upstreams(self.topology, servers)
        conf, generation = with_generation(render_reload(self.topology, Runtime(
            self.paths, self.admin_port, source=self.source)), include)
        return conf, include, generation

    async def apply(self, topology: Topology) -> str:
        self.topology = topology
        self.admin_host = topology.admin_host
        Path(self.paths.prefix).mkdir(parents=True, exist_ok=True)
        process.prepare(self.paths)
        if await self.running():
            conf, include, generation = self._render()
            if generation == await self._generation_answered():
                self._start_checks(topology)
                return f"adopted nginx (pid {self.pid}, reload mode)"
            await self._write_check_reload(conf, include, generation)
            self._start_checks(topology)
            return (f"adopted nginx (pid {self.pid}); the project file changed: "
                    "configuration reloaded")
        self.admin_port = self.admin_port or free_port(self.admin_host)
        conf, include, generation = self._render()
        self._write(conf, include)
        process.check_config(self.install.binary, self.paths)
        self.pid = process.start(self.install.binary, self.paths)
        self.generation = generation

        async def answered() -> bool:
            return await self._generation_answered() == generation

        await process.wait_until(self.pid, self.paths, answered, "starting")
        self._start_checks(topology)
        host, port = topology.listen
        return (f"nginx {self.install.version} started (pid {self.pid}, reload mode: no Lua "
                f"module) on {host}:{port}")

    def _start_checks(self, topology: Topology) -> None:
        """(Re)start the control process's checks on this topology's probes."""
        if self._checks is not None:
            self._checks.cancel()
        self._checks = asyncio.create_task(
            ReloadChecks(lambda: self.table, self._commit).run(topology))

    def _write(self, conf: str, include: str) -> None:
        atomic_write(self.paths.upstreams_include, include, fsync=False)
        atomic_write(self.paths.conf, conf, fsync=False)

    async def _write_check_reload(self, conf: str, include: str, generation: str) -> None:
        assert self.pid is not None
        old = [Path(p).read_text() if Path(p).exists() else ""
               for p in (self.paths.conf, self.paths.upstreams_include)]
        self._write(conf, include)
        try:
            process.check_config(self.install.binary, self.paths)
        except ControlError:
            self._write(old[0], old[1])  # nginx keeps running the old configuration
            raise
        process.reload(self.pid)

        async def answered() -> bool:
            return await self._generation_answered() == generation

        await process.wait_until(self.pid, self.paths, answered, "the reload",
                                 process.RELOAD_TIMEOUT)
        self.generation = generation
        self.reloads += 1

    async def _commit(self) -> None:
        """Changes of one step arrive within a few ms of each other: one reload for all."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._flush_later())
        await asyncio.shield(self._pending)

    async def _flush_later(self) -> None:
        await asyncio.sleep(BATCH_WINDOW)
        self._pending = None
        conf, include, generation = self._render()
        try:
            await self._write_check_reload(conf, include, generation)
        except ControlError:
            self.next_id, self.table = self._load()  # back to what nginx runs
            raise
        self._save()

    async def add(self, upstream: str, server: NewServer) -> int:
        self.next_id += 1
        server_id = self.next_id  # others may add while this one waits for the reload
        self.table.setdefault(upstream, []).append({
            "id": server_id, "server": server.address, "weight": server.weight,
            "backup": server.backup,
            "max_fails": 1 if server.max_fails is None else server.max_fails,
            "fail_timeout": 10.0 if server.fail_timeout is None else server.fail_timeout,
            "down": False})
        await self._commit()
        return server_id

    async def update(self, upstream: str, server_id: int, *, weight: int | None = None,
                     drain: bool | None = None, down: bool | None = None,
                     backup: bool | None = None) -> None:
        server = self._find(upstream, server_id)
        if weight is not None:
            server["weight"] = weight
        if backup is not None:
            server["backup"] = backup
        # OSS nginx has no `drain`: the nearest is `down` (no new requests).
        for flag in (drain, down):
            if flag is not None:
                server["down"] = flag
        await self._commit()

    async def remove(self, upstream: str, server_id: int) -> None:
        self.table[upstream] = [s for s in self.table.get(upstream, [])
                                if s["id"] != server_id]
        await self._commit()

    async def servers(self, upstream: str) -> list[ServerView]:
        if self._pending is not None:
            await asyncio.shield(self._pending)
        return [ServerView(id=s["id"], address=s["server"],
                           state="down" if s["down"] else
                           "unhealthy" if s.get("unhealthy") else "up", active=0, requests=0,
                           server_errors=0, responses_total=0, weight=s["weight"],
                           backup=s["backup"], response_time=None, fails=0)
                for s in self.table.get(upstream, [])]

    async def stop(self, grace: float) -> None:
        if self._checks is not None:
            self._checks.cancel()
        if self.pid:
            await process.stop(self.pid, grace)
        Path(self.paths.servers).unlink(missing_ok=True)
