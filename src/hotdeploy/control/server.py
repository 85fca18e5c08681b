"""The control process: owns .hotdeploy/state.json, starts or adopts the balancer and the
instances, supervises them, and answers the CLI on a Unix socket.

Protocol: one JSON request per connection (`{"cmd": "deploy", ...}` and a newline); the
answer is zero or more `{"event": "..."}` lines (live progress) and one final line
`{"ok": true, "result": ...}` or `{"ok": false, "error": "...", "exit_code": N}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import asdict
from typing import Any

from hotdeploy.control import balancer, teardown
from hotdeploy.control.lbclient import LbClient
from hotdeploy.control.nginxconf import upstream_name
from hotdeploy.control.state import ControlState, ProjectPaths, ServiceState, load_state, save_state
from hotdeploy.control.supervisor import Supervisor
from hotdeploy.deploy import actions
from hotdeploy.deploy import instances as ops
from hotdeploy.deploy.backoff import RestartPolicy
from hotdeploy.errors import ControlError, HotdeployError
from hotdeploy.project.loader import load_project
from hotdeploy.project.model import split_host_port
from hotdeploy.runtimes.base import InstanceInfo, Release
from hotdeploy.runtimes.local import LocalRuntime, free_port, is_alive


def initial_release(project: Any, name: str) -> Release:
    dep = project.deployables()[name]
    if name in project.units:
        return Release(dep.version, artifacts=dict(dep.artifacts), env=dict(dep.env))
    return Release(dep.version, app=dep.app, command=dep.command, env=dict(dep.env))


class Controller:
    def __init__(self, project_file: str) -> None:
        self.paths = ProjectPaths.for_file(project_file)
        self.project = load_project(self.paths.project_file)
        self.state = load_state(self.paths.state_file) or ControlState()
        self.runtime = LocalRuntime()
        names = self.project.deployables()
        self.locks: dict[str, asyncio.Lock] = {n: asyncio.Lock() for n in names}
        self.lb: LbClient | None = None
        self.ready = False
        self.boot_error: str | None = None
        self.boot_log: list[str] = []
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- plumbing -----------------------------------------------------------------------------
    def log(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}"
        print(line, flush=True)

    def persist(self) -> None:
        save_state(self.paths.state_file, self.state)

    def context(self, name: str, emit: Any = None) -> ops.ServiceContext:
        assert self.lb is not None
        dep = self.project.deployables()[name]
        cwd = self.paths.base / dep.cwd if dep.cwd else self.paths.base

        def both(message: str) -> None:
            self.log(f"{name}: {message}")
            if emit is not None:
                emit(message)

        return ops.ServiceContext(
            service=self.state.services[name], upstream=upstream_name(self.project, name),
            health=self.project.health_of(name), cwd=str(cwd), paths=self.paths,
            deploy=self.project.deploy, balancer=self.project.balancer, runtime=self.runtime,
            lb=self.lb, persist=self.persist, emit=both)

    # --- boot: start or adopt -------------------------------------------------------------------
    async def boot(self) -> None:
        try:
            await self._ensure_balancer()
            for name in [n for n in self.state.services if n not in self.project.deployables()]:
                gone = self.state.services.pop(name)  # removed from hotdeploy.toml
                self._boot(f"{name} is no longer in the project file: stopping its instances")
                await teardown.stop_instances([*gone.instances, *gone.standby],
                                              self.project.deploy.stop_grace)
            for name in self.project.deployables():
                if name not in self.state.services:
                    dep = self.project.deployables()[name]
                    self.state.services[name] = ServiceState(
                        name=name, release=initial_release(self.project, name),
                        desired=dep.instances)
            self.persist()
            await asyncio.gather(*(self._reconcile(n) for n in self.project.deployables()))
            self.ready = True
            self._boot(f"ready: http://{self.project.balancer.listen}")
        except HotdeployError as exc:
            self.boot_error = str(exc)
            self._boot(f"boot failed: {exc}")

    def _boot(self, message: str) -> None:
        self.boot_log.append(message)
        self.log(message)

    def _boot_event(self, message: str) -> None:
        self.boot_log.append(message)  # context() has logged it already

    async def _ensure_balancer(self) -> None:
        pid = self.state.lb_pid
        if pid and self.state.admin_port and is_alive(pid):
            self.lb = LbClient(self._admin())
            if await self.lb.ping():
                self._boot(f"adopted the balancer (pid {pid})")
                if balancer.write_config(self.project, self.paths, self.state.admin_port):
                    # hotdeploy.toml changed since the balancer started (routes, services)
                    balancer.check_config(self.paths)
                    balancer.reload(pid)
                    await self._await_upstreams()
                    self._boot("the project file changed: balancer configuration reloaded")
                return
        self.state.admin_port = self.state.admin_port or free_port()
        self.lb = LbClient(self._admin())
        balancer.write_config(self.project, self.paths, self.state.admin_port)
        pid = balancer.start(self.paths)
        self.state.lb_pid = pid
        self.persist()
        await balancer.wait_ready(self.lb, pid, self.paths)
        self._boot(f"balancer started (pid {pid}) on {self.project.balancer.listen}, "
                   f"API on {self._admin()}")

    async def _await_upstreams(self, timeout: float = 10.0) -> None:
        assert self.lb is not None
        deadline = time.monotonic() + timeout
        for name in self.project.deployables():
            upstream = upstream_name(self.project, name)
            while True:
                try:
                    await self.lb.peers(upstream)
                    break
                except ControlError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    @property
    def _active_passive(self) -> bool:
        return self.project.balancer.strategy == "active-passive"

    def _admin(self) -> str:
        host, _ = split_host_port(self.project.balancer.admin_listen)
        return f"{host}:{self.state.admin_port}"

    async def _reconcile(self, name: str) -> None:
        """Make the balancer and the state file agree with what runs, then top up."""
        async with self.locks[name]:
            ctx = self.context(name, self._boot_event)
            svc = ctx.service
            peers = {p.server: p for p in await ctx.lb.peers(ctx.upstream)}
            for info in list(svc.instances):
                peer = peers.pop(info.address, None)
                alive = self.runtime.alive(info)
                if alive and peer is not None and info.state in ("serving", "starting"):
                    info.lb_id, info.state = peer.id, "serving"
                    if peer.state == "draining":  # an interrupted deploy was retiring it
                        await ops.retire(ctx, info)
                    continue
                info.lb_id = peer.id if peer is not None else None
                if peer is not None:
                    await ops.unlist(ctx, info)
                if alive:
                    await ops.stop(ctx, info)
                else:
                    svc.instances.remove(info)
            for peer in peers.values():  # servers no instance owns any more
                await ctx.lb.remove(ctx.upstream, peer.id)
            svc.standby = [i for i in svc.standby if self.runtime.alive(i)]
            self.persist()
            await actions.top_up(ctx, self._active_passive)
            adopted = [i.instance_id for i in svc.instances]
            self._boot(f"{name}: {len(adopted)} instances serving version {svc.release.version}")

    # --- the socket -------------------------------------------------------------------------------
    async def serve(self) -> None:
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.socket)
        server = await asyncio.start_unix_server(self._handle, path=str(self.paths.socket))
        self.log(f"control process {os.getpid()} listening on {self.paths.socket}")
        self._tasks.append(asyncio.create_task(self.boot()))
        policy = RestartPolicy(self.project.deploy.restart.backoff,
                               self.project.deploy.restart.max_backoff,
                               self.project.deploy.restart.max_restarts,
                               self.project.deploy.restart.window)
        supervisor = _supervisor(self, policy)
        self._tasks.append(asyncio.create_task(self._supervise(supervisor)))
        async with server:
            await self.stopping.wait()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.socket)

    async def _supervise(self, supervisor: Supervisor) -> None:
        while not self.ready:
            await asyncio.sleep(0.1)
        self._tasks.append(asyncio.create_task(self._watch_balancer()))
        await supervisor.run()

    async def _watch_balancer(self) -> None:
        """A balancer that died is started again; its servers come back from the state
        files, so instances need not be touched."""
        while True:
            await asyncio.sleep(1.0)
            pid = self.state.lb_pid
            if pid and not is_alive(pid):
                self.log(f"the balancer (pid {pid}) exited; starting it again")
                try:
                    await self._ensure_balancer()
                except HotdeployError as exc:
                    self.log(f"could not restart the balancer: {exc}")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(payload: dict[str, Any]) -> None:
            with contextlib.suppress(Exception):  # a client that went away does not stop a deploy
                writer.write(json.dumps(payload).encode() + b"\n")

        try:
            request = json.loads(await reader.readline())
            result = await self.dispatch(request, lambda m: send({"event": m}))
            send({"ok": True, "result": result})
        except HotdeployError as exc:
            send({"ok": False, "error": str(exc), "exit_code": exc.exit_code})
        except (ValueError, KeyError, TypeError) as exc:
            send({"ok": False, "error": f"bad request: {exc!r}", "exit_code": 3})
        except Exception as exc:  # report it, and keep the control process up
            self.log(f"internal error: {exc!r}")
            send({"ok": False, "error": f"internal error: {exc!r}", "exit_code": 3})
        with contextlib.suppress(Exception):
            await writer.drain()
            writer.close()

    async def dispatch(self, req: dict[str, Any], emit: Any) -> Any:
        cmd = req["cmd"]
        if cmd == "ping":
            return {"pid": os.getpid()}
        if cmd == "status":
            return await self.status()
        if cmd == "down":
            return await self.down(emit)
        if not self.ready:
            raise ControlError(self.boot_error or "the control process is still starting")
        name = req.get("service", "")
        if name not in self.locks:
            raise ControlError(f"unknown service {name!r}: expected one of "
                               f"{', '.join(sorted(self.locks))}")
        async with self.locks[name]:
            ctx = self.context(name, emit)
            strategy = req.get("strategy") or self.project.strategy_for(name)
            if cmd == "deploy":
                release = actions.release_with(ctx.service.release, req.get("version"),
                                               req.get("app"), req.get("command"),
                                               req.get("env") or {})
                await actions.deploy(ctx, release, strategy, self._active_passive)
            elif cmd == "rollback":
                await actions.rollback(ctx, strategy, self._active_passive)
            elif cmd == "restart":
                await actions.restart(ctx, self._active_passive)
            elif cmd == "scale":
                await actions.scale(ctx, int(req["count"]), self._active_passive)
            else:
                raise ControlError(f"unknown command {cmd!r}")
            return {"service": name, "version": ctx.service.release.version}

    async def status(self) -> dict[str, Any]:
        peers: dict[str, dict[str, Any]] = {}
        lb_ok = False
        if self.lb is not None:
            lb_ok = await self.lb.ping()
        services = []
        for name, routes in self.project.routes().items():
            svc = self.state.services.get(name)
            if svc is None:
                continue
            upstream = upstream_name(self.project, name)
            if lb_ok and self.lb is not None:
                with contextlib.suppress(ControlError):
                    peers = {p.server: asdict(p) for p in await self.lb.peers(upstream)}
            services.append({
                "name": name, "kind": "unit" if name in self.project.units else "service",
                "routes": list(routes), "upstream": upstream, "version": svc.release.version,
                "previous": svc.previous.version if svc.previous else None,
                "desired": svc.desired, "strategy": self.project.strategy_for(name),
                "last_deploy": svc.last_deploy,
                "instances": [self._instance(i, peers) for i in svc.instances],
                "standby": [self._instance(i, peers) for i in svc.standby],
            })
        return {"project": self.project.project.name, "url": f"http://{self.project.balancer.listen}",
                "admin": self._admin() if self.state.admin_port else None,
                "control_pid": os.getpid(), "ready": self.ready, "boot_error": self.boot_error,
                "boot_log": self.boot_log,
                "balancer": {"pid": self.state.lb_pid, "api": lb_ok,
                             "strategy": self.project.balancer.strategy},
                "services": services}

    def _instance(self, info: InstanceInfo, peers: dict[str, dict[str, Any]]) -> dict[str, Any]:
        peer = peers.get(info.address)
        return {"id": info.instance_id, "version": info.version, "port": info.port,
                "pid": info.pid, "state": info.state, "alive": self.runtime.alive(info),
                "backup": info.backup, "restarts": info.restarts, "log": info.log_path,
                "lb": None if peer is None else {
                    "id": peer["id"], "state": peer["state"], "active": peer["active"],
                    "requests": peer["requests"], "errors": peer["server_errors"],
                    "weight": peer["weight"]}}

    async def down(self, emit: Any) -> dict[str, Any]:
        for task in self._tasks:
            task.cancel()
        await teardown.teardown(self.paths, self.state, self.project.deploy.stop_grace, emit)
        self.stopping.set()
        return {"stopped": True}


def _supervisor(ctl: Controller, policy: RestartPolicy) -> Supervisor:
    return Supervisor(lambda: {n: ctl.context(n) for n in ctl.state.services},
                      ctl.locks, policy, ctl.log)


def run(project_file: str) -> None:
    """Entry point of the control process (see `hotdeploy.control.daemon`)."""
    controller = Controller(project_file)
    try:
        import uvloop

        uvloop.run(controller.serve())
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(controller.serve())
