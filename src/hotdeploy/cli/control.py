"""The control-plane verbs of the `hotdeploy` command line: up, status, deploy, rollback,
releases, scale, restart, logs, down. Each builds the command's typed arguments and sends them
to the control process (releases and logs read the files directly, so they answer when no
control process runs)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import typer
from rich.console import Console
from rich.live import Live

from hotdeploy import defaults as d
from hotdeploy.cli.fail import fail
from hotdeploy.cli.render import autoscale_lines, releases_table, status_table
from hotdeploy.dataplane import dataplane_for
from hotdeploy.errors import ControlError, HotdeployError
from hotdeploy.orchestrator import client, teardown
from hotdeploy.orchestrator.commands import logs as logs_cmd
from hotdeploy.orchestrator.commands import releases as releases_cmd
from hotdeploy.orchestrator.commands.base import ServiceArgs
from hotdeploy.orchestrator.commands.deploy import DeployArgs
from hotdeploy.orchestrator.commands.logs import LogsArgs
from hotdeploy.orchestrator.commands.rollback import RollbackArgs
from hotdeploy.orchestrator.commands.scale import ScaleArgs
from hotdeploy.orchestrator.releases import ReleaseStore
from hotdeploy.orchestrator.state import ProjectPaths, load_state
from hotdeploy.project.loader import load_project
from hotdeploy.runtimes import runtime_for
from hotdeploy.runtimes.base import Runtime

console = Console()
err = Console(stderr=True)

FileOpt = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file.")
EnvOpt = typer.Option([], "--env", help="K=V, repeatable: set in the new release's environment.")
StrategyOpt = typer.Option(None, "--strategy", help="rolling | blue-green | canary")


def _paths(file: str) -> ProjectPaths:
    load_project(file)  # validate first: errors name the key
    return ProjectPaths.for_file(file)


def _progress(message: str) -> None:
    console.print(f"  [dim]{time.strftime('%H:%M:%S')}[/dim] {message}", highlight=False)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(file: str = FileOpt,
       detach: bool = typer.Option(False, "--detach", "-d",
                                   help="Return once every instance is healthy."),
       watch: bool = typer.Option(False, "--watch", "-w",
                                  help="Hot-deploy each service when its files change.")) -> None:
    """Start the balancer and every service's instances (or adopt the running ones)."""
    try:
        paths = _paths(file)
        if not client.is_running(paths):
            client.spawn(paths)
        status = _wait_ready(paths)
    except HotdeployError as exc:
        raise fail(exc) from None
    console.print(f"[bold green]{status['project']}[/bold green] is up: {status['url']}  "
                  f"(balancer: {status['dataplane']['engine']}, "
                  f"API {status['dataplane'].get('api')})")
    if detach:
        console.print(status_table(status))
        return
    # A foreground `up` stopped by its supervisor (SIGTERM, as `timeout` or systemd send) stops
    # everything, the same as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if watch:
            from hotdeploy.cli.watch import watch_and_deploy

            console.print("[dim]watching the services' source directories; Ctrl-C stops "
                          "everything[/dim]")
            watch_and_deploy(paths, load_project(file), console, _progress)
        else:
            console.print("[dim]live status; Ctrl-C stops everything (`hotdeploy up -d` to "
                          "leave it running)[/dim]")
            with Live(status_table(status), console=console, refresh_per_second=2) as live:
                while True:
                    time.sleep(1.0)
                    live.update(status_table(client.request(paths, "status")))
    except KeyboardInterrupt:
        client.request(paths, "down", on_event=_progress)
    except HotdeployError as exc:
        raise fail(exc) from None


def _wait_ready(paths: ProjectPaths) -> dict[str, Any]:
    shown = 0
    while True:
        status = client.request(paths, "status")
        for line in status["boot_log"][shown:]:
            _progress(line)
        shown = len(status["boot_log"])
        if status["ready"]:
            return status
        if status["boot_error"]:
            raise ControlError(f"{status['boot_error']}\n(what started is still running: "
                               f"see `hotdeploy logs SERVICE`, stop it with `hotdeploy down`)")
        time.sleep(0.2)


def status(file: str = FileOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Services, releases, instances and the balancer's view of them."""
    try:
        result = client.request(_paths(file), "status")
    except HotdeployError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    plane = result["dataplane"]
    console.print(f"{result['project']}: {result['url']}  balancer {plane['engine']} "
                  f"({plane['mode']}, pid {plane.get('pid')}), strategy {result['strategy']}, "
                  f"runtime {result['runtime']}")
    console.print(status_table(result))
    for line in autoscale_lines(result):
        console.print(line, highlight=False)


def _verb(file: str, cmd: str, args: ServiceArgs, title: str) -> None:
    try:
        paths = _paths(file)
        console.print(f"[bold]{title}[/bold]")
        result = client.request(paths, cmd, args, on_event=_progress)
    except HotdeployError as exc:
        raise fail(exc) from None
    if result.get("message"):
        console.print(result["message"], highlight=False)
    console.print(f"[green]done[/green]: {result['service']} at version {result['version']} "
                  f"(release {result['digest'][: d.RELEASE_DIGEST_CHARS]})", highlight=False)


def deploy(service: str,
           version: str = typer.Option(None, "--version",
                                       help="Name the release (default: its digest)."),
           app: str = typer.Option(None, "--app", help="New ASGI app (module:attr)."),
           command: str = typer.Option(None, "--command", help="New command line."),
           env: list[str] = EnvOpt, strategy: str = StrategyOpt,
           file: str = FileOpt) -> None:
    """Build a release of a service or unit and hot-deploy it (exit 2 if it failed and was
    rolled back)."""
    bad = [item for item in env if "=" not in item]
    if bad:
        err.print(f"hotdeploy: --env {bad[0]!r}: expected K=V")
        raise typer.Exit(3)
    try:
        args = DeployArgs(service=service, version=version, app=app, command=command,
                          env=dict(item.split("=", 1) for item in env), strategy=strategy)
    except ValueError as exc:
        err.print(f"hotdeploy: {exc}")
        raise typer.Exit(3) from None
    _verb(file, "deploy", args, f"deploying {service}" + (f" {version}" if version else ""))


def rollback(service: str,
             to: str = typer.Option(None, "--to", help="A kept release's version "
                                                       "(default: the previous release)."),
             file: str = FileOpt) -> None:
    """Run the previous release of a service again (or any kept one), byte for byte."""
    _verb(file, "rollback", RollbackArgs(service=service, to=to),
          f"rolling back {service}" + (f" to {to}" if to else ""))


def releases(service: str, as_json: bool = typer.Option(False, "--json"),
             file: str = FileOpt) -> None:
    """The kept releases of a service, newest first (current and previous marked)."""
    try:
        paths = _paths(file)
        project = load_project(file)
        result = releases_cmd.run(ReleaseStore(paths.releases), load_state(paths.state_file),
                                  list(project.deployables()), ServiceArgs(service=service))
    except HotdeployError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        console.print(releases_table(result))


def scale(service: str, count: int, file: str = FileOpt) -> None:
    """Run COUNT instances of a service."""
    try:
        args = ScaleArgs(service=service, count=count)
    except ValueError:
        err.print(f"hotdeploy: scale {service} {count}: expected a count from 1 to 64")
        raise typer.Exit(3) from None
    _verb(file, "scale", args, f"scaling {service} to {count}")


def restart(service: str, file: str = FileOpt) -> None:
    """Replace every instance by a fresh one of the same release, one at a time."""
    _verb(file, "restart", ServiceArgs(service=service), f"restarting {service}")


def logs(service: str, follow: bool = typer.Option(False, "-f", "--follow"),
         lines: int = typer.Option(20, "-n", "--lines"),
         # `-f` follows here, as in `tail -f` and `docker logs -f`; the project file is --file.
         file: str = typer.Option(d.PROJECT_FILE, "--file", help="The project file.")) -> None:
    """Print the last lines of each instance's log (and follow them)."""
    paths = ProjectPaths.for_file(file)
    shown: dict[str, int] = {}
    while True:
        # Follow by reading the tail again and printing what is past the lines already shown
        # (a runtime offers its logs as lines, whatever stores them).
        args = LogsArgs(service=service, lines=100_000 if follow else lines)
        try:
            result = asyncio.run(logs_cmd.run(load_state(paths.state_file), paths.logs, args))
        except HotdeployError as exc:
            raise fail(exc) from None
        for instance_id, text in result.logs.items():
            start = shown.get(instance_id, max(0, len(text) - lines))
            for line in text[start:]:
                typer.echo(f"{instance_id} | {line}")
            shown[instance_id] = len(text)
        if not follow:
            return
        time.sleep(0.5)


def down(file: str = FileOpt) -> None:
    """Stop every instance, the balancer and the control process (releases are kept)."""
    try:
        paths = _paths(file)
        if client.is_running(paths):
            client.request(paths, "down", on_event=_progress)
        else:  # the control process is gone (killed): its state file records everything
            state = load_state(paths.state_file)
            if state is None:
                console.print("nothing is running")
                return
            project = load_project(file)
            made: dict[str, Runtime] = {}

            def runtime_named(kind: str) -> Runtime:
                if kind not in made:
                    made[kind] = runtime_for(kind, paths.logs, project, paths.base)
                return made[kind]

            plane = dataplane_for(state.dataplane, paths.state_dir, str(paths.project_file))
            kinds = {project.runtime_of(n).kind for n in project.deployables()}
            asyncio.run(teardown.teardown(paths, state, runtime_named, plane,
                                          project.deploy.stop_grace, _progress, kinds))
    except HotdeployError as exc:
        raise fail(exc) from None
    console.print("[green]stopped[/green]")


def register(app: typer.Typer) -> None:
    for verb in (up, status, deploy, rollback, releases, scale, restart, logs, down):
        app.command()(verb)
