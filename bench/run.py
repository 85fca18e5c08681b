#!/usr/bin/env python3
"""Benchmark `hotdeploy lb` against nginx on the same backends, in the same run.

    python bench/run.py [--quick] [--json FILE]

Two backends (one nginx worker answering from memory) run with wrk on core 1; the proxy under
test runs alone on core 0. Both proxies read the SAME nginx.conf with the same flags and are
alternated run by run; the report gives medians and the median of per-round ratios
hotdeploy/nginx for requests/s, p50, p99 and CPU time per request, plus each proxy's memory with
1,000 idle keep-alive clients. Loopback only; every process started is stopped on exit,
Ctrl-C or error. See docs/benchmarks.md for how to read the output.
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

from bench_conf import Ports, backends_conf, proxy_conf, write_prefix
from bench_idle import IdleMemory, idle_memory
from bench_procs import BenchError, Child, Children, cpu_seconds, free_port, pinned, wait_http_ready
from bench_report import BACKEND, FLOOR, HOTDEPLOY, NGINX, Run, print_report, summary
from bench_wrk import run_wrk, write_script

PROXY_CORE, LOAD_CORE = 0, 1  # DESIGN.md: proxy alone on one core, wrk + backends on the other
FD_LIMIT_WANTED = 16384  # 1,000 idle clients + upstream connections, in this process and children

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
    workers: int = 1  # worker_processes of both proxies; above 1 the proxies are not pinned


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="short smoke run: 1 s per run, one round")
    p.add_argument("--duration", type=int, help="seconds per measured wrk run (default 10)")
    p.add_argument("--rounds", type=int, help="rounds of hotdeploy-then-nginx (default 3)")
    p.add_argument("--connections", default="64,256",
                   help="comma-separated wrk connection counts (default 64,256)")
    p.add_argument("--idle", type=int, help="idle keep-alive clients for the memory figure "
                   "(default 1000)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx",
                   help="nginx binary (default: from PATH)")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    p.add_argument("--workers", type=int, default=1,
                   help="worker_processes of both proxies (default 1); with more than one the "
                        "proxies run unpinned, on every core")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the python floor row (bench/floor_proxy.py)")
    p.add_argument("--workdir", help="keep configs and logs in this directory")
    # Development aid: run another command in hotdeploy's slot, e.g. nginx itself.
    # {conf} and {prefix} are substituted; the command must stay in the foreground.
    p.add_argument("--proxy-cmd", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    return args, _settings(args)


def _settings(args: argparse.Namespace) -> Settings:
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
        rounds=args.rounds or (1 if quick else 3),
        connections=[int(c) for c in args.connections.split(",") if c],
        idle=args.idle if args.idle is not None else 1000,
        pin=can_pin, nginx=args.nginx, hotdeploy_cmd=cmd, hotdeploy_label=label,
        floor=not args.no_floor, workers=args.workers)


class Bench:
    """One benchmark invocation: owns the work directory, the ports and every child process."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.s = settings
        self.dir = workdir
        self.children = Children(workdir)
        self.ports = Ports(free_port(), free_port(), free_port())
        self.conf, self.prefix = write_prefix(workdir, "proxy",
                                              proxy_conf(self.ports, settings.workers))
        self.backend_conf, self.backend_prefix = write_prefix(
            workdir, "backends", backends_conf(self.ports))
        self.script = write_script(workdir)
        self.runs: list[Run] = []
        self.memory: dict[str, IdleMemory] = {}

    def core(self, core: int) -> int | None:
        return core if self.s.pin else None

    def proxy_cmd(self, name: str) -> list[str]:
        if name == NGINX:
            template = [self.s.nginx, "-c", "{conf}", "-p", "{prefix}"]
        elif name == FLOOR:
            ports = self.ports
            template = [sys.executable, str(Path(__file__).with_name("floor_proxy.py")),
                        *(str(p) for p in (ports.proxy, ports.backend_a, ports.backend_b))]
        else:
            template = self.s.hotdeploy_cmd
        subst = {"{conf}": str(self.conf), "{prefix}": f"{self.prefix}/"}
        return [subst.get(arg, arg) for arg in template]

    def start_backends(self) -> Child:
        cmd = [self.s.nginx, "-c", str(self.backend_conf), "-p", f"{self.backend_prefix}/"]
        child = self.children.start("backends", pinned(cmd, self.core(LOAD_CORE)))
        wait_http_ready(child, self.ports.backend_a)
        wait_http_ready(child, self.ports.backend_b)
        return child

    def start_proxy(self, name: str) -> Child:
        core = self.core(PROXY_CORE) if self.s.workers == 1 else None
        child = self.children.start(name, pinned(self.proxy_cmd(name), core))
        wait_http_ready(child, self.ports.proxy)
        return child

    def measure(self, target: str, rnd: int, port: int, pid: int) -> None:
        """Warm up (fills keep-alive pools), then one measured run per connection count."""
        for conns in self.s.connections:
            run_wrk(self.children, self.script, port, conns, self.s.warmup, self.core(LOAD_CORE))
            cpu0 = cpu_seconds(pid)
            result = run_wrk(self.children, self.script, port, conns, self.s.duration,
                             self.core(LOAD_CORE))
            cpu_us = (cpu_seconds(pid) - cpu0) / result.requests * 1e6 if result.requests else None
            self.runs.append(Run(target, conns, rnd, result, cpu_us))
            console.print(f"  round {rnd} {target:<16} c={conns:<4} {result.rps:>8,.0f} req/s "
                          f"p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms "
                          f"cpu {_us(cpu_us)} µs/req errors {result.errors}")

    def run(self) -> dict[str, object]:
        backends = self.start_backends()
        console.print(f"[bold]direct to one backend[/bold] (127.0.0.1:{self.ports.backend_a})")
        self.measure(BACKEND, 1, self.ports.backend_a, backends.pid)
        for rnd in range(1, self.s.rounds + 1):
            # Alternate which proxy goes first so drift in machine load hits both alike.
            order = (HOTDEPLOY, NGINX) if rnd % 2 else (NGINX, HOTDEPLOY)
            if self.s.floor:
                order += (FLOOR,)
            for name in order:
                proxy = self.start_proxy(name)
                try:
                    self.measure(name, rnd, self.ports.proxy, proxy.pid)
                finally:
                    self.children.stop(proxy)
        for name in (HOTDEPLOY, NGINX):
            self.memory[name] = self.idle_memory(name)
        return summary(self.runs, self.s.connections, self.memory)

    def idle_memory(self, name: str) -> IdleMemory:
        proxy = self.start_proxy(name)
        try:
            mem = idle_memory(proxy.pid, self.ports.proxy, self.s.idle)
        finally:
            self.children.stop(proxy)
        console.print(f"  {name:<16} RSS {mem.rss_before_mb:.1f} MB fresh, "
                      f"{mem.rss_idle_mb:.1f} MB with {mem.connections} idle keep-alive clients")
        return mem


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT_WANTED if hard == resource.RLIM_INFINITY else min(hard, FD_LIMIT_WANTED)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def check_tools(s: Settings) -> None:
    missing = [t for t in ("wrk", s.nginx) if shutil.which(t) is None]
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} (apt-get install nginx wrk)")


def describe(s: Settings) -> None:
    nginx_version = subprocess.run([s.nginx, "-v"], capture_output=True, text=True).stderr.strip()
    console.print(f"[bold]hotdeploy bench[/bold]: {platform.python_version()} {nginx_version}, "
                  f"{os.cpu_count()} CPUs, {s.duration}s per run, {s.rounds} round(s), "
                  f"connections {s.connections}")
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
    if s.pin:
        console.print(f"pinning: proxy on core {PROXY_CORE}; wrk and backends on core {LOAD_CORE}")
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
    raise_fd_limit()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hotdeploy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench: Bench | None = None
    started = time.monotonic()
    try:
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
                            "pinned": settings.pin, "hotdeploy": settings.hotdeploy_label},
               "runs": [r.to_json() for r in bench.runs], **data} if bench else data
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
