"""Medians, ratios and the printed table.

The machine is noisy (±10-20% between runs), so hotdeploy is compared with nginx as the median
of per-round ratios (each round runs both proxies back to back), never as single figures, and
the spread (min..max) of those per-round ratios is printed beside each median.
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
TARGET_IDLE_CLIENTS = 1000
METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us")


@dataclass(frozen=True)
class Run:
    mode: str  # bench_modes.Mode.name
    target: str
    connections: int
    round: int
    wrk: WrkResult
    cpu_us: float | None  # the measured process tree's CPU time per request, microseconds
    steal: float = 0.0  # share of the machine's CPU time the hypervisor took during the run

    def metric(self, name: str) -> float:
        if name == "cpu_us":
            return self.cpu_us if self.cpu_us is not None else float("nan")
        return float(getattr(self.wrk, name))

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "target": self.target, "connections": self.connections,
                "round": self.round, "cpu_us_per_request": self.cpu_us, "steal": self.steal,
                **self.wrk.to_json()}


def medians(runs: list[Run], target: str, connections: int) -> dict[str, float] | None:
    chosen = [r for r in runs if r.target == target and r.connections == connections]
    if not chosen:
        return None
    return {m: statistics.median(r.metric(m) for r in chosen) for m in METRICS} | {
        "errors": sum(r.wrk.errors for r in chosen), "runs": len(chosen),
        "mib_s": statistics.median(r.wrk.bytes / r.wrk.seconds / 2**20 if r.wrk.seconds else 0
                                   for r in chosen)}


def ratios(runs: list[Run], connections: int, target: str = HOTDEPLOY) -> dict[str, Any] | None:
    """Median over rounds of target/nginx for each metric, with the spread (min, max) of the
    per-round ratios under "spread" and the number of rounds compared under "rounds"."""
    per_round: dict[str, list[float]] = {m: [] for m in METRICS}
    rounds = {r.round for r in runs if r.connections == connections}
    for rnd in sorted(rounds):
        pair = {r.target: r for r in runs if r.connections == connections and r.round == rnd}
        if target not in pair or NGINX not in pair:
            continue
        for m in METRICS:
            base, value = pair[NGINX].metric(m), pair[target].metric(m)
            if base and value == value:  # a zero base or a NaN (no CPU figure) is no ratio
                per_round[m].append(value / base)
    if not per_round["rps"]:
        return None
    out: dict[str, Any] = {m: statistics.median(v) if v else float("nan")
                           for m, v in per_round.items()}
    out["spread"] = {m: [min(v), max(v)] if v else None for m, v in per_round.items()}
    out["rounds"] = len(per_round["rps"])
    return out


def mode_summary(runs: list[Run], conns: list[int]) -> dict[str, Any]:
    """One mode's rows: medians per connection count and target, and the ratios to nginx."""
    out: dict[str, Any] = {"throughput": {}, "ratios": {}, "floor_ratios": {}}
    for c in conns:
        out["throughput"][str(c)] = {t: medians(runs, t, c)
                                     for t in (BACKEND, HOTDEPLOY, NGINX, FLOOR)}
        out["ratios"][str(c)] = ratios(runs, c)
        out["floor_ratios"][str(c)] = ratios(runs, c, FLOOR)
    return out


def summary(runs: list[Run], conns: list[int], modes: dict[str, str],
            memory: dict[int, dict[str, IdleMemory]]) -> dict[str, Any]:
    """Everything the tables show, as plain data (also the `--json` document). `modes` maps
    each throughput mode run to its title; `memory` is by worker count, then proxy."""
    out: dict[str, Any] = {"modes": {}, "memory": {}}
    for name, title in modes.items():
        out["modes"][name] = {"title": title,
                              **mode_summary([r for r in runs if r.mode == name], conns)}
    out["memory"] = {str(w): {name: m.to_json() for name, m in by_proxy.items()}
                     for w, by_proxy in memory.items()}
    out["targets"] = _verdicts(out, memory)
    return out


def _verdicts(out: dict[str, Any],
              memory: dict[int, dict[str, IdleMemory]]) -> dict[str, bool | None]:
    get = out["modes"].get("get")
    r64 = get["ratios"].get("64") if get else None
    one = memory.get(1, {}).get(HOTDEPLOY)
    at_target = one.at(TARGET_IDLE_CLIENTS) if one else None
    return {
        "rps_ratio_64_at_least_0.7": None if not r64 else r64["rps"] >= TARGET_RPS_RATIO,
        "p99_ratio_64_at_most_2": None if not r64 else r64["p99_ms"] <= TARGET_P99_RATIO,
        "idle_rss_under_80mb": None if not at_target else at_target.rss_mb < TARGET_IDLE_MB,
    }


def _fmt(value: float | None, spec: str) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return format(value, spec)


def _ratio_cell(ratio: dict[str, Any], metric: str) -> str:
    """The median ratio, with the spread of the rounds where there is more than one."""
    cell = _fmt(ratio[metric], ".2f")
    spread = ratio["spread"].get(metric)
    if spread and ratio["rounds"] > 1:
        cell += f" ({spread[0]:.2f}..{spread[1]:.2f})"
    return cell


def _ratio_cells(ratio: dict[str, Any]) -> list[str]:
    """A `... / nginx` row's cells after its label: the four ratios, then rounds compared."""
    return [*(_ratio_cell(ratio, m) for m in ("rps", "p50_ms", "p99_ms", "cpu_us")), "", "",
            str(ratio["rounds"])]


def print_report(console: Console, data: dict[str, Any], hotdeploy_label: str) -> None:
    for mode in data["modes"].values():
        _print_mode(console, mode, hotdeploy_label)
    _print_memory(console, data["memory"], hotdeploy_label)
    _print_verdicts(console, data["targets"])


def _print_mode(console: Console, mode: dict[str, Any], hotdeploy_label: str) -> None:
    table = Table(title=f"{mode['title']} (medians over rounds; ratios: median (min..max) of "
                        "per-round ratios)")
    for col in ("conns", "target", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "MiB/s",
                "errors", "runs"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for conns, by_target in mode["throughput"].items():
        for target, m in by_target.items():
            if m is None:
                continue
            label = hotdeploy_label if target == HOTDEPLOY else target
            table.add_row(conns, label, _fmt(m["rps"], ",.0f"), _fmt(m["p50_ms"], ".2f"),
                          _fmt(m["p99_ms"], ".2f"), _fmt(m["cpu_us"], ".1f"),
                          _fmt(m["mib_s"], ",.1f"), str(m["errors"]), str(m["runs"]))
        f = mode.get("floor_ratios", {}).get(conns)
        if f:
            table.add_row(conns, f"{FLOOR} / nginx", *_ratio_cells(f))
        r = mode["ratios"].get(conns)
        if r:
            table.add_row(conns, "[bold]hotdeploy / nginx[/bold]", *_ratio_cells(r),
                          end_section=True)
    console.print(table)


def _print_memory(console: Console, memory: dict[str, dict[str, dict[str, Any]]],
                  label: str) -> None:
    if not memory:
        return
    table = Table(title="Memory of the proxy's process tree (master + workers): RSS summed, "
                        "PSS summed (shared pages counted once)")
    for col in ("workers", "proxy", "processes", "idle clients", "RSS MB", "PSS MB",
                "RSS / nginx", "PSS / nginx", "PSS KiB per client"):
        table.add_column(col, justify="left" if col == "proxy" else "right")
    for workers, by_proxy in memory.items():
        base = by_proxy.get(NGINX)
        for name, m in by_proxy.items():
            fresh = m["samples"][0]
            for s in m["samples"]:
                ref = _same_stage(base, s["connections"]) if name != NGINX else None
                per_client = (None if not s["connections"] or s["pss_mb"] is None
                              or fresh["pss_mb"] is None
                              else (s["pss_mb"] - fresh["pss_mb"]) * 1024 / s["connections"])
                table.add_row(workers, label if name == HOTDEPLOY else name,
                              str(m["processes"]), f"{s['connections']:,}",
                              _fmt(s["rss_mb"], ".1f"), _fmt(s["pss_mb"], ".1f"),
                              _div(s["rss_mb"], ref and ref["rss_mb"]),
                              _div(s["pss_mb"], ref and ref["pss_mb"]),
                              _fmt(per_client, ".1f"))
        table.add_section()
    console.print(table)


def _same_stage(m: dict[str, Any] | None, connections: int) -> dict[str, Any] | None:
    if m is None:
        return None
    return next((s for s in m["samples"] if s["connections"] == connections), None)


def _div(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}"


def _print_verdicts(console: Console, verdicts: dict[str, bool | None]) -> None:
    marks = {True: "[green]met[/green]", False: "[red]NOT met[/red]", None: "not measured"}
    for name, ok in verdicts.items():
        console.print(f"target {name}: {marks[ok]}")
