"""Medians, ratios and the printed table.

The machine is noisy (±10-20% between runs), so hotdeploy is compared with nginx as the median
of per-round ratios (each round runs both proxies back to back), never as single figures.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench_idle import IdleMemory
from bench_wrk import WrkResult

HOTDEPLOY, NGINX, BACKEND = "hotdeploy", "nginx", "backend (direct)"
# bench/floor_proxy.py: a byte-for-byte uvloop + httptools forwarder with no nginx semantics,
# i.e. what CPython itself costs per proxied request on this machine.
FLOOR = "python floor"
# Targets from issue 2: >= 0.7x nginx's requests/s at 64 connections, p99 <= 2x nginx's,
# and under 80 MB with 1,000 idle keep-alive clients.
TARGET_RPS_RATIO = 0.7
TARGET_P99_RATIO = 2.0
TARGET_IDLE_MB = 80.0
METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us")


@dataclass(frozen=True)
class Run:
    target: str
    connections: int
    round: int
    wrk: WrkResult
    cpu_us: float | None  # the measured process tree's CPU time per request, microseconds

    def metric(self, name: str) -> float:
        if name == "cpu_us":
            return self.cpu_us if self.cpu_us is not None else float("nan")
        return float(getattr(self.wrk, name))

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "connections": self.connections, "round": self.round,
                "cpu_us_per_request": self.cpu_us, **self.wrk.to_json()}


def medians(runs: list[Run], target: str, connections: int) -> dict[str, float] | None:
    chosen = [r for r in runs if r.target == target and r.connections == connections]
    if not chosen:
        return None
    return {m: statistics.median(r.metric(m) for r in chosen) for m in METRICS} | {
        "errors": sum(r.wrk.errors for r in chosen), "runs": len(chosen)}


def ratios(runs: list[Run], connections: int,
           target: str = HOTDEPLOY) -> dict[str, float] | None:
    """Median over rounds of target/nginx for each metric."""
    per_round: dict[str, list[float]] = {m: [] for m in METRICS}
    rounds = {r.round for r in runs if r.connections == connections}
    for rnd in sorted(rounds):
        pair = {r.target: r for r in runs if r.connections == connections and r.round == rnd}
        if target not in pair or NGINX not in pair:
            continue
        for m in METRICS:
            base = pair[NGINX].metric(m)
            if base:
                per_round[m].append(pair[target].metric(m) / base)
    if not per_round["rps"]:
        return None
    return {m: statistics.median(v) if v else float("nan") for m, v in per_round.items()}


def summary(runs: list[Run], conns: list[int], memory: dict[str, IdleMemory]) -> dict[str, Any]:
    """Everything the table shows, as plain data (also the `--json` document)."""
    out: dict[str, Any] = {"throughput": {}, "ratios": {}, "floor_ratios": {}, "memory": {}}
    for c in conns:
        out["throughput"][str(c)] = {t: medians(runs, t, c)
                                     for t in (BACKEND, HOTDEPLOY, NGINX, FLOOR)}
        out["ratios"][str(c)] = ratios(runs, c)
        out["floor_ratios"][str(c)] = ratios(runs, c, FLOOR)
    out["memory"] = {name: m.to_json() for name, m in memory.items()}
    out["targets"] = _verdicts(out)
    return out


def _verdicts(out: dict[str, Any]) -> dict[str, bool | None]:
    r64 = out["ratios"].get("64")
    hd_mem = out["memory"].get(HOTDEPLOY)
    return {
        "rps_ratio_64_at_least_0.7": None if not r64 else r64["rps"] >= TARGET_RPS_RATIO,
        "p99_ratio_64_at_most_2": None if not r64 else r64["p99_ms"] <= TARGET_P99_RATIO,
        "idle_rss_under_80mb": None if not hd_mem else hd_mem["rss_idle_mb"] < TARGET_IDLE_MB,
    }


def _fmt(value: float | None, spec: str) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return format(value, spec)


def _ratio_cells(ratio: dict[str, float]) -> list[str]:
    """A `... / nginx` row's cells after its label: the four ratios, no errors or runs."""
    return [*(_fmt(ratio[m], ".2f") for m in ("rps", "p50_ms", "p99_ms", "cpu_us")), "", ""]


def print_report(console: Console, data: dict[str, Any], hotdeploy_label: str) -> None:
    table = Table(title="Throughput and latency (medians over rounds)")
    for col in ("conns", "target", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "errors", "runs"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for conns, by_target in data["throughput"].items():
        for target, m in by_target.items():
            if m is None:
                continue
            label = hotdeploy_label if target == HOTDEPLOY else target
            table.add_row(conns, label, _fmt(m["rps"], ",.0f"), _fmt(m["p50_ms"], ".2f"),
                          _fmt(m["p99_ms"], ".2f"), _fmt(m["cpu_us"], ".1f"),
                          str(m["errors"]), str(m["runs"]))
        f = data.get("floor_ratios", {}).get(conns)
        if f:
            table.add_row(conns, f"{FLOOR} / nginx", *_ratio_cells(f))
        r = data["ratios"].get(conns)
        if r:
            table.add_row(conns, "[bold]hotdeploy / nginx[/bold]", *_ratio_cells(r),
                          end_section=True)
    console.print(table)
    _print_memory(console, data["memory"], hotdeploy_label)
    _print_verdicts(console, data["targets"])


def _print_memory(console: Console, memory: dict[str, dict[str, float]], label: str) -> None:
    if not memory:
        return
    table = Table(title="Memory (RSS of the proxy's process tree)")
    for col in ("proxy", "idle clients", "RSS before MB", "RSS with idle clients MB"):
        table.add_column(col, justify="left" if col == "proxy" else "right")
    for name, m in memory.items():
        table.add_row(label if name == HOTDEPLOY else name, str(m["connections"]),
                      _fmt(m["rss_before_mb"], ".1f"), _fmt(m["rss_idle_mb"], ".1f"))
    console.print(table)


def _print_verdicts(console: Console, verdicts: dict[str, bool | None]) -> None:
    marks = {True: "[green]met[/green]", False: "[red]NOT met[/red]", None: "not measured"}
    for name, ok in verdicts.items():
        console.print(f"target {name}: {marks[ok]}")
