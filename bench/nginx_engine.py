#!/usr/bin/env python3
"""Benchmark the nginx engine's live mode against plain nginx, same backends, same run.

    python bench/nginx_engine.py [--quick] [--rounds N] [--duration S] [--connections 64,256]

"hotdeploy nginx" is the configuration the engine renders in live mode
(dataplane/nginx/config.render_live: Lua balancer, log_by_lua counters, shared dict), with
the two backends added through its admin API as the orchestrator does. "plain nginx" is the
same project rendered as a static nginx.conf (the reload mode's rendering: render_reload and
render_upstreams), with the two backends as `server` lines: the same main/events/http
settings, the same location directives, the same upstream `keepalive`, and nginx's own round
robin. Both get the same edits (one worker, keepalive_requests for clients and upstream
connections) and run at the same time, pinned to core 0 (wrk and the backends on core 1), so
the difference is the Lua balancer and its accounting.

The machine is shared, so the load around a run changes from second to second: each round
measures both proxies in alternating 1-second slices (A B B A A B ...) and sums them, so the
two figures of a round see the same neighbours. The report is the median per-round ratio
hotdeploy/plain for requests/s, p99 and CPU time per request, with its spread.
Loopback only; every process started is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench_conf import (
    KEEPALIVE_REQUESTS,
    UPSTREAM_KEEPALIVE,
    Ports,
    backends_conf,
    write_prefix,
)
from bench_procs import Children, cpu_seconds, free_port, pinned, wait_http_ready
from bench_wrk import run_wrk, write_script
from hotdeploy.dataplane.nginx.config import (
    Runtime,
    StaticServer,
    render_live,
    render_reload,
    render_upstreams,
)
from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.dataplane.nginx.live import lua_dir
from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.project.loader import parse_project
from hotdeploy.project.topology import Topology, topology_of

PLAIN, HOTDEPLOY = "plain nginx", "hotdeploy nginx"
PROXY_CORE, LOAD_CORE = 0, 1
TARGET = 0.9


SLICE = 1  # seconds per measured slice


def bench_topology(listen: int) -> Topology:
    project = parse_project({
        "project": {"name": "bench"},
        "balancer": {"listen": f"127.0.0.1:{listen}", "strategy": "active-active",
                     "keepalive": UPSTREAM_KEEPALIVE},
        "services": {"web": {"app": "w:app", "route": "/"}}})
    return topology_of(project)


def bench_edits(text: str) -> str:
    """The edits both configurations get: one worker (pinned), and keep-alive limits high
    enough that no connection, client or upstream, is re-opened during a run."""
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    text = text.replace("    access_log off;",
                        f"    access_log off;\n    keepalive_requests {KEEPALIVE_REQUESTS};", 1)
    return re.sub(r"^( *)keepalive (\d+);$", rf"\1keepalive \2;\n\1keepalive_requests "
                  rf"{KEEPALIVE_REQUESTS};", text, flags=re.MULTILINE)


def hotdeploy_conf(ports: Ports, admin_port: int, prefix: Path, binary: str) -> str:
    text = render_live(bench_topology(ports.proxy), Runtime(
        NginxPaths(str(prefix)), admin_port, lua_dir(), inspect(binary).modules))
    return bench_edits(text)


def plain_conf(ports: Ports, admin_port: int, prefix: Path) -> str:
    """The same project as a static nginx.conf; writes the upstream include it reads."""
    topology = bench_topology(ports.proxy)
    paths = NginxPaths(str(prefix))
    spec = topology.upstreams[0]
    servers = [StaticServer(f"127.0.0.1:{port}", max_fails=spec.max_fails,
                            fail_timeout=spec.fail_timeout)
               for port in (ports.backend_a, ports.backend_b)]
    include = render_upstreams(topology, {spec.name: servers})
    Path(paths.upstreams_include).write_text(bench_edits(include))
    text = render_reload(topology, Runtime(paths, admin_port))
    return bench_edits(text.replace("@GENERATION@", "bench"))


def add_servers(proxy, admin: int, ports: Ports) -> None:
    api = f"http://127.0.0.1:{admin}/api/9/http/upstreams/svc_web/servers"
    deadline = time.monotonic() + 15
    while True:
        try:
            for port in (ports.backend_a, ports.backend_b):
                httpx.post(api, json={"server": f"127.0.0.1:{port}"}, timeout=2,
                           trust_env=False).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or proxy.proc.poll() is not None:
                raise
            time.sleep(0.05)


@dataclass
class Tally:
    """One proxy's slices of one round: summed requests, seconds and CPU, and slice p99s."""

    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    p99s: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu / max(self.requests, 1) * 1e6


def spread(values: list[float]) -> str:
    return f"[{min(values):.2f}-{max(values):.2f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=int, help="seconds per proxy per round and "
                   "connection count (in 1-second slices)")
    p.add_argument("--connections", default="64,256")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (2 if args.quick else 10)
    conns = [int(c) for c in args.connections.split(",") if c]
    pin = shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2

    def core(n: int) -> int | None:
        return n if pin else None

    work = Path(tempfile.mkdtemp(prefix="hotdeploy-nginx-bench-"))
    children = Children(work)
    results: dict[tuple[str, int], list[Tally]] = {}
    try:
        backend_a, backend_b = free_port(), free_port()
        ports = {name: Ports(free_port(), backend_a, backend_b) for name in (PLAIN, HOTDEPLOY)}
        admin = {name: free_port() for name in (PLAIN, HOTDEPLOY)}
        prefixes = {PLAIN: work / "plain", HOTDEPLOY: work / "hotdeploy"}
        for prefix in prefixes.values():
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        texts = {PLAIN: plain_conf(ports[PLAIN], admin[PLAIN], prefixes[PLAIN]),
                 HOTDEPLOY: hotdeploy_conf(ports[HOTDEPLOY], admin[HOTDEPLOY],
                                           prefixes[HOTDEPLOY], args.nginx)}
        back_conf, back_prefix = write_prefix(work, "backends",
                                              backends_conf(ports[PLAIN]))
        backends = children.start("backends", pinned(
            [args.nginx, "-c", str(back_conf), "-p", f"{back_prefix}/"], core(LOAD_CORE)))
        wait_http_ready(backends, backend_a)
        wait_http_ready(backends, backend_b)
        proxies = {}
        for name in (PLAIN, HOTDEPLOY):
            conf = prefixes[name] / "nginx.conf"
            conf.write_text(texts[name])
            proxies[name] = children.start(name.replace(" ", "-"), pinned(
                [args.nginx, "-c", str(conf), "-p", f"{prefixes[name]}/"], core(PROXY_CORE)))
        add_servers(proxies[HOTDEPLOY], admin[HOTDEPLOY], ports[HOTDEPLOY])
        for name in (PLAIN, HOTDEPLOY):
            wait_http_ready(proxies[name], ports[name].proxy)
        script = write_script(work)
        print(f"nginx engine bench: {duration}s per proxy per run in {SLICE}s slices, "
              f"{rounds} round(s), connections {conns}, pinning {'on' if pin else 'off'}")
        for rnd in range(1, rounds + 1):
            for c in conns:
                tallies = {name: Tally() for name in (PLAIN, HOTDEPLOY)}
                for name in (PLAIN, HOTDEPLOY):  # warm-up: connections, JIT traces
                    run_wrk(children, script, ports[name].proxy, c, 1, core(LOAD_CORE))
                for i in range(max(duration // SLICE, 1)):
                    # A B B A A B ...: neither proxy always runs right after the other
                    order = (PLAIN, HOTDEPLOY) if (i + rnd) % 2 else (HOTDEPLOY, PLAIN)
                    for name in order:
                        pid, t = proxies[name].pid, tallies[name]
                        cpu0 = cpu_seconds(pid)
                        r = run_wrk(children, script, ports[name].proxy, c, SLICE,
                                    core(LOAD_CORE))
                        t.cpu += cpu_seconds(pid) - cpu0
                        t.requests += r.requests
                        t.seconds += r.seconds
                        t.p99s.append(r.p99_ms)
                        t.errors += r.errors
                for name in (PLAIN, HOTDEPLOY):
                    t = tallies[name]
                    results.setdefault((name, c), []).append(t)
                    print(f"  round {rnd} {name:<16} c={c:<4} {t.rps:>9,.0f} req/s "
                          f"p99 {statistics.median(t.p99s):6.2f} ms "
                          f"cpu {t.cpu_us:5.1f} us/req errors {t.errors}")
                print(f"  round {rnd} ratio            c={c:<4} "
                      f"x{tallies[HOTDEPLOY].rps / tallies[PLAIN].rps:.2f} req/s, "
                      f"x{tallies[HOTDEPLOY].cpu_us / tallies[PLAIN].cpu_us:.2f} cpu/req")
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    ok = True
    print("\nmedian [min-max] of per-round ratios hotdeploy/plain (rps: higher is better; "
          "p99, cpu: lower is better)")
    for c in conns:
        pairs = list(zip(results[(HOTDEPLOY, c)], results[(PLAIN, c)], strict=True))
        rps = [h.rps / p.rps for h, p in pairs]
        p99 = [statistics.median(h.p99s) / statistics.median(p.p99s) for h, p in pairs]
        cpu = [h.cpu_us / p.cpu_us for h, p in pairs]
        med = {n: statistics.median(t.rps for t in results[(n, c)]) for n in (PLAIN, HOTDEPLOY)}
        errors = sum(t.errors for n in (PLAIN, HOTDEPLOY) for t in results[(n, c)])
        print(f"  c={c:<4} plain {med[PLAIN]:>9,.0f} req/s, hotdeploy {med[HOTDEPLOY]:>9,.0f} "
              f"req/s: rps x{statistics.median(rps):.2f} {spread(rps)}  "
              f"p99 x{statistics.median(p99):.2f} {spread(p99)}  "
              f"cpu/req x{statistics.median(cpu):.2f} {spread(cpu)}  errors {errors}  "
              f"({'meets' if statistics.median(rps) >= TARGET else 'BELOW'} the {TARGET}x "
              f"target)")
        ok &= statistics.median(rps) >= TARGET and errors == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
