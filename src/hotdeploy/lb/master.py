"""The running balancer: one process, one event loop, nginx's signals.

- SIGHUP (`-s reload`): read and validate the new configuration; if invalid, log why and keep
  serving the old one. Otherwise bind any new addresses, build the new runtime (observed server
  state carried over), and swap it in. Listening sockets that stay configured are never closed,
  so no connection is refused; requests in flight finish on the old runtime; keep-alive client
  connections pick the new one up with their next request.
- SIGQUIT (`-s quit`): stop accepting, close idle keep-alive connections, let requests in flight
  finish (bounded by `DEFAULT_QUIT_TIMEOUT`), exit 0.
- SIGTERM / SIGINT (`-s stop`): exit at once.
- SIGUSR1 (`-s reopen`): reopen log files (log rotation).

With `worker_processes N` (N > 1) this class runs in each worker process (lb/worker.py), and the
master (lb/workers.py) takes the signals: a worker reloads when the master tells it to over its
control channel, with the listening sockets the master bound, and quits on SIGQUIT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from typing import TYPE_CHECKING, Any

from hotdeploy import LB_VERSION, defaults
from hotdeploy.config.loader import load_config
from hotdeploy.config.model import MainConfig
from hotdeploy.errors import ConfigError, HotdeployError
from hotdeploy.lb.listeners import ListenerSet, ListenKey, configured_listens, serve_listener
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.process import HANDLED_SIGNALS, error_log_targets
from hotdeploy.proxy.limiting import ZoneStates
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.runtime import Runtime, RuntimeHolder, build_runtime
from hotdeploy.proxy.server import ConnectionTracker, make_protocol_factory

if TYPE_CHECKING:
    from hotdeploy.lb.role import WorkerRole


class Balancer:
    def __init__(self, config: MainConfig, config_path: str, options: LbOptions,
                 listeners: ListenerSet, error_log_override: str | None,
                 role: WorkerRole | None = None) -> None:
        self.role = role  # None: the single process of worker_processes 1
        self.zone = role.zone if role is not None else None
        self.config = config
        self.config_path = config_path
        self.options = options
        self.listeners = listeners
        self.error_log_override = error_log_override
        self.error_log = ErrorLog(error_log_targets(config, error_log_override))
        self.tracker = ConnectionTracker()
        self.holder: RuntimeHolder | None = None
        self.servers: dict[ListenKey, Any] = {}  # asyncio servers or tls.accept.TlsListeners
        self.stopping: asyncio.Future[int] | None = None
        self.quitting = False

    # --- start --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        runtime = build_runtime(self.config, None, time.monotonic(), error_log=self.error_log,
                                zones=self._limit_zones())
        self.holder = RuntimeHolder(runtime)
        self._start_runtime(runtime)
        for signum, handler in (
            (signal.SIGHUP, self.reload if self.role is None else _ignore),
            (signal.SIGQUIT, self.quit),
            (signal.SIGTERM, self.stop),
            # A terminal's ^C reaches the whole process group; the master decides for workers.
            (signal.SIGINT, self.stop if self.role is None else _ignore),
            (signal.SIGUSR1, self.reopen),
        ):
            loop.add_signal_handler(signum, handler)
        if self.role is not None:
            loop.add_reader(self.role.control.fileno(), self._on_control)
        # Signals that arrived since the sockets were bound were held back (see `serve`);
        # now they reach the handlers above instead of killing the process.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
        for key in list(self.listeners.sockets):
            await self._serve(key)
        if self.role is None:
            self.error_log.log("notice", f"{LB_VERSION} started, pid {os.getpid()}")
        code = await self.stopping
        await self._shutdown()
        return code

    def _limit_zones(self) -> ZoneStates | None:
        """A worker's limit_req / limit_conn zones are files in the master's run directory,
        shared by every worker; the single process keeps them in its memory."""
        if self.zone is None:
            return None
        from hotdeploy.proxy.shared_limits import SharedZones

        return ZoneStates(maker=SharedZones(self.zone.rundir, self.zone.worker))

    def _start_runtime(self, runtime: Runtime) -> None:
        loop = asyncio.get_running_loop()
        if self.zone is not None:
            self.zone.prepare(runtime)
        runtime.start(loop)
        if self.zone is not None:
            self.zone.bind(runtime)
            if self.zone._timer is None:
                self.zone.start(loop)

    async def _serve(self, key: ListenKey) -> None:
        assert self.holder is not None
        loop = asyncio.get_running_loop()
        listen = configured_listens(self.holder.current.config).get(key)
        if listen is None:
            return  # the file changed again between the master's read and ours
        factory = make_protocol_factory(self.holder, listen, self.tracker)
        self.servers[key] = await serve_listener(loop, self.listeners.sockets[key], factory,
                                                 self.holder, key)

    # --- reload -------------------------------------------------------------------------------

    def reload(self) -> None:
        asyncio.get_running_loop().create_task(self._reload())

    def _on_control(self) -> None:
        """A message from the master (worker processes only)."""
        from hotdeploy.lb.control import receive

        assert self.role is not None
        try:
            message, sockets = receive(self.role.control)
        except BlockingIOError:
            return
        except OSError:
            message, sockets = None, {}
        if message is None:
            # The master is gone (killed): finish what is in flight and leave.
            asyncio.get_running_loop().remove_reader(self.role.control.fileno())
            self.error_log.log("notice", "master process is gone")
            self.quit()
        elif message.get("cmd") == "reload":
            asyncio.get_running_loop().create_task(self._reload(sockets))

    async def _reload(self, given: dict[ListenKey, socket.socket] | None = None) -> None:
        """Re-read the configuration and switch to it. `given`: the listening sockets the
        master bound (worker processes); without it this process binds new addresses."""
        assert self.holder is not None
        # A worker is told by the master, which logged the signal.
        self.error_log.log("notice", "signal 1 (SIGHUP) received, reconfiguring"
                           if given is None else "reconfiguring (from the master)")
        old = self.holder.current
        try:
            config = load_config(self.config_path, old.config.prefix, self.options.globals_)
            if given is None:
                added_listens, removed = self.listeners.update(configured_listens(config).values())
                added = [listen.key for listen in added_listens]
            else:
                added, removed = self.listeners.adopt(given)
        except (ConfigError, HotdeployError) as exc:
            # nginx keeps the old configuration when the new one is invalid.
            self.error_log.log("emerg", str(exc))
            self.error_log.log("notice", "reconfiguration failed, keeping the old configuration")
            for key, sock in (given or {}).items():
                if self.listeners.sockets.get(key) is not sock:
                    sock.close()
            return
        new = build_runtime(config, old, time.monotonic(), error_log=self.error_log)
        self.holder.current = new
        self._start_runtime(new)
        for key in added:
            await self._serve(key)
        for key in removed:
            server = self.servers.pop(key, None)
            if server is not None:
                server.close()
            self.listeners.close(key)
        old.stop()
        self.config = config
        self.error_log.log("notice", "reconfiguring done")

    # --- stop ---------------------------------------------------------------------------------

    def quit(self) -> None:
        if self.stopping is not None and not self.stopping.done():
            self.error_log.log("notice", "signal 3 (SIGQUIT) received, shutting down gracefully")
            self.quitting = True
            self.stopping.set_result(0)

    def stop(self) -> None:
        if self.stopping is not None and not self.stopping.done():
            self.error_log.log("notice", "signal 15 (SIGTERM) received, exiting")
            self.stopping.set_result(0)

    def reopen(self) -> None:
        self.error_log.log("notice", "signal 10 (SIGUSR1) received, reopening logs")
        self.error_log.reopen()
        if self.holder is not None:
            self.holder.current.reopen_logs()

    async def _shutdown(self) -> None:
        if self.zone is not None:
            self.zone.stop()
        for server in self.servers.values():
            server.close()
        self.listeners.close_all()
        if self.quitting:
            self.tracker.close_idle()
            drained = await self.tracker.wait_drained(defaults.DEFAULT_QUIT_TIMEOUT)
            if not drained:
                self.error_log.log("warn", "graceful shutdown timed out, closing connections")
        self.tracker.abort_all()
        if self.holder is not None:
            self.holder.current.stop()
            self.holder.current.log_files.close()
        self.error_log.log("notice", "exit")


def _ignore() -> None:
    pass


__all__ = ["Balancer", "Runtime"]
