"""One worker process of `worker_processes N`: what runs in the child after the master forks.

The child inherits the listening sockets, the shared upstream table and its end of the control
channel; it runs the same Balancer as the single-process mode, in a role that takes reloads from
the master and shares upstream state through the zone (lb/zonesync.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback

import uvloop

from hotdeploy.config.model import MainConfig
from hotdeploy.cpus import usable_cores, worker_cpus
from hotdeploy.lb.listeners import ListenerSet
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.role import WorkerRole
from hotdeploy.lb.zonesync import ZoneSync
from hotdeploy.upstream.zone import ZoneTable


def bind_cpus(config: MainConfig, index: int, pid: int = 0) -> None:
    """`worker_cpu_affinity`: pin a worker (0 = this process) to its CPU set."""
    cpus = worker_cpus(config.worker_cpu_affinity, index, usable_cores())
    if cpus:
        # A CPU outside our cgroup: nginx logs it and runs unbound too.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


def run_worker(config: MainConfig, config_path: str, options: LbOptions,
               listeners: ListenerSet, error_log_override: str | None, index: int,
               control: socket.socket, table: ZoneTable, rundir: str) -> int:
    """The child's whole life; the caller `os._exit`s with the result."""
    from hotdeploy.lb.master import Balancer

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    bind_cpus(config, index)
    control.setblocking(False)
    role = WorkerRole(index, control, ZoneSync(table, index, rundir, health_owner=index == 0))
    try:
        balancer = Balancer(config, config_path, options, listeners, error_log_override, role)
        return uvloop.run(balancer.run())
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return 1
