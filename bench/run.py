#!/usr/bin/env python3
"""Benchmark `hotdeploy lb` against nginx on the same backends, in the same run.

    python bench/run.py [--mode get,post16k,get1m,workers,idle | --all] [--quick] [--json FILE]

Two backends (one nginx worker answering from memory) run with wrk on core 1; the proxy under
test runs alone on core 0 (unpinned in the `workers` mode, where both proxies run
worker_processes N). Both proxies read the SAME nginx.conf with the same flags and are
alternated round by round; per mode (GET, POST with a 16 KiB body, GET of 1 MiB, N workers) the
report gives medians and the median and spread of per-round ratios hotdeploy/nginx for
requests/s, p50, p99 and CPU time per request of the whole process tree; the `idle` mode gives
each proxy's RSS and PSS with 1,000 and 10,000 idle keep-alive clients, with 1 and N workers.
Loopback only; every process started is stopped on exit, Ctrl-C or error. See
docs/benchmarks.md for how to read the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console

from bench_conf import Ports, backends_conf, proxy_conf, write_backend_files, write_prefix
from bench_idle import IdleMemory, idle_memory
from bench_modes import (
    ALL_MODES,
    DEFAULT_MODES,
    IDLE,
    THROUGHPUT_MODES,
    Mode,
    parse_modes,
)
from bench_procs import (
    BenchError,
    Child,
    Children,
    cpu_seconds,
    free_port,
    pinned,
    steal_seconds,
    wait_http_ready,
    wait_tree_settled,
)
from bench_report import BACKEND, FLOOR, HOTDEPLOY, NGINX, Run, print_report, summary
from bench_wrk import run_wrk, write_script

PROXY_CORE, LOAD_CORE = 0, 1  # DESIGN.md: proxy alone on one core, wrk + backends on the other
# 10,000 idle clients are 10,000 descriptors in this process and as many in the proxy (which
# inherits the limit), plus upstream connections and wrk's: ask for up to this much.
FD_LIMIT_WANTED = 65536
# A measured run is repeated when the hypervisor took more than --steal-limit of the machine's
# CPU time during it (bench_procs.steal_seconds); at most this many attempts per run.
STEAL_ATTEMPTS = 3
DEFAULT_STEAL_LIMIT = 0.05
FD_MARGIN = 512  # descriptors beyond the idle clients: logs, listeners, upstream connections

# Wide enough for the table when the output goes to a file or CI log.
console = Console(width=None if sys.stdout.isatty() else 110)


@dataclass(frozen=True)
class Settings:
    duration: int
    warmup: int
    rounds: int
    connections: list[int]
    idle: int
    pin: bool
    nginx: str
    hotdeploy_cmd: list[str]
    hotdeploy_label: str
    floor: bool
    modes: tuple[str, ...] = DEFAULT_MODES
    steal_limit: float = DEFAULT_STEAL_LIMIT
    workers: int = 2  # worker_processes of both proxies in the `workers` mode and 2nd idle figure


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", help=f"comma-separated modes out of {', '.join(ALL_MODES)} "
                                  f"(default {','.join(DEFAULT_MODES)}; every mode with --quick)")
    p.add_argument("--all", action="store_true", help="every mode: the full report")
    p.add_argument("--quick", action="store_true",
                   help="short smoke run: 1 s per run, one round, 200 idle clients, every mode "
                        "unless --mode is given")
    p.add_argument("--duration", type=int, help="seconds per measured wrk run (default 10)")
    p.add_argument("--rounds", type=int, help="rounds of both proxies, alternating which goes "
                   "first (default 5)")
    p.add_argument("--connections", default="64,256",
                   help="comma-separated wrk connection counts (default 64,256)")
    p.add_argument("--idle", type=int, help="idle keep-alive clients for the memory figure "
                   "(default 10000; memory is also read at 1000 on the way)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx",
                   help="nginx binary (default: from PATH)")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    p.add_argument("--workers", type=int, default=2,
                   help="worker_processes of both proxies in the `workers` mode and in the "
                        "second idle figure (default 2); those proxies run unpinned")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the python floor row (bench/floor_proxy.py)")
    p.add_argument("--workdir", help="keep configs and logs in this directory")
    p.add_argument("--steal-limit", type=float, default=DEFAULT_STEAL_LIMIT * 100,
                   metavar="PERCENT",
                   help="measure a run again (up to 3 attempts) when the hypervisor stole more "
                        "than this share of the CPU time during it (default "
                        f"{DEFAULT_STEAL_LIMIT:.0%}; 100 turns it off)")
    # Development aid: run another command in hotdeploy's slot, e.g. nginx itself.
    # {conf} and {prefix} are substituted; the command must stay in the foreground.
    p.add_argument("--proxy-cmd", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        every = args.all or (args.quick and args.mode is None)
        modes = ALL_MODES if every else tuple(parse_modes(args.mode or ",".join(DEFAULT_MODES)))
    except ValueError as exc:
        p.error(str(exc))
    if not modes:
        p.error("no mode chosen")
    return args, _settings(args, modes)


def _settings(args: argparse.Namespace, modes: tuple[str, ...]) -> Settings:
    quick = args.quick
    if args.proxy_cmd:
        # Marked with a star: the table must never pass off another proxy's figures as ours.
        cmd, label = shlex.split(args.proxy_cmd), f"{HOTDEPLOY}*"
    else:
        cmd = [sys.executable, "-m", "hotdeploy", "lb", "-c", "{conf}", "-p", "{prefix}"]
        label = HOTDEPLOY
    can_pin = (not args.no_pin and shutil.which("taskset") is not None
               and len(os.sched_getaffinity(0)) >= 2)
    return Settings(
        duration=args.duration or (1 if quick else 10),
        warmup=1,
        rounds=args.rounds or (1 if quick else 5),
        connections=[int(c) for c in args.connections.split(",") if c],
        idle=args.idle if args.idle is not None else (200 if quick else 10_000),
        pin=can_pin, nginx=args.nginx, hotdeploy_cmd=cmd, hotdeploy_label=label,
        floor=not args.no_floor, modes=modes, workers=args.workers,
        steal_limit=args.steal_limit / 100)


class Bench:
    """One benchmark invocation: owns the work directory, the ports and every child process."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.s = settings
        self.dir = workdir
        self.children = Children(workdir)
        self.ports = Ports(free_port(), free_port(), free_port())
        # One proxy configuration per worker count: `proxy` (1) and `proxy-wN`.
        self.confs = {w: write_prefix(workdir, "proxy" if w == 1 else f"proxy-w{w}",
                                      proxy_conf(self.ports, w))
                      for w in sorted({1, settings.workers})}
        self.backend_conf, self.backend_prefix = write_prefix(
            workdir, "backends", backends_conf(self.ports))
        write_backend_files(self.backend_prefix)
        self.runs: list[Run] = []
        self.memory: dict[int, dict[str, IdleMemory]] = {}

    def core(self, core: int) -> int | None:
        return core if self.s.pin else None

    def proxy_cmd(self, name: str, workers: int) -> list[str]:
        if name == NGINX:
            template = [self.s.nginx, "-c", "{conf}", "-p", "{prefix}"]
        elif name == FLOOR:
            ports = self.ports
            template = [sys.executable, str(Path(__file__).with_name("floor_proxy.py")),
                        *(str(p) for p in (ports.proxy, ports.backend_a, ports.backend_b))]
        else:
            template = self.s.hotdeploy_cmd
        conf, prefix = self.confs[workers]
        subst = {"{conf}": str(conf), "{prefix}": f"{prefix}/"}
        return [subst.get(arg, arg) for arg in template]

    def start_backends(self) -> Child:
        cmd = [self.s.nginx, "-c", str(self.backend_conf), "-p", f"{self.backend_prefix}/"]
        child = self.children.start("backends", pinned(cmd, self.core(LOAD_CORE)))
        wait_http_ready(child, self.ports.backend_a)
        wait_http_ready(child, self.ports.backend_b)
        return child

    def start_proxy(self, name: str, workers: int = 1) -> Child:
        """Start a proxy and wait until it answers and all its workers are forked; pinned to
        the proxy core only with one worker (N workers get every core, as in production)."""
        core = self.core(PROXY_CORE) if workers == 1 else None
        child = self.children.start(name, pinned(self.proxy_cmd(name, workers), core))
        wait_http_ready(child, self.ports.proxy)
        # A master and N workers; hotdeploy with one worker is one process.
        wait_tree_settled(child.pid, 1 if workers == 1 else workers + 1)
        return child

    def measure(self, mode: Mode, script: Path, target: str, rnd: int, port: int,
                pid: int) -> None:
        """Warm up (fills keep-alive pools), then one measured run per connection count.
        CPU is utime + stime of the whole process tree under `pid` (master and workers).
        A run during which the hypervisor stole more than the steal limit is measured again
        (up to STEAL_ATTEMPTS times, keeping the least stolen): on a shared VM such a run
        halves one proxy's figure and decides the round's ratio by itself."""
        url = f"http://127.0.0.1:{port}{mode.path}"
        for conns in self.s.connections:
            run_wrk(self.children, script, port, conns, self.s.warmup, self.core(LOAD_CORE),
                    url=url)
            best: Run | None = None
            for attempt in range(1, STEAL_ATTEMPTS + 1):
                run = self._measured_run(mode, script, target, rnd, port, pid, conns, url)
                if best is None or run.steal < best.steal:
                    best = run
                if run.steal <= self.s.steal_limit:
                    break
                if attempt < STEAL_ATTEMPTS:
                    console.print(f"  [yellow]{target} c={conns}: the hypervisor stole "
                                  f"{run.steal:.0%} of the CPU time; measuring again[/yellow]")
            assert best is not None
            self.runs.append(best)
            result = best.wrk
            console.print(f"  {mode.name:<7} round {rnd} {target:<16} c={conns:<4}"
                          f"{result.rps:>8,.0f} req/s p50 {result.p50_ms:.2f} "
                          f"p99 {result.p99_ms:.2f} ms cpu {_us(best.cpu_us)} µs "
                          f"steal {best.steal:.0%} errors {result.errors}")

    def _measured_run(self, mode: Mode, script: Path, target: str, rnd: int, port: int,
                      pid: int, conns: int, url: str) -> Run:
        cpu0, steal0, t0 = cpu_seconds(pid), steal_seconds(), time.monotonic()
        result = run_wrk(self.children, script, port, conns, self.s.duration,
                         self.core(LOAD_CORE), url=url)
        elapsed = time.monotonic() - t0
        cpu_us = (cpu_seconds(pid) - cpu0) / result.requests * 1e6 if result.requests else None
        steal = (steal_seconds() - steal0) / (elapsed * (os.cpu_count() or 1))
        return Run(mode.name, target, conns, rnd, result, cpu_us, steal)

    def run_mode(self, mode: Mode, backends: Child) -> None:
        script = write_script(self.dir, mode.name, mode.lua_prelude)
        workers = mode.workers(self.s.workers)
        console.print(f"[bold]{mode.name}[/bold]: {mode.heading(self.s.workers)}")
        self.measure(mode, script, BACKEND, 1, self.ports.backend_a, backends.pid)
        for rnd in range(1, self.s.rounds + 1):
            # Alternate which proxy goes first so drift in machine load hits both alike.
            order = (HOTDEPLOY, NGINX) if rnd % 2 else (NGINX, HOTDEPLOY)
            if self.s.floor and mode.floor:
                order += (FLOOR,)
            for name in order:
                proxy = self.start_proxy(name, 1 if name == FLOOR else workers)
                try:
                    self.measure(mode, script, name, rnd, self.ports.proxy, proxy.pid)
                finally:
                    self.children.stop(proxy)

    def run(self) -> dict[str, object]:
        backends = self.start_backends()
        titles: dict[str, str] = {}
        for name in self.s.modes:
            mode = THROUGHPUT_MODES.get(name)
            if mode is not None:
                self.run_mode(mode, backends)
                titles[name] = mode.heading(self.s.workers)
        if IDLE in self.s.modes:
            console.print(f"[bold]idle[/bold]: memory with {self.s.idle:,} idle keep-alive "
                          "clients")
            for workers in sorted({1, self.s.workers}):
                self.memory[workers] = {name: self.idle_memory(name, workers)
                                        for name in (HOTDEPLOY, NGINX)}
        return summary(self.runs, self.s.connections, titles, self.memory)

    def idle_memory(self, name: str, workers: int) -> IdleMemory:
        proxy = self.start_proxy(name, workers)
        try:
            processes = len(wait_tree_settled(proxy.pid, 1))
            mem = idle_memory(proxy.pid, self.ports.proxy, self.s.idle, workers, processes)
        finally:
            self.children.stop(proxy)
        points = ", ".join(f"{s.connections:,} clients RSS {s.rss_mb:.1f} PSS {_mb(s.pss_mb)}"
                           for s in mem.samples)
        console.print(f"  {name:<16} workers {workers} ({processes} processes): {points} MB")
        return mem


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def raise_fd_limit(idle_clients: int) -> None:
    """Raise the soft RLIMIT_NOFILE as far as the hard one allows (the proxies inherit it);
    fail early when it cannot hold the idle clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT_WANTED if hard == resource.RLIM_INFINITY else min(hard, FD_LIMIT_WANTED)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    needed = idle_clients + FD_MARGIN
    if max(soft, wanted) < needed:
        raise BenchError(f"{idle_clients:,} idle clients need {needed:,} open files, the hard "
                         f"limit is {hard:,} (raise `ulimit -Hn` or pass a smaller --idle)")


def check_tools(s: Settings) -> None:
    missing = [t for t in ("wrk", s.nginx) if shutil.which(t) is None]
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} (apt-get install nginx wrk)")


def describe(s: Settings) -> None:
    nginx_version = subprocess.run([s.nginx, "-v"], capture_output=True, text=True).stderr.strip()
    console.print(f"[bold]hotdeploy bench[/bold]: {platform.python_version()} {nginx_version}, "
                  f"{os.cpu_count()} CPUs, {s.duration}s per run, {s.rounds} round(s), "
                  f"connections {s.connections}, modes {', '.join(s.modes)}")
    console.print("backends: one nginx (worker_processes 1) on two loopback ports answering "
                  "`return 200` from memory — a few µs per request, so they are never the "
                  "bottleneck; the direct row shows their ceiling.")
    console.print("proxies: both read the same nginx.conf: `nginx -c FILE -p DIR` and "
                  "`hotdeploy lb -c FILE -p DIR` (run as `python -m hotdeploy lb`)")
    if s.floor:
        console.print(f"{FLOOR}: bench/floor_proxy.py, a byte-for-byte uvloop + httptools "
                      "forwarder with none of nginx's semantics: what CPython itself costs per "
                      "request here (the ceiling for any Python proxy on this machine)")
    if s.hotdeploy_label != HOTDEPLOY:
        console.print(f"[yellow]* hotdeploy's slot runs: {shlex.join(s.hotdeploy_cmd)}[/yellow]")
    console.print(f"steal: a run during which the hypervisor took more than {s.steal_limit:.0%} "
                  f"of the CPU time is measured again (at most {STEAL_ATTEMPTS} attempts, the "
                  "least stolen kept); each line shows the steal of the run kept")
    if s.pin:
        console.print(f"pinning: proxy on core {PROXY_CORE}; wrk and backends on core {LOAD_CORE}"
                      f"; with worker_processes {s.workers} the proxies are not pinned")
    else:
        console.print("[yellow]pinning: off (needs taskset and 2 cores); figures will wobble"
                      "[/yellow]")


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP all unwind like Ctrl-C, so `finally` stops every child
    (also when started from a script that ignores SIGINT for background jobs)."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    sig_handler: Callable[[int, FrameType | None], None] = handler
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, sig_handler)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    install_signal_handlers()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hotdeploy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench: Bench | None = None
    started = time.monotonic()
    try:
        raise_fd_limit(settings.idle if IDLE in settings.modes else 0)
        check_tools(settings)
        describe(settings)
        bench = Bench(settings, workdir)
        data = bench.run()
    except BenchError as exc:
        console.print(f"[red]bench failed:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping every process started[/yellow]")
        return 130
    finally:
        if bench is not None:
            bench.children.stop_all()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(console, data, settings.hotdeploy_label)
    console.print(f"done in {time.monotonic() - started:.0f}s")
    if args.json:
        doc = {"settings": {"duration_s": settings.duration, "rounds": settings.rounds,
                            "connections": settings.connections, "idle_clients": settings.idle,
                            "modes": list(settings.modes), "workers": settings.workers,
                            "pinned": settings.pin, "hotdeploy": settings.hotdeploy_label,
                            "steal_limit": settings.steal_limit},
               "runs": [r.to_json() for r in bench.runs], **data} if bench else data
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
