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
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import uvloop

from hotdeploy import LB_VERSION, defaults
from hotdeploy.config.loader import load_config
from hotdeploy.config.model import MainConfig
from hotdeploy.errors import ConfigError, HotdeployError
from hotdeploy.lb.daemon import daemonize
from hotdeploy.lb.listeners import ListenerSet, ListenKey, configured_listens, serve_listener
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.pidfile import remove_pid, write_pid
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.runtime import Runtime, RuntimeHolder, build_runtime
from hotdeploy.proxy.server import ConnectionTracker, make_protocol_factory


def _error_log_targets(config: MainConfig, override: str | None) -> list[tuple[str, str]]:
    targets = [(log.path, log.level) for log in config.error_logs]
    if override is not None:
        targets.append((override, defaults.DEFAULT_ERROR_LOG_LEVEL))
    return targets or [("stderr", defaults.DEFAULT_ERROR_LOG_LEVEL)]


class Balancer:
    def __init__(self, config: MainConfig, config_path: str, options: LbOptions,
                 listeners: ListenerSet, error_log_override: str | None) -> None:
        self.config = config
        self.config_path = config_path
        self.options = options
        self.listeners = listeners
        self.error_log_override = error_log_override
        self.error_log = ErrorLog(_error_log_targets(config, error_log_override))
        self.tracker = ConnectionTracker()
        self.holder: RuntimeHolder | None = None
        self.servers: dict[ListenKey, Any] = {}  # asyncio servers or tls.accept.TlsListeners
        self.stopping: asyncio.Future[int] | None = None
        self.quitting = False

    # --- start --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        runtime = build_runtime(self.config, None, time.monotonic(), error_log=self.error_log)
        self.holder = RuntimeHolder(runtime)
        runtime.start(loop)
        for signum, handler in (
            (signal.SIGHUP, self.reload),
            (signal.SIGQUIT, self.quit),
            (signal.SIGTERM, self.stop),
            (signal.SIGINT, self.stop),
            (signal.SIGUSR1, self.reopen),
        ):
            loop.add_signal_handler(signum, handler)
        # Signals that arrived since the sockets were bound were held back (see `serve`);
        # now they reach the handlers above instead of killing the process.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
        for key in list(self.listeners.sockets):
            await self._serve(key)
        self.error_log.log("notice", f"{LB_VERSION} started, pid {os.getpid()}")
        code = await self.stopping
        await self._shutdown()
        return code

    async def _serve(self, key: ListenKey) -> None:
        assert self.holder is not None
        loop = asyncio.get_running_loop()
        listen = configured_listens(self.holder.current.config)[key]
        factory = make_protocol_factory(self.holder, listen, self.tracker)
        self.servers[key] = await serve_listener(loop, self.listeners.sockets[key], factory,
                                                 self.holder, key)

    # --- reload -------------------------------------------------------------------------------

    def reload(self) -> None:
        asyncio.get_running_loop().create_task(self._reload())

    async def _reload(self) -> None:
        assert self.holder is not None
        self.error_log.log("notice", "signal 1 (SIGHUP) received, reconfiguring")
        old = self.holder.current
        try:
            config = load_config(self.config_path, old.config.prefix, self.options.globals_)
            added, removed = self.listeners.update(configured_listens(config).values())
        except (ConfigError, HotdeployError) as exc:
            # nginx keeps the old configuration when the new one is invalid.
            self.error_log.log("emerg", str(exc))
            self.error_log.log("notice", "reconfiguration failed, keeping the old configuration")
            return
        new = build_runtime(config, old, time.monotonic(), error_log=self.error_log)
        self.holder.current = new
        new.start(asyncio.get_running_loop())
        for listen in added:
            await self._serve(listen.key)
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


HANDLED_SIGNALS = {signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}


def serve(config: MainConfig, config_path: str, options: LbOptions,
          error_log_override: str | None) -> int:
    # Once a socket listens, a supervisor may see us as up and send SIGHUP at once: hold the
    # signals back until the event loop has its handlers, or their default action would kill us.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    listeners = ListenerSet()
    listeners.update(configured_listens(config).values())
    if config.daemon:
        daemonize()
    pid = os.getpid()
    if config.pid_path:
        write_pid(config.pid_path, pid)
    try:
        balancer = Balancer(config, config_path, options, listeners, error_log_override)
        return uvloop.run(balancer.run())
    finally:
        if config.pid_path:
            remove_pid(config.pid_path, pid)


__all__ = ["Balancer", "Runtime", "serve"]
