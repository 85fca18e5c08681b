#!/usr/bin/env python3
"""Benchmark the nginx engine's live mode against plain nginx, same backends, same run.

    python bench/nginx_engine.py [--quick] [--rounds N] [--duration S] [--connections 64,256]

"plain nginx" reads bench_conf.proxy_conf: a static upstream of the two backends (nginx's own
round robin). "hotdeploy nginx" is the configuration the engine renders in live mode
(dataplane/nginx/config.render_live: Lua balancer, log_by_lua counters, shared dict), with
the two backends added through its admin API as the orchestrator does. Both run one worker
pinned to core 0 (wrk and the backends on core 1) and the same keepalive_requests, so the
difference is the Lua balancer and its accounting. Rounds alternate the order; the report is
the median per-round ratio hotdeploy/plain for requests/s, p99 and CPU time per request.
Loopback only; every process started is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench_conf import (
    KEEPALIVE_REQUESTS,
    UPSTREAM_KEEPALIVE,
    Ports,
    backends_conf,
    proxy_conf,
    write_prefix,
)
from bench_procs import Children, cpu_seconds, free_port, pinned, wait_http_ready
from bench_wrk import run_wrk, write_script
from hotdeploy.dataplane.nginx.config import Runtime, render_live
from hotdeploy.dataplane.nginx.detect import inspect
from hotdeploy.dataplane.nginx.live import lua_dir
from hotdeploy.dataplane.nginx.paths import NginxPaths
from hotdeploy.project.loader import parse_project
from hotdeploy.project.topology import topology_of

PLAIN, HOTDEPLOY = "plain nginx", "hotdeploy nginx"
PROXY_CORE, LOAD_CORE = 0, 1
TARGET = 0.9


def hotdeploy_conf(ports: Ports, admin_port: int, prefix: Path, binary: str) -> str:
    project = parse_project({
        "project": {"name": "bench"},
        "balancer": {"listen": f"127.0.0.1:{ports.proxy}", "strategy": "active-active",
                     "keepalive": UPSTREAM_KEEPALIVE},
        "services": {"web": {"app": "w:app", "route": "/"}}})
    text = render_live(topology_of(project), Runtime(
        NginxPaths(str(prefix)), admin_port, lua_dir(), inspect(binary).modules))
    # Same worker count and client keep-alive limit as the plain configuration.
    return text.replace("worker_processes auto;", "worker_processes 1;").replace(
        "    access_log off;", f"    access_log off;\n    keepalive_requests {KEEPALIVE_REQUESTS};",
        1)


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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=int)
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
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    try:
        ports = Ports(free_port(), free_port(), free_port())
        admin = free_port()
        plain_conf, plain_prefix = write_prefix(work, "plain", proxy_conf(ports))
        hd_prefix = work / "hotdeploy"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (hd_prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        hd_conf = hd_prefix / "nginx.conf"
        hd_conf.write_text(hotdeploy_conf(ports, admin, hd_prefix, args.nginx))
        back_conf, back_prefix = write_prefix(work, "backends", backends_conf(ports))
        backends = children.start("backends", pinned(
            [args.nginx, "-c", str(back_conf), "-p", f"{back_prefix}/"], core(LOAD_CORE)))
        wait_http_ready(backends, ports.backend_a)
        wait_http_ready(backends, ports.backend_b)
        script = write_script(work)
        cmds = {PLAIN: [args.nginx, "-c", str(plain_conf), "-p", f"{plain_prefix}/"],
                HOTDEPLOY: [args.nginx, "-c", str(hd_conf), "-p", f"{hd_prefix}/"]}
        print(f"nginx engine bench: {duration}s per run, {rounds} round(s), connections {conns}, "
              f"pinning {'on' if pin else 'off'}")
        for rnd in range(1, rounds + 1):
            order = (HOTDEPLOY, PLAIN) if rnd % 2 else (PLAIN, HOTDEPLOY)
            for name in order:
                proxy = children.start(name.replace(" ", "-"), pinned(cmds[name],
                                                                      core(PROXY_CORE)))
                try:
                    if name == HOTDEPLOY:  # no servers until the admin API adds them
                        add_servers(proxy, admin, ports)
                    wait_http_ready(proxy, ports.proxy)
                    for c in conns:
                        run_wrk(children, script, ports.proxy, c, 1, core(LOAD_CORE))
                        cpu0 = cpu_seconds(proxy.pid)
                        r = run_wrk(children, script, ports.proxy, c, duration, core(LOAD_CORE))
                        cpu_us = (cpu_seconds(proxy.pid) - cpu0) / max(r.requests, 1) * 1e6
                        results.setdefault((name, c), []).append((r.rps, r.p99_ms, cpu_us))
                        print(f"  round {rnd} {name:<16} c={c:<4} {r.rps:>9,.0f} req/s "
                              f"p99 {r.p99_ms:6.2f} ms cpu {cpu_us:5.1f} us/req "
                              f"errors {r.errors}")
                finally:
                    children.stop(proxy)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    ok = True
    print("\nmedian of per-round ratios hotdeploy/plain (rps: higher is better; p99, cpu: "
          "lower is better)")
    for c in conns:
        pairs = list(zip(results[(HOTDEPLOY, c)], results[(PLAIN, c)], strict=True))
        rps = statistics.median(h[0] / p[0] for h, p in pairs)
        p99 = statistics.median(h[1] / p[1] for h, p in pairs)
        cpu = statistics.median(h[2] / p[2] for h, p in pairs)
        med = {n: statistics.median(x[0] for x in results[(n, c)]) for n in (PLAIN, HOTDEPLOY)}
        print(f"  c={c:<4} plain {med[PLAIN]:>9,.0f} req/s, hotdeploy {med[HOTDEPLOY]:>9,.0f} "
              f"req/s: rps x{rps:.2f}  p99 x{p99:.2f}  cpu/req x{cpu:.2f}  "
              f"({'meets' if rps >= TARGET else 'BELOW'} the {TARGET}x target)")
        ok &= rps >= TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
