"""`hotdeploy export FORMAT`: the project rendered for another tool. Each format is its own
command function and module (hotdeploy.export.<format>)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from hotdeploy import defaults as d
from hotdeploy.errors import HotdeployError

export_app = typer.Typer(name="export", help="Render the project for another tool to run.",
                         no_args_is_help=True)
console = Console()


ComposeOutOpt = typer.Option(None, "-o", "--output",
                             help="The Compose file (default: compose.yaml beside the project "
                                  "file; `-` prints it, without writing the balancer's "
                                  "nginx.conf).")
FileOpt = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file.")


@export_app.command("compose")
def compose(out: Path = ComposeOutOpt, file: str = FileOpt) -> None:
    """A Compose file: a service per service/unit (its release image, replicas, healthcheck,
    stop grace) and the balancer as a service; its nginx.conf is written beside it."""
    from hotdeploy.cli import fail
    from hotdeploy.export.compose import export_compose, write
    from hotdeploy.orchestrator.releases import ReleaseStore
    from hotdeploy.orchestrator.state import ProjectPaths, load_state
    from hotdeploy.project.loader import load_project

    try:
        project = load_project(file)
        paths = ProjectPaths.for_file(file)
        name = "compose.yaml" if out is None or str(out) == "-" else out.name
        conf_name = f"{Path(name).stem}.lb.conf"
        result = export_compose(project, load_state(paths.state_file),
                                ReleaseStore(paths.releases), conf_name)
    except HotdeployError as exc:
        raise fail(exc) from None
    if out is not None and str(out) == "-":
        typer.echo(result.text, nl=False)
        return
    target, conf = write(paths.project_file, out, result)
    console.print(f"wrote {target} and {conf} (`docker compose -f {target} up -d`; "
                  f"zero-downtime deploys need `hotdeploy up`)", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
