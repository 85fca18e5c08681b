"""`hotdeploy export ...`: the project in another tool's terms. `export nginx` writes a static
nginx.conf for open-source nginx (hotdeploy.dataplane.nginx.export)."""

from __future__ import annotations

from pathlib import Path

import typer

from hotdeploy import defaults as d
from hotdeploy.cli import fail
from hotdeploy.errors import HotdeployError
from hotdeploy.project.loader import load_project

export_app = typer.Typer(help="Export the project for another tool.", no_args_is_help=True)


@export_app.command("nginx")
def export_nginx_cmd(
    file: str = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file."),
    output: str | None = typer.Option(None, "-o", "--output",
                                      help="Write here instead of standard output."),
) -> None:
    """A static nginx.conf of the project (open-source directives; Plus-only ones as
    comments saying what to use instead)."""
    from hotdeploy.dataplane.nginx.export import export_nginx

    try:
        text = export_nginx(load_project(file), Path(file).name)
    except HotdeployError as exc:
        raise fail(exc) from None
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
