#!/usr/bin/env python3
"""Instructions per request of plain nginx, hotdeploy's live mode and the Lua floor.

    python bench/nginx_instructions.py [--seconds 10] [--connections 16] [--only NAME,...]
                                       [--keep DIR]

The three nginx configurations of bench/nginx_engine.py (same files, same backends), each run
in turn under valgrind's callgrind with `-g "master_process off;"` (one process: a worker
forked by the master runs as `nobody` and callgrind_control cannot reach it; nginx's own
debugging mode does the same request work). After a warm-up (keep-alive pools full, LuaJIT
traces compiled) the counters are zeroed with `callgrind_control -z`, wrk runs for
`--seconds`, `callgrind_control -d` dumps, and the total is divided by wrk's requests. The
counts are user-space instructions, exact and repeatable where requests/s on this shared
machine move by 10-20%: what the comparison of the Lua balancers rests on. Kernel work is
not counted (all three make the same system calls per request once upstream connections are
reused; bench/nginx_engine.py checks that). Loopback only; every process started is stopped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_procs import BenchError, Children, process_tree
from bench_wrk import run_wrk, write_script
from instructions import _callgrind_totals
from nginx_engine import (
    LOAD_CORE,
    PLAIN,
    PROXIES,
    PROXY_CORE,
    Setup,
    prepare,
    start_backends,
    start_proxy,
)

WARMUP_SECONDS = 5
VALGRIND_START = 60.0  # nginx with LuaJIT under callgrind starts in a few seconds


def count(children: Children, setup: Setup, name: str, script: Path, seconds: int,
          connections: int, keep: Path | None = None) -> tuple[float, int]:
    """(user instructions per request, requests) of one configuration under callgrind."""
    out = setup.work / f"cg-{name.replace(' ', '-')}"
    out.mkdir()
    wrapper = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p")
    proxy = start_proxy(children, setup, name, PROXY_CORE, wrapper,
                        ("-g", "master_process off;"), VALGRIND_START)
    port = setup.ports[name].proxy
    try:
        run_wrk(children, script, port, connections, WARMUP_SECONDS, LOAD_CORE)
        pids = [str(pid) for pid in process_tree(proxy.pid)]
        subprocess.run(["callgrind_control", "-z", *pids], check=True, capture_output=True)
        result = run_wrk(children, script, port, connections, seconds, LOAD_CORE)
        for old in out.iterdir():
            old.unlink()  # start-up and warm-up
        subprocess.run(["callgrind_control", "-d", *pids], check=True, capture_output=True)
        time.sleep(1.0)  # the dump is written by the process itself
        dumps = sorted(out.glob("cg.*.*"))
        if not dumps or not result.requests or result.errors:
            raise BenchError(f"{name}: {len(dumps)} dumps, {result.requests} requests, "
                             f"{result.errors} errors\n{proxy.tail()}")
        if keep is not None:  # for callgrind_annotate: where the instructions go
            keep.mkdir(parents=True, exist_ok=True)
            for dump in dumps:
                shutil.copy(dump, keep / f"{name.replace(' ', '-')}.{dump.name}")
        return _callgrind_totals(dumps) / result.requests, result.requests
    finally:
        children.stop(proxy)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="measured wrk run (default 10)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--only", default=",".join(PROXIES),
                   help=f"comma-separated subset of: {', '.join(PROXIES)}")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="copy the callgrind dumps here (NAME.cg.PID.N) for callgrind_annotate")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = p.parse_args()
    names = [n for n in PROXIES if n in args.only.split(",")]
    missing = [t for t in ("valgrind", "callgrind_control", "wrk", "taskset", args.nginx)
               if shutil.which(t) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="hotdeploy-nginx-instr-"))
    children = Children(work)
    rows: dict[str, tuple[float, int]] = {}
    try:
        setup = prepare(work, args.nginx)
        start_backends(children, setup, LOAD_CORE)
        script = write_script(work)
        for name in names:
            rows[name] = count(children, setup, name, script, args.seconds, args.connections,
                               args.keep)
    except BenchError as exc:
        print(f"bench failed: {exc}")
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(f"callgrind, user instructions per request, {args.connections} keep-alive "
          f"connections, {args.seconds} s measured after {WARMUP_SECONDS} s warm-up")
    base = rows.get(PLAIN)
    for name, (per_request, requests) in rows.items():
        ratio = f"  x{per_request / base[0]:.2f} plain nginx" if base else ""
        print(f"  {name:<16} {per_request:>9,.0f} instructions/request "
              f"({requests:,} requests){ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
