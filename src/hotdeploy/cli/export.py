"""`hotdeploy export TARGET`: the project rendered as files for a platform that runs it
without the control process. One self-contained function per target; each reads the project,
calls a pure export and writes what it returns."""

from __future__ import annotations

from pathlib import Path

import typer

from hotdeploy import defaults as d
from hotdeploy.cli import fail
from hotdeploy.errors import HotdeployError

export_app = typer.Typer(name="export", no_args_is_help=True,
                         help="Write the project for another tool (nginx).")

FileOpt = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file.")


@export_app.command("nginx")
def nginx(
    file: str = FileOpt,
    output: str | None = typer.Option(None, "-o", "--output",
                                      help="Write to this file instead of standard output."),
) -> None:
    """A static nginx.conf of the project for open-source nginx (NGINX Plus-only lines as
    comments saying what to use instead). The same project gives the same bytes."""
    from hotdeploy.dataplane.nginx.export import export_nginx
    from hotdeploy.project.loader import load_project

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
