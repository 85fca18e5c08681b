"""Rich tables for a terminal: the status of a project and the releases of a service."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from hotdeploy import defaults as d
from hotdeploy.orchestrator.commands.releases import ReleasesResult


def short(digest: str) -> str:
    return digest[: d.RELEASE_DIGEST_CHARS]


def release_label(version: str, digest: str) -> str:
    """`1.2.0 3f2a9c01b7de`, or the digest alone when the release is named by it."""
    return version if version == short(digest) else f"{version} {short(digest)}"


def status_table(status: dict[str, Any]) -> Table:
    table = Table(title=None, expand=False)
    for column in ("service", "release", "instance", "endpoint", "state", "balancer",
                   "requests", "5xx"):
        table.add_column(column)
    for svc in status["services"]:
        label = f"{svc['name']} ({svc['kind']}) {' '.join(svc['routes'])}"
        release = release_label(svc["version"], svc["digest"])
        if not svc["identical"]:
            release += " [yellow]mixed[/yellow]"
        rows = [*svc["instances"], *svc["standby"]] or [None]
        for index, inst in enumerate(rows):
            first, rel = (label, release) if index == 0 else ("", "")
            if inst is None:
                table.add_row(first, rel, "-", "", "", "", "", "")
                continue
            server = inst["server"] or {}
            state = inst["state"] + (" (backup)" if inst["backup"] else "")
            if not inst["alive"]:
                state += " [red]dead[/red]"
            label = release_label(inst["version"], inst["digest"])
            table.add_row(first, rel, f"{inst['id']} {label}",
                          inst["endpoint"], state, server.get("state", "-"),
                          str(server.get("requests", "")), str(server.get("errors", "")))
    return table


def autoscale_lines(status: dict[str, Any]) -> list[str]:
    """One line per autoscaled service: its range, the load measured, the last step."""
    lines = []
    for svc in status["services"]:
        scale = svc.get("autoscale")
        if not scale:
            continue
        load = "measuring" if scale["load"] is None else f"{scale['load']:.1f}"
        line = (f"{svc['name']}: autoscale {scale['min']}..{scale['max']} at "
                f"{scale['inflight']} in flight per instance (now {load}), "
                f"runs {svc['desired']}")
        last = scale["last"]
        if last:
            when = time.strftime("%H:%M:%S", time.localtime(last["at"]))
            line += (f"; last step {last['from']} -> {last['to']} at {when} "
                     f"({last['status']}): {last['reason']}")
        lines.append(line)
    return lines


def releases_table(result: ReleasesResult) -> Table:
    table = Table(title=f"releases of {result.service} (newest first)", expand=False)
    for column in ("version", "digest", "built", "size", "files", "", "running"):
        table.add_column(column)
    for row in result.releases:
        mark = "current" if row.current else "previous" if row.previous else \
            "" if row.went_live else "never live"
        table.add_row(row.version, short(row.digest),
                      time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created)),
                      _size(row.size), str(row.files), mark, str(row.running or ""))
    return table


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)
