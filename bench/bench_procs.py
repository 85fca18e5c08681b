"""Processes the benchmark starts: pinned to a core, tracked, and always cleaned up.

Every child runs in its own session (process group) so that Ctrl-C in the terminal reaches only
the benchmark, which then stops each group itself: nothing it started outlives it.
CPU time and memory come straight from /proc (no psutil dependency).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL for a child group


class BenchError(RuntimeError):
    """A step of the benchmark could not be carried out (a process died, a port never opened)."""


def pinned(cmd: Sequence[str], core: int | None) -> list[str]:
    """Prefix `cmd` with `taskset -c CORE`: unpinned, the scheduler mixes proxy and load
    generator on one core and every figure drops by a third and wobbles (DESIGN.md)."""
    if core is None:
        return list(cmd)
    return ["taskset", "-c", str(core), *cmd]


def free_port() -> int:
    """A loopback port that was free a moment ago (the kernel picks it; port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Children:
    """The registry of every process started; `stop_all` is safe to call more than once."""

    logdir: Path
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, cmd: Sequence[str], cwd: Path | None = None) -> Child:
        log = self.logdir / f"{name}.out"
        with log.open("ab") as out:
            proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        child = Child(name, proc, log)
        self.started.append(child)
        return child

    def stop(self, child: Child) -> None:
        if child.proc.poll() is None:
            _signal_group(child.pid, signal.SIGTERM)
            try:
                child.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.proc.wait(STOP_GRACE)
            # Workers outliving their master are still in its group: sweep them too.
            _signal_group(child.pid, signal.SIGKILL)
        if child in self.started:
            self.started.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.started)):
            self.stop(child)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_http_ready(child: Child, port: int, timeout: float = 15.0) -> None:
    """Wait until `GET /` on the port answers an HTTP status line, or fail with the log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise BenchError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        if _http_ok(port):
            return
        time.sleep(0.05)
    raise BenchError(f"{child.name} did not answer on 127.0.0.1:{port} in {timeout}s:\n"
                     f"{child.tail()}")


def _http_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (an nginx master and its workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat is not None:
            parents.setdefault(int(stat[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state, 1 = ppid)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def cpu_seconds(root: int) -> float:
    """utime + stime of the live process tree under `root` (proc(5): fields 14 and 15)."""
    ticks = 0
    for pid in process_tree(root):
        stat = _read_stat(pid)
        if stat is not None:
            ticks += int(stat[11]) + int(stat[12])
    return ticks / CLK_TCK


def steal_seconds() -> float:
    """Time the hypervisor ran something else while this machine's vCPUs wanted to run, summed
    over all CPUs (proc(5), /proc/stat: the 8th value of the `cpu` line). A virtual machine
    shares its cores with neighbours; a run that loses a fifth of its core to them measures the
    neighbours, not the proxy."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) / CLK_TCK if len(fields) > 8 else 0.0


def rss_bytes(root: int) -> int:
    """Resident set size summed over the process tree (an nginx master and worker share
    pages, so nginx's figure is an upper bound)."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * PAGE_SIZE
    return total


def pss_bytes(root: int) -> int | None:
    """Proportional set size summed over the process tree (/proc/PID/smaps_rollup): a page
    shared by k processes counts 1/k in each, so forked workers' shared pages count once.
    None where the kernel has no smaps_rollup (before 4.14)."""
    total = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except FileNotFoundError:
            if Path(f"/proc/{pid}").exists():
                return None  # the process lives, the kernel lacks the file
            continue  # the process is gone
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024  # kB
                break
    return total


def wait_tree_settled(root: int, processes: int, timeout: float = 15.0) -> list[int]:
    """Wait until the tree under `root` has at least `processes` processes (a master's workers
    are forked after it answers its first request) and their count held for half a second."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        tree = process_tree(root)
        if len(tree) != last:
            last, since = len(tree), time.monotonic()
        elif len(tree) >= processes and time.monotonic() - since >= 0.5:
            return tree
        time.sleep(0.05)
    raise BenchError(f"process {root} has {last} processes, expected at least {processes}")
