#!/usr/bin/env python3
"""HTTPS benchmark: `hotdeploy lb` against nginx on the same certificate, in the same run.

    python bench/https.py [--quick] [--duration S] [--rounds N] [--connections C]

Like bench/run.py (whose backends, wrk reader and process handling it uses): the two nginx
backends and wrk on core 1, the proxy under test alone on core 0, both proxies reading the
SAME nginx.conf, alternated round by round. Three modes per round:

- `https keep-alive`: wrk over TLS, connections kept (the handshake is paid once);
- `https new conn`: wrk with `Connection: close`, so every request pays a full handshake
  (an ECDSA P-256 certificate, as a modern site would use);
- `http keep-alive`: the same proxy on a plain port, the figure the TLS ones compare with.

Printed: requests/s, p99 and CPU time per request (utime+stime of the proxy's process tree
over the run / requests), medians over rounds and the median per-round ratio hotdeploy/nginx.
Loopback only; every process started is stopped on exit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_conf import Ports, backends_conf, proxy_conf, write_prefix
from bench_procs import BenchError, Children, cpu_seconds, free_port, pinned, wait_http_ready
from bench_wrk import WrkResult, run_wrk, write_script

PROXY_CORE, LOAD_CORE = 0, 1
MODES = ("https keep-alive", "https new conn", "http keep-alive")


@dataclass(frozen=True)
class Sample:
    proxy: str
    mode: str
    round: int
    wrk: WrkResult
    cpu_us: float


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate made with the openssl command (no Python
    dependency beyond the standard library)."""
    cert, key = directory / "bench.crt", directory / "bench.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=bench.test"], check=True, capture_output=True)
    return cert, key


def https_conf(ports: Ports, tls_port: int, cert: Path, key: Path) -> str:
    """bench_conf's proxy configuration plus the same location behind `listen ... ssl`."""
    text = proxy_conf(ports)
    tls_server = f"""
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;

        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
    return text[: text.rstrip().rindex("}")] + tls_server


def measure(args: argparse.Namespace, workdir: Path) -> list[Sample]:
    children = Children(workdir)
    pin = shutil.which("taskset") is not None and not args.no_pin
    core = (lambda c: c if pin else None)  # noqa: E731
    ports = Ports(free_port(), free_port(), free_port())
    tls_port = free_port()
    cert, key = make_certificate(workdir)
    conf, prefix = write_prefix(workdir, "proxy", https_conf(ports, tls_port, cert, key))
    backend_conf, backend_prefix = write_prefix(workdir, "backends", backends_conf(ports))
    script = write_script(workdir)
    commands = {
        "hotdeploy": [sys.executable, "-m", "hotdeploy", "lb", "-c", str(conf), "-p",
                      f"{prefix}/"],
        "nginx": [args.nginx, "-c", str(conf), "-p", f"{prefix}/"],
    }
    samples: list[Sample] = []
    try:
        backends = children.start("backends", pinned(
            [args.nginx, "-c", str(backend_conf), "-p", f"{backend_prefix}/"], core(LOAD_CORE)))
        wait_http_ready(backends, ports.backend_a)
        wait_http_ready(backends, ports.backend_b)
        for rnd in range(1, args.rounds + 1):
            order = ("hotdeploy", "nginx") if rnd % 2 else ("nginx", "hotdeploy")
            for name in order:
                proxy = children.start(name, pinned(commands[name], core(PROXY_CORE)))
                try:
                    wait_http_ready(proxy, ports.proxy)
                    for mode in MODES:
                        url = (f"http://127.0.0.1:{ports.proxy}/" if mode.startswith("http ")
                               else f"https://127.0.0.1:{tls_port}/")
                        close = mode == "https new conn"
                        run_wrk(children, script, ports.proxy, args.connections, 1,
                                core(LOAD_CORE), url=url, close=close)
                        cpu0 = cpu_seconds(proxy.pid)
                        result = run_wrk(children, script, ports.proxy, args.connections,
                                         args.duration, core(LOAD_CORE), url=url, close=close)
                        cpu_us = ((cpu_seconds(proxy.pid) - cpu0) / result.requests * 1e6
                                  if result.requests else float("nan"))
                        samples.append(Sample(name, mode, rnd, result, cpu_us))
                        print(f"  round {rnd} {name:<9} {mode:<16} {result.rps:>8,.0f} req/s "
                              f"p99 {result.p99_ms:6.2f} ms cpu {cpu_us:7.1f} µs/req "
                              f"errors {result.errors}", flush=True)
                finally:
                    children.stop(proxy)
    finally:
        children.stop_all()
    return samples


def report(samples: list[Sample]) -> None:
    print(f"\n{'mode':<17}{'proxy':<11}{'req/s':>10}{'p99 ms':>9}{'cpu µs/req':>12}")
    for mode in MODES:
        for name in ("hotdeploy", "nginx"):
            chosen = [s for s in samples if s.mode == mode and s.proxy == name]
            if chosen:
                print(f"{mode:<17}{name:<11}"
                      f"{statistics.median(s.wrk.rps for s in chosen):>10,.0f}"
                      f"{statistics.median(s.wrk.p99_ms for s in chosen):>9.2f}"
                      f"{statistics.median(s.cpu_us for s in chosen):>12.1f}")
        rounds = sorted({s.round for s in samples})
        ratios = []
        for rnd in rounds:
            pair = {s.proxy: s for s in samples if s.mode == mode and s.round == rnd}
            if len(pair) == 2 and pair["nginx"].wrk.rps:
                ratios.append(pair["hotdeploy"].wrk.rps / pair["nginx"].wrk.rps)
        if ratios:
            print(f"{mode:<17}{'ratio':<11}{statistics.median(ratios):>9.2f}x "
                  f"(hotdeploy/nginx req/s, median of {len(ratios)} round(s))")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s per run, one round")
    p.add_argument("--duration", type=int, help="seconds per measured run (default 10)")
    p.add_argument("--rounds", type=int, help="rounds (default 3)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--workdir", help="keep configs and logs in this directory")
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 3)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hotdeploy-bench-https-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        samples = measure(args, workdir)
    except BenchError as exc:
        print(f"bench failed: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
