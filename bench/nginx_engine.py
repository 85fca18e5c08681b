#!/usr/bin/env python3
"""Benchmark the nginx engine's live mode against plain nginx and the Lua floor, same run.

    python bench/nginx_engine.py [--quick] [--rounds N] [--duration S] [--connections 64,256]

"hotdeploy nginx" is the configuration the engine renders in live mode
(dataplane/nginx/config.render_live: Lua balancer, log_by_lua counters, shared dict), with
the two backends added through its admin API as the orchestrator does. "plain nginx" is the
same project rendered as a static nginx.conf (the reload mode's rendering: render_reload and
render_upstreams), with the two backends as `server` lines: the same main/events/http
settings, the same location directives, the same upstream `keepalive`, and nginx's own round
robin. "lua floor" is plain nginx's file with only its upstream block swapped for the least a
`balancer_by_lua_block` can do: round robin over the same two backends with a Lua upvalue
counter and `ngx.balancer.set_current_peer`, the same `keepalive` after it, no log phase, no
shared dict. All get the same edits (one worker, keepalive_requests for clients and upstream
connections) and run at the same time, pinned to core 0 (wrk and the backends on core 1), so
hotdeploy - floor is hotdeploy's own Lua and floor - plain is what any Lua balancer costs.

The machine is shared, so the load around a run changes from second to second: each round
measures the proxies in alternating 1-second slices (A B C, C B A, A B C ...) and sums them,
so the figures of a round see the same neighbours. Before measuring, a 1-second run of each
proxy under `strace -e trace=connect` checks that upstream connections are reused (no
connect() per request). The report is the median per-round ratio to plain nginx, for
requests/s, p99 and CPU time per request, with its spread. Instruction counts under callgrind
(deterministic) are bench/nginx_instructions.py's. Loopback only; every process started is
stopped on exit.
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
from string import Template

import httpx

from bench_conf import (
    KEEPALIVE_REQUESTS,
    UPSTREAM_KEEPALIVE,
    Ports,
    backends_conf,
    write_prefix,
)
from bench_procs import (
    BenchError,
    Child,
    Children,
    cpu_seconds,
    free_port,
    pinned,
    process_tree,
    wait_http_ready,
)
from bench_wrk import run_wrk, write_script
from hotdeploy.dataplane.nginx.config import (
    PLACEHOLDER,
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

PLAIN, HOTDEPLOY, FLOOR = "plain nginx", "hotdeploy nginx", "lua floor"
PROXIES = (PLAIN, HOTDEPLOY, FLOOR)
SHORT = {PLAIN: "plain", HOTDEPLOY: "hotdeploy", FLOOR: "floor"}
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
    """The edits every configuration gets: one worker (pinned), and keep-alive limits high
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


# The floor's upstream include. The balancer is a closure built once per worker (init_by_lua
# runs in the master before the fork) so its counter survives between requests; the chunk
# reaches it through package.loaded, as hotdeploy's chunks reach their module, so the two
# pay the same chunk-to-function dispatch. `keepalive` comes AFTER balancer_by_lua_block:
# each of them wraps the upstream's peer callbacks set before it, and only in this order
# does the keepalive pool wrap the Lua balancer (the layout of lua-resty-core's
# ngx.balancer synopsis); the reuse check in main() confirms no connect() per request.
FLOOR_INCLUDE = Template("""# lua floor: the least a balancer_by_lua can do (bench/nginx_engine.py)
init_by_lua_block {
    local set_current_peer = require("ngx.balancer").set_current_peer
    local peers = { $peers }
    local turn = 0
    package.loaded.lua_floor = function()
        turn = turn % #peers + 1
        local peer = peers[turn]
        local ok, err = set_current_peer(peer[1], peer[2])
        if not ok then
            ngx.log(ngx.ERR, "lua floor: set_current_peer: ", err)
            return ngx.exit(500)
        end
    end
}
upstream $name {
    $placeholder
    balancer_by_lua_block { package.loaded.lua_floor() }
    keepalive $keepalive;
}
""")


def floor_conf(ports: Ports, admin_port: int, prefix: Path, binary: str) -> str:
    """Plain nginx's nginx.conf plus the Lua module's load_module lines, its upstream include
    replaced by FLOOR_INCLUDE."""
    text = plain_conf(ports, admin_port, prefix)
    spec = bench_topology(ports.proxy).upstreams[0]
    peers = ", ".join(f'{{ "127.0.0.1", {port} }}' for port in (ports.backend_a, ports.backend_b))
    include = FLOOR_INCLUDE.substitute(peers=peers, name=spec.name, placeholder=PLACEHOLDER,
                                       keepalive=spec.keepalive)
    Path(NginxPaths(str(prefix)).upstreams_include).write_text(bench_edits(include))
    modules = "".join(f"load_module {module};\n" for module in inspect(binary).modules)
    return modules + text


def add_servers(proxy: Child, admin: int, ports: Ports, timeout: float = 15.0) -> None:
    api = f"http://127.0.0.1:{admin}/api/9/http/upstreams/svc_web/servers"
    deadline = time.monotonic() + timeout
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


@dataclass(frozen=True)
class Setup:
    """The three configurations of a run, written under `work`, sharing two backends."""

    work: Path
    binary: str
    ports: dict[str, Ports]
    admin: dict[str, int]
    confs: dict[str, Path]
    backends: Path  # the backends' nginx.conf


def prepare(work: Path, binary: str) -> Setup:
    backend_a, backend_b = free_port(), free_port()
    ports = {name: Ports(free_port(), backend_a, backend_b) for name in PROXIES}
    admin = {name: free_port() for name in PROXIES}
    render = {PLAIN: lambda n, prefix: plain_conf(ports[n], admin[n], prefix),
              HOTDEPLOY: lambda n, prefix: hotdeploy_conf(ports[n], admin[n], prefix, binary),
              FLOOR: lambda n, prefix: floor_conf(ports[n], admin[n], prefix, binary)}
    confs = {}
    for name in PROXIES:
        prefix = work / name.replace(" ", "-")
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        (prefix / "logs").mkdir(exist_ok=True)
        confs[name] = prefix / "nginx.conf"
        confs[name].write_text(render[name](name, prefix))
    back_conf, _ = write_prefix(work, "backends", backends_conf(ports[PLAIN]))
    return Setup(work, binary, ports, admin, confs, back_conf)


def start_backends(children: Children, setup: Setup, core: int | None) -> Child:
    conf = setup.backends
    backends = children.start("backends", pinned(
        [setup.binary, "-c", str(conf), "-p", f"{conf.parent}/"], core))
    wait_http_ready(backends, setup.ports[PLAIN].backend_a)
    wait_http_ready(backends, setup.ports[PLAIN].backend_b)
    return backends


def start_proxy(children: Children, setup: Setup, name: str, core: int | None,
                wrapper: tuple[str, ...] = (), extra: tuple[str, ...] = (),
                timeout: float = 15.0) -> Child:
    """Start one proxy (under `wrapper`, e.g. valgrind, with nginx flags `extra`) and wait
    until it proxies; hotdeploy's backends are added through its admin API first."""
    conf = setup.confs[name]
    cmd = [*wrapper, setup.binary, "-c", str(conf), "-p", f"{conf.parent}/", *extra]
    proxy = children.start(name.replace(" ", "-"), pinned(cmd, core))
    if name == HOTDEPLOY:
        add_servers(proxy, setup.admin[name], setup.ports[name], timeout)
    wait_http_ready(proxy, setup.ports[name].proxy, timeout)
    return proxy


REUSE_RUN, REUSE_SETTLE = 3, 1.0  # seconds: the traced run, and its start not counted


def upstream_connects(children: Children, proxy: Child, port: int, script: Path,
                      connections: int, core: int | None) -> tuple[int, int]:
    """(connect() calls, requests) of the proxy's processes in the last REUSE_RUN -
    REUSE_SETTLE seconds of a wrk run under `strace -e trace=connect`. Not counted: the
    start of the run, where the proxy re-opens the upstream connections it closed when the
    previous wrk run ended with requests in flight (up to one per client connection, once
    per run). With upstream keep-alive working the count is ~0; without, one per request."""
    trace = children.logdir / f"connects-{proxy.name}.txt"
    attach = [a for pid in process_tree(proxy.pid) for a in ("-p", str(pid))]
    tracer = children.start(f"strace-{proxy.name}", [
        "strace", "-f", "-qq", "-ttt", "-e", "trace=connect", "-o", str(trace), *attach])
    try:
        time.sleep(0.5)  # attached
        start = time.time()
        result = run_wrk(children, script, port, connections, REUSE_RUN, core)
    finally:
        children.stop(tracer)
    calls = sum(1 for when in _connect_times(trace) if when >= start + REUSE_SETTLE)
    counted = (REUSE_RUN - REUSE_SETTLE) / REUSE_RUN
    return calls, round(result.requests * counted)


def _connect_times(trace: Path) -> list[float]:
    """The timestamps of the connect() lines of `strace -f -ttt` ("PID EPOCH connect(...")."""
    times = []
    for line in trace.read_text(errors="replace").splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 3 and fields[2].startswith("connect("):
            times.append(float(fields[1]))
    return times


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

    @property
    def busy(self) -> float:
        """The proxy's share of its core: near 1 it is the bottleneck and req/s measures
        its capacity; well below, the load generator's core sets the pace."""
        return self.cpu / self.seconds if self.seconds else 0.0

    @property
    def p99(self) -> float:
        return statistics.median(self.p99s)


def spread(values: list[float]) -> str:
    return f"[{min(values):.2f}-{max(values):.2f}]"


def slice_order(i: int, rnd: int) -> tuple[str, ...]:
    """A B C, C B A, A B C ...: no proxy always runs first, or right after the same one."""
    return PROXIES if (i + rnd) % 2 else PROXIES[::-1]


def measure_round(children: Children, setup: Setup, proxies: dict[str, Child], script: Path,
                  connections: int, duration: int, rnd: int,
                  core: int | None) -> dict[str, Tally]:
    tallies = {name: Tally() for name in PROXIES}
    for name in PROXIES:  # warm-up: connections, JIT traces
        run_wrk(children, script, setup.ports[name].proxy, connections, 1, core)
    for i in range(max(duration // SLICE, 1)):
        for name in slice_order(i, rnd):
            pid, t = proxies[name].pid, tallies[name]
            cpu0 = cpu_seconds(pid)
            r = run_wrk(children, script, setup.ports[name].proxy, connections, SLICE, core)
            t.cpu += cpu_seconds(pid) - cpu0
            t.requests += r.requests
            t.seconds += r.seconds
            t.p99s.append(r.p99_ms)
            t.errors += r.errors
    return tallies


def print_round(rnd: int, connections: int, tallies: dict[str, Tally]) -> None:
    for name in PROXIES:
        t = tallies[name]
        print(f"  round {rnd} {name:<16} c={connections:<4} {t.rps:>9,.0f} req/s "
              f"p99 {t.p99:6.2f} ms cpu {t.cpu_us:5.1f} us/req busy {t.busy:4.0%} "
              f"errors {t.errors}")
    base = tallies[PLAIN]
    ratios = ", ".join(f"{SHORT[name]} x{tallies[name].rps / base.rps:.2f} req/s "
                       f"x{tallies[name].cpu_us / base.cpu_us:.2f} cpu/req"
                       for name in (HOTDEPLOY, FLOOR))
    print(f"  round {rnd} ratio to plain   c={connections:<4} {ratios}")


def print_summary(results: dict[tuple[str, int], list[Tally]], conns: list[int]) -> bool:
    """The median [min-max] of per-round ratios to plain nginx; True if hotdeploy meets the
    target with no errors."""
    ok = True
    print("\nmedian [min-max] of per-round ratios to plain nginx (rps: higher is better; "
          "p99, cpu: lower is better)")
    for c in conns:
        med = {n: statistics.median(t.rps for t in results[(n, c)]) for n in PROXIES}
        errors = sum(t.errors for n in PROXIES for t in results[(n, c)])
        busy = {n: statistics.median(t.busy for t in results[(n, c)]) for n in PROXIES}
        print(f"  c={c:<4} median req/s (proxy core busy): "
              + ", ".join(f"{SHORT[n]} {med[n]:,.0f} ({busy[n]:.0%})" for n in PROXIES)
              + f"; errors {errors}")
        for name in (HOTDEPLOY, FLOOR):
            pairs = list(zip(results[(name, c)], results[(PLAIN, c)], strict=True))
            rps = [t.rps / p.rps for t, p in pairs]
            p99 = [t.p99 / p.p99 for t, p in pairs]
            cpu = [t.cpu_us / p.cpu_us for t, p in pairs]
            verdict = "meets" if statistics.median(rps) >= TARGET else "BELOW"
            print(f"    {SHORT[name] + '/plain':<16} rps x{statistics.median(rps):.2f} "
                  f"{spread(rps)}  p99 x{statistics.median(p99):.2f} {spread(p99)}  "
                  f"cpu/req x{statistics.median(cpu):.2f} {spread(cpu)}  "
                  f"({verdict} the {TARGET}x target)")
            if name == HOTDEPLOY:
                ok &= statistics.median(rps) >= TARGET and errors == 0
    return ok


def check_reuse(children: Children, setup: Setup, proxies: dict[str, Child], script: Path,
                connections: int, core: int | None) -> bool:
    """Print each proxy's upstream connect() calls in 1 s of load after a warm-up."""
    if shutil.which("strace") is None:
        print("  upstream reuse: not checked (no strace)")
        return True
    reused = True
    parts = []
    for name in PROXIES:
        port = setup.ports[name].proxy
        calls, requests = upstream_connects(children, proxies[name], port, script,
                                            connections, core)
        parts.append(f"{name} {calls} in {requests:,} requests")
        reused &= calls * 100 < requests  # well under one connect() per 100 requests
    print(f"  upstream connect() calls, c={connections}, last {REUSE_RUN - REUSE_SETTLE:.0f} s "
          f"of a {REUSE_RUN} s run: "
          f"{'; '.join(parts)}")
    return reused


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
        setup = prepare(work, args.nginx)
        start_backends(children, setup, core(LOAD_CORE))
        proxies = {name: start_proxy(children, setup, name, core(PROXY_CORE))
                   for name in PROXIES}
        script = write_script(work)
        print(f"nginx engine bench: {duration}s per proxy per run in {SLICE}s slices, "
              f"{rounds} round(s), connections {conns}, pinning {'on' if pin else 'off'}")
        for c in conns:
            if not check_reuse(children, setup, proxies, script, c, core(LOAD_CORE)):
                print("  upstream connections are NOT reused: the figures would measure "
                      "connection set-up")
                return 1
        for rnd in range(1, rounds + 1):
            for c in conns:
                tallies = measure_round(children, setup, proxies, script, c, duration, rnd,
                                        core(LOAD_CORE))
                for name in PROXIES:
                    results.setdefault((name, c), []).append(tallies[name])
                print_round(rnd, c, tallies)
    except BenchError as exc:
        print(f"bench failed: {exc}")
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if print_summary(results, conns) else 1


if __name__ == "__main__":
    sys.exit(main())
