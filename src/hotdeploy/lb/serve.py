"""`hotdeploy lb` serving: bind, detach, write the pid file, then run one process or a master
with its workers."""

from __future__ import annotations

import os
import signal

import uvloop

from hotdeploy.config.model import MainConfig
from hotdeploy.lb.daemon import daemonize
from hotdeploy.lb.listeners import ListenerSet, configured_listens
from hotdeploy.lb.master import Balancer
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.pidfile import remove_pid, write_pid
from hotdeploy.lb.process import HANDLED_SIGNALS


def serve(config: MainConfig, config_path: str, options: LbOptions,
          error_log_override: str | None) -> int:
    # Once a socket listens, a supervisor may see us as up and send SIGHUP at once: hold the
    # signals back until the event loop has its handlers, or their default action would kill us.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    # worker_processes N: these are worker 0's sockets; the master binds one more set per worker.
    listeners = ListenerSet(reuseport=config.worker_processes > 1)
    listeners.update(configured_listens(config).values())
    if config.daemon:
        daemonize()
    pid = os.getpid()
    if config.pid_path:
        write_pid(config.pid_path, pid)  # the master's pid, as nginx's
    try:
        if config.worker_processes > 1:
            from hotdeploy.lb.workers import Master

            return Master(config, config_path, options, listeners, error_log_override).run()
        # One worker: this process serves itself, with no master in between (no fork, no
        # shared table, no control channel: the path that benchmarks measure).
        balancer = Balancer(config, config_path, options, listeners, error_log_override)
        return uvloop.run(balancer.run())
    finally:
        if config.pid_path:
            remove_pid(config.pid_path, pid)
