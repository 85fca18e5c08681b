"""The control-plane verbs of the `hotdeploy` command line: up, status, deploy, rollback,
scale, restart, logs, down. Each is a thin client of the control process's socket."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hotdeploy import defaults as d
from hotdeploy.control import client, teardown
from hotdeploy.control.state import ProjectPaths, load_state
from hotdeploy.errors import HotdeployError
from hotdeploy.project.loader import load_project

console = Console()
err = Console(stderr=True)

FileOpt = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file.")
EnvOpt = typer.Option([], "--env", help="K=V, repeatable: set in the new version's environment.")


def _paths(file: str) -> ProjectPaths:
    load_project(file)  # validate first: errors name the key
    return ProjectPaths.for_file(file)


def _fail(exc: HotdeployError) -> typer.Exit:
    err.print(f"[red]hotdeploy:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(exc.exit_code)


def _progress(message: str) -> None:
    console.print(f"  [dim]{time.strftime('%H:%M:%S')}[/dim] {message}", highlight=False)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(file: str = FileOpt,
       detach: bool = typer.Option(False, "--detach", "-d",
                                   help="Return once every instance is healthy.")) -> None:
    """Start the balancer and every service's instances (or adopt the running ones)."""
    try:
        paths = _paths(file)
        if not client.is_running(paths):
            client.spawn(paths)
        status = _wait_ready(paths)
    except HotdeployError as exc:
        raise _fail(exc) from None
    console.print(f"[bold green]{status['project']}[/bold green] is up: {status['url']}  "
                  f"(admin API {status['admin']})")
    if detach:
        console.print(_table(status))
        return
    console.print("[dim]live status; Ctrl-C stops everything (`hotdeploy up -d` to leave it "
                  "running)[/dim]")
    # A foreground `up` stopped by its supervisor (SIGTERM, as `timeout` or systemd send) stops
    # everything, the same as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Live(_table(status), console=console, refresh_per_second=2) as live:
            while True:
                time.sleep(1.0)
                live.update(_table(client.request(paths, {"cmd": "status"})))
    except KeyboardInterrupt:
        client.request(paths, {"cmd": "down"}, _progress)
    except HotdeployError as exc:
        raise _fail(exc) from None


def _wait_ready(paths: ProjectPaths) -> dict[str, Any]:
    shown = 0
    while True:
        status = client.request(paths, {"cmd": "status"})
        for line in status["boot_log"][shown:]:
            _progress(line)
        shown = len(status["boot_log"])
        if status["ready"]:
            return status
        if status["boot_error"]:
            raise HotdeployError(f"{status['boot_error']}\n(what started is still running: "
                                 f"see `hotdeploy logs SERVICE`, stop it with `hotdeploy down`)")
        time.sleep(0.2)


def status(file: str = FileOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Services, versions, instances and the balancer's view of them."""
    try:
        result = client.request(_paths(file), {"cmd": "status"})
    except HotdeployError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        console.print(f"{result['project']}: {result['url']}  balancer pid "
                      f"{result['balancer']['pid']} ({result['balancer']['strategy']})")
        console.print(_table(result))


def _table(status: dict[str, Any]) -> Table:
    table = Table(title=None, expand=False)
    for column in ("service", "version", "instance", "port", "pid", "state", "balancer",
                   "requests", "5xx"):
        table.add_column(column)
    for svc in status["services"]:
        label = f"{svc['name']} ({svc['kind']}) {' '.join(svc['routes'])}"
        rows = [*svc["instances"], *svc["standby"]] or [None]
        for index, inst in enumerate(rows):
            first = label if index == 0 else ""
            version = svc["version"] if index == 0 else ""
            if inst is None:
                table.add_row(first, version, "-", "", "", "", "", "", "")
                continue
            lb = inst["lb"] or {}
            state = inst["state"] + (" (backup)" if inst["backup"] else "")
            if not inst["alive"]:
                state += " [red]dead[/red]"
            table.add_row(first, version, f"{inst['id']} v{inst['version']}", str(inst["port"]),
                          str(inst["pid"]), state, lb.get("state", "-"),
                          str(lb.get("requests", "")), str(lb.get("errors", "")))
    return table


def _verb(file: str, payload: dict[str, Any], title: str) -> None:
    try:
        paths = _paths(file)
        console.print(f"[bold]{title}[/bold]")
        result = client.request(paths, payload, _progress)
    except HotdeployError as exc:
        raise _fail(exc) from None
    console.print(f"[green]done[/green]: {result['service']} at version {result['version']}")


def deploy(service: str,
           version: str = typer.Option(None, "--version", help="The new version string."),
           app: str = typer.Option(None, "--app", help="New ASGI app (module:attr)."),
           command: str = typer.Option(None, "--command", help="New command line."),
           env: list[str] = EnvOpt,
           strategy: str = typer.Option(None, "--strategy",
                                        help="rolling | blue-green | canary"),
           file: str = FileOpt) -> None:
    """Hot-deploy a new version of one service or unit (exit 2 if it failed and rolled back)."""
    pairs = dict(item.split("=", 1) for item in env if "=" in item)
    bad = [item for item in env if "=" not in item]
    if bad:
        err.print(f"hotdeploy: --env {bad[0]!r}: expected K=V")
        raise typer.Exit(3)
    _verb(file, {"cmd": "deploy", "service": service, "version": version, "app": app,
                 "command": command, "env": pairs, "strategy": strategy},
          f"deploying {service}" + (f" {version}" if version else ""))


def rollback(service: str, file: str = FileOpt) -> None:
    """Return a service to its previous version."""
    _verb(file, {"cmd": "rollback", "service": service}, f"rolling back {service}")


def scale(service: str, count: int, file: str = FileOpt) -> None:
    """Run COUNT instances of a service."""
    _verb(file, {"cmd": "scale", "service": service, "count": count},
          f"scaling {service} to {count}")


def restart(service: str, file: str = FileOpt) -> None:
    """Replace every instance by a fresh process, one at a time (no downtime)."""
    _verb(file, {"cmd": "restart", "service": service}, f"restarting {service}")


def logs(service: str, follow: bool = typer.Option(False, "-f", "--follow"),
         lines: int = typer.Option(20, "-n", "--lines"),
         # `-f` follows here, as in `tail -f` and `docker logs -f`; the project file is --file.
         file: str = typer.Option(d.PROJECT_FILE, "--file", help="The project file.")) -> None:
    """Print the last lines of every log file of a service's instances (and follow them)."""
    paths = ProjectPaths.for_file(file)
    files = sorted(paths.logs.glob(f"{service}-*.log"))
    if not files:
        err.print(f"hotdeploy: no logs for {service!r} under {paths.logs}")
        raise typer.Exit(1)
    offsets: dict[Path, int] = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines()[-lines:]:
            typer.echo(f"{path.stem} | {line}")
        offsets[path] = path.stat().st_size
    while follow:
        time.sleep(0.5)
        for path in sorted(paths.logs.glob(f"{service}-*.log")):
            with open(path, encoding="utf-8", errors="replace") as stream:
                stream.seek(offsets.get(path, 0))
                for line in stream.read().splitlines():
                    typer.echo(f"{path.stem} | {line}")
                offsets[path] = stream.tell()


def down(file: str = FileOpt) -> None:
    """Stop every instance, the balancer and the control process."""
    try:
        paths = _paths(file)
        if client.is_running(paths):
            client.request(paths, {"cmd": "down"}, _progress)
        else:  # the control process is gone (killed): its state file still has every pid
            state = load_state(paths.state_file)
            if state is None:
                console.print("nothing is running")
                return
            grace = load_project(file).deploy.stop_grace
            asyncio.run(teardown.teardown(paths, state, grace, _progress))
    except HotdeployError as exc:
        raise _fail(exc) from None
    console.print("[green]stopped[/green]")


def register(app: typer.Typer) -> None:
    for verb in (up, status, deploy, rollback, scale, restart, logs, down):
        app.command()(verb)
