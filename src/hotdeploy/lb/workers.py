"""The master process of `worker_processes N` (N > 1), shaped like nginx's.

The master reads the configuration, binds the listening sockets, creates the shared upstream
table (upstream/zone.py) and forks N workers. Every worker has its own SO_REUSEPORT socket per
address (bound by the master, which keeps them open: a worker that dies leaves its queue to its
replacement instead of resetting it); docs/workers.md has the measurement that chose this over
one shared socket. The master then only waits for signals:

- SIGHUP: re-read and validate the configuration; if invalid, log and keep everything. Else bind
  new addresses, then send every worker a reload with all listening sockets over its control
  channel: each worker switches its runtime in place as the single process does, so keep-alive
  connections stay open and no request fails. A changed `worker_processes` starts or retires
  (SIGQUIT) workers; the API changes of the previous configuration are forgotten, as NGINX Plus
  forgets them (unless `state` kept them).
- SIGCHLD: a worker that exited unasked is started again under the same index (its in-flight
  requests were the only ones lost; connections waiting in the listening socket's queue are
  accepted by the other workers meanwhile).
- SIGQUIT: every worker shuts down gracefully; the master exits when they have.
- SIGTERM / SIGINT: every worker exits at once; the master too.
- SIGUSR1: reopen the logs, in the master and the workers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass

from hotdeploy import defaults
from hotdeploy.config.loader import load_config
from hotdeploy.config.model import MainConfig
from hotdeploy.errors import ConfigError, HotdeployError
from hotdeploy.lb import control
from hotdeploy.lb.listeners import ListenerSet, configured_listens
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.process import HANDLED_SIGNALS, error_log_targets
from hotdeploy.lb.worker import bind_cpus, run_worker
from hotdeploy.lb.zonesync import WORKERS
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.shared_limits import release_worker
from hotdeploy.upstream.zone import MAX_WORKERS, ZoneTable

STOP_GRACE = 5.0  # SIGTERM: how long workers may take before SIGKILL
WAIT_STEP = 0.5


@dataclass
class WorkerProcess:
    index: int
    pid: int
    channel: socket.socket
    retiring: bool = False


class Master:
    def __init__(self, config: MainConfig, config_path: str, options: LbOptions,
                 listeners: ListenerSet, error_log_override: str | None) -> None:
        self.config = config
        self.config_path = config_path
        self.options = options
        self.sets: dict[int, ListenerSet] = {0: listeners}  # each worker's listening sockets
        self.error_log_override = error_log_override
        self.error_log = ErrorLog(error_log_targets(config, error_log_override))
        self.table = ZoneTable.create()
        self.rundir = tempfile.mkdtemp(prefix="hotdeploy-lb-")
        self.workers: dict[int, WorkerProcess] = {}  # by pid
        self.exiting: str | None = None  # "quit" or "stop"

    # ------------------------------------------------------------------ workers
    def wanted(self) -> int:
        return max(1, min(self.config.worker_processes, MAX_WORKERS))

    def _listeners(self, index: int) -> ListenerSet:
        listeners = self.sets.get(index)
        if listeners is None:
            listeners = self.sets[index] = ListenerSet(reuseport=True)
            listeners.update(configured_listens(self.config).values())
        return listeners

    def spawn(self, index: int) -> None:
        try:
            listeners = self._listeners(index)
        except HotdeployError as exc:
            self.error_log.log("emerg", str(exc))
            return
        master_end, worker_end = control.channel()
        pid = os.fork()
        if pid == 0:  # the worker: never return into the master's code
            code = 1
            try:
                master_end.close()
                for other in self.workers.values():
                    other.channel.close()
                for other_index, other_set in self.sets.items():
                    if other_index != index:
                        for sock in other_set.sockets.values():
                            sock.close()
                code = run_worker(self.config, self.config_path, self.options, listeners,
                                  self.error_log_override, index, worker_end, self.table,
                                  self.rundir)
            finally:
                os._exit(code)
        worker_end.close()
        self.workers[pid] = WorkerProcess(index, pid, master_end)
        values = self.table.values
        values[WORKERS] = max(values[WORKERS], index + 1)
        self.error_log.log("notice", f"start worker process {pid}")

    def _indices_held(self) -> set[int]:
        return {w.index for w in self.workers.values()}

    def _fill(self) -> None:
        """Start the workers that are missing (at start, after a death, after a reload)."""
        held = self._indices_held()
        for index in range(self.wanted()):
            if index not in held:
                self.spawn(index)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            worker.channel.close()
            if os.WIFSIGNALED(status):
                how = f"exited on signal {os.WTERMSIG(status)}"
            else:
                how = f"exited with code {os.WEXITSTATUS(status)}"
            unasked = not worker.retiring and self.exiting is None
            # nginx: "[alert] worker process 1234 exited on signal 9"
            self.error_log.log("alert" if unasked else "notice", f"worker process {pid} {how}")
            # Its in-flight requests are gone; its statistics stay for the replacement.
            self.table.clear_in_flight(worker.index)
            self._release_limit_conns(worker.index)
            if unasked:
                time.sleep(defaults.WORKER_RESPAWN_DELAY)  # no tight loop if it dies at once
        if self.exiting is None:
            self._fill()

    def _release_limit_conns(self, index: int) -> None:
        """A dead worker's requests no longer count against limit_conn (nginx keeps them)."""
        try:
            released = release_worker(self.rundir, index)
        except (OSError, ValueError) as exc:
            self.error_log.log("alert", f"could not release the limit_conn counts of worker "
                                        f"{index}: {exc}")
            return
        if released:
            self.error_log.log("notice", f"released {released} limit_conn counts of worker "
                                         f"{index}")

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        waited = {*HANDLED_SIGNALS, signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, waited)
        try:
            self._fill()
            while self.exiting is None or self.workers:
                info = signal.sigtimedwait(waited, WAIT_STEP)
                if info is None:
                    self._reap()  # a SIGCHLD merged with another is not lost
                    self._check_deadline()
                    continue
                self._on_signal(info.si_signo)
            self.error_log.log("notice", "exit")
            return 0
        finally:
            for worker in self.workers.values():
                _kill(worker.pid, signal.SIGKILL)
            for listeners in self.sets.values():
                listeners.close_all()
            shutil.rmtree(self.rundir, ignore_errors=True)

    def _on_signal(self, signo: int) -> None:
        if signo == signal.SIGCHLD:
            self._reap()
        elif signo == signal.SIGHUP and self.exiting is None:
            self.error_log.log("notice", "signal 1 (SIGHUP) received, reconfiguring")
            self.reload()
        elif signo == signal.SIGQUIT:
            self.error_log.log("notice", "signal 3 (SIGQUIT) received, shutting down")
            self._exit("quit", signal.SIGQUIT, defaults.DEFAULT_QUIT_TIMEOUT + STOP_GRACE)
        elif signo in (signal.SIGTERM, signal.SIGINT):
            self.error_log.log("notice", f"signal {signo} ({signal.Signals(signo).name}) "
                                         "received, exiting")
            self._exit("stop", signal.SIGTERM, STOP_GRACE)
        elif signo == signal.SIGUSR1:
            self.error_log.log("notice", "signal 10 (SIGUSR1) received, reopening logs")
            self.error_log.reopen()
            self._broadcast(signal.SIGUSR1)
        self._check_deadline()

    def _exit(self, how: str, signo: int, grace: float) -> None:
        if self.exiting is None or how == "stop":
            self.exiting = how
            self.deadline = time.monotonic() + grace
            for listeners in self.sets.values():
                listeners.close_all()  # the workers hold their copies until they leave
            self._broadcast(signo)

    def _check_deadline(self) -> None:
        if self.exiting is not None and time.monotonic() > self.deadline:
            for worker in self.workers.values():
                _kill(worker.pid, signal.SIGKILL)
            self.deadline = time.monotonic() + STOP_GRACE

    def _broadcast(self, signo: int) -> None:
        for worker in self.workers.values():
            _kill(worker.pid, signo)

    # ------------------------------------------------------------------ reload
    def reload(self) -> None:
        removed: dict[int, list[tuple[str, int]]] = {}
        try:
            config = load_config(self.config_path, self.config.prefix, self.options.globals_)
            wanted = configured_listens(config).values()
            for index in sorted(self.sets):  # the first set fails alone if a port is taken
                removed[index] = self.sets[index].update(wanted)[1]
        except (ConfigError, HotdeployError) as exc:
            self.error_log.log("emerg", str(exc))
            self.error_log.log("notice", "reconfiguration failed, keeping the old configuration")
            for index in removed:  # sets already extended give their new sockets back
                listeners = self.sets[index]
                for key in [k for k in listeners.sockets if k not in configured_listens(
                        self.config)]:
                    listeners.close(key)
            return
        self.config = config
        self.table.bump_epoch()  # API changes of the old configuration no longer apply
        count = self.wanted()
        for worker in list(self.workers.values()):
            if worker.retiring:
                continue
            if worker.index >= count:
                worker.retiring = True
                _kill(worker.pid, signal.SIGQUIT)
                continue
            bind_cpus(config, worker.index, worker.pid)
            listeners = self.sets[worker.index]
            current = {k: s for k, s in listeners.sockets.items()
                       if k not in removed.get(worker.index, [])}
            # OSError: it is dying; SIGCHLD brings a replacement with the new configuration.
            with contextlib.suppress(OSError):
                control.send_reload(worker.channel, current)
        for index, keys in removed.items():
            for key in keys:
                self.sets[index].close(key)
        for index in [i for i in self.sets if i >= count]:
            # A retired worker's sockets: closed now, so the kernel stops hashing new
            # connections to a queue nobody will accept from.
            self.sets.pop(index).close_all()
        self._fill()
        self.error_log.log("notice", "reconfiguring done")


def _kill(pid: int, signo: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signo)
