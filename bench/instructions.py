#!/usr/bin/env python3
"""Instructions and system calls per proxied request: `hotdeploy lb` against nginx (and the
python floor, bench/floor_proxy.py).

    python bench/instructions.py [--seconds 10] [--connections 8] [--python PY] [--keep DIR]
                                 [--only nginx|hotdeploy|floor]

Requests/s on a shared 2-core machine move by ±10% from run to run; these two figures do not.
Each proxy runs under valgrind's callgrind (user-space instructions, counted exactly) and then
under `strace -c` (system calls), on the same nginx.conf and backends as bench/run.py. Counters
are zeroed after a warm-up (keep-alive pools full, caches warm), then wrk runs for `--seconds`
and the count is divided by the requests it made. Kernel time is not in the instruction count:
the system-call count stands for it (both proxies make the same calls per request when they
do the same work). Use it to compare two builds (`--python` of another virtualenv) or to see
what a change costs; the requests/s figures stay bench/run.py's. Loopback only; every process
started is stopped on exit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_conf import Ports, backends_conf, proxy_conf, write_prefix
from bench_procs import BenchError, Children, free_port, process_tree, wait_http_ready
from bench_wrk import run_wrk, write_script

WARMUP_SECONDS = 3
VALGRIND_START = 180.0  # CPython under callgrind takes ~30 s to import hotdeploy


@dataclass(frozen=True)
class Counts:
    name: str
    instructions: float  # user-space instructions per request, every process of the proxy
    syscalls: float  # system calls per request
    calls: dict[str, float]  # per request, by name (the largest few)


def _callgrind_totals(files: list[Path]) -> int:
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:") or line.startswith("summary:"):
                total += int(line.split()[1])
                break
    return total


def count_instructions(children: Children, work: Path, name: str, cmd: list[str],
                       ports: Ports, script: Path, seconds: int, connections: int,
                       keep: Path | None) -> float:
    out = work / f"cg-{name}"
    out.mkdir()
    if name == "nginx":
        # One process: a worker that switched to `user nobody` has no valgrind control pipe
        # callgrind_control can reach; nginx's own debugging mode does the same request work.
        cmd = [*cmd, "-g", "master_process off;"]
    child = children.start(f"cg-{name}", ["valgrind", "--tool=callgrind",
                                          f"--callgrind-out-file={out}/cg.%p", *cmd])
    try:
        wait_http_ready(child, ports.proxy, timeout=VALGRIND_START)
        run_wrk(children, script, ports.proxy, connections, WARMUP_SECONDS, None)
        pids = [str(p) for p in process_tree(child.pid)]
        subprocess.run(["callgrind_control", "-z", *pids], check=True, capture_output=True)
        result = run_wrk(children, script, ports.proxy, connections, seconds, None)
        for old in out.iterdir():
            old.unlink()  # the files written so far hold start-up and warm-up
        subprocess.run(["callgrind_control", "-d", *pids], check=True, capture_output=True)
        time.sleep(1.0)
        dumps = sorted(out.glob("cg.*.*"))  # cg.PID.N: one dump per process
        if not dumps or not result.requests:
            raise BenchError(f"{name}: no callgrind dump or no requests ({result.requests})")
        if keep is not None:  # for callgrind_annotate: where the instructions go
            keep.mkdir(parents=True, exist_ok=True)
            for dump in dumps:
                shutil.copy(dump, keep / f"{name}.{dump.name}")
        return _callgrind_totals(dumps) / result.requests
    finally:
        children.stop(child)


_STRACE_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def count_syscalls(children: Children, work: Path, name: str, cmd: list[str], ports: Ports,
                   script: Path, seconds: int, connections: int) -> tuple[float, dict[str, float]]:
    child = children.start(f"run-{name}", cmd)
    trace = work / f"strace-{name}.txt"
    try:
        wait_http_ready(child, ports.proxy)
        run_wrk(children, script, ports.proxy, connections, WARMUP_SECONDS, None)
        attach = [a for pid in process_tree(child.pid) for a in ("-p", str(pid))]
        tracer = children.start(f"strace-{name}", ["strace", "-c", "-f", "-o", str(trace),
                                                   *attach])
        time.sleep(1.0)  # attached
        result = run_wrk(children, script, ports.proxy, connections, seconds, None)
        children.stop(tracer)  # SIGTERM: strace detaches and writes its table
    finally:
        children.stop(child)
    calls: dict[str, float] = {}
    for line in trace.read_text(errors="replace").splitlines():
        match = _STRACE_ROW.match(line)
        if match and match.group(2) != "total":
            calls[match.group(2)] = int(match.group(1)) / max(result.requests, 1)
    top = dict(sorted(calls.items(), key=lambda kv: -kv[1])[:5])
    return sum(calls.values()), top


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs `-m hotdeploy lb` (another build's venv)")
    parser.add_argument("--nginx", default="nginx")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="copy the callgrind dumps here (NAME.cg.PID.N) for callgrind_annotate")
    parser.add_argument("--only", choices=("nginx", "hotdeploy", "floor"), default=None,
                        help="measure one proxy (ratios need nginx)")
    args = parser.parse_args(argv)
    missing = [t for t in ("valgrind", "callgrind_control", "strace", "wrk", args.nginx)
               if shutil.which(t) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)} (apt-get install valgrind strace wrk nginx)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="hotdeploy-instr-"))
    children = Children(work)
    ports = Ports(free_port(), free_port(), free_port())
    conf, prefix = write_prefix(work, "proxy", proxy_conf(ports))
    backend_conf, backend_prefix = write_prefix(work, "backends", backends_conf(ports))
    script = write_script(work)
    commands = {
        "nginx": [args.nginx, "-c", str(conf), "-p", f"{prefix}/"],
        "hotdeploy": [args.python, "-m", "hotdeploy", "lb", "-c", str(conf), "-p", f"{prefix}/"],
        # bench/floor_proxy.py: a byte-for-byte uvloop + httptools forwarder, what the
        # interpreter and the event loop cost before any of hotdeploy's own work
        "floor": [args.python, str(Path(__file__).with_name("floor_proxy.py")),
                  *(str(p) for p in (ports.proxy, ports.backend_a, ports.backend_b))],
    }
    rows: list[Counts] = []
    try:
        backends = children.start("backends", [args.nginx, "-c", str(backend_conf),
                                               "-p", f"{backend_prefix}/"])
        wait_http_ready(backends, ports.backend_a)
        for name, cmd in commands.items():
            if args.only not in (None, name):
                continue
            instructions = count_instructions(children, work, name, cmd, ports, script,
                                              args.seconds, args.connections, args.keep)
            syscalls, calls = count_syscalls(children, work, name, cmd, ports, script,
                                             args.seconds, args.connections)
            rows.append(Counts(name, instructions, syscalls, calls))
    except BenchError as exc:
        print(f"bench failed: {exc}")
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    base = next((row for row in rows if row.name == "nginx"), None)
    print(f"per request, {args.connections} keep-alive connections, {args.seconds} s measured "
          f"({args.python} for hotdeploy)")
    for row in rows:
        top = ", ".join(f"{k} {v:.2f}" for k, v in row.calls.items())
        ratio = f"({row.instructions / base.instructions:.2f}x nginx)  " if base else ""
        print(f"  {row.name:<10} {row.instructions:>9,.0f} instructions {ratio}"
              f"{row.syscalls:.2f} syscalls ({top})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
