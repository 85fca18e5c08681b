"""The `hotdeploy` command line.

Each command family lives in its own module and registers itself here: `hotdeploy lb` (the
data plane, nginx's flags) and the control-plane verbs (cli.control). `fail` is the one place
that turns an error into a message and an exit code (each error class carries its code:
hotdeploy.errors).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from hotdeploy import __version__
from hotdeploy.errors import HotdeployError

app = typer.Typer(
    name="hotdeploy",
    help="Zero-downtime hot deployment of HTTP services behind an nginx-compatible load balancer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"hotdeploy {__version__}")
        raise typer.Exit(0)


def fail(exc: HotdeployError) -> typer.Exit:
    """Print a HotdeployError as `hotdeploy: message` on stderr; the exit code is its class's."""
    Console(stderr=True).print(f"[red]hotdeploy:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(exc.exit_code)


def _register_commands() -> None:
    from hotdeploy.cli import control, export
    from hotdeploy.lb import command as lb_command

    lb_command.register(app)
    control.register(app)
    export.register(app)


def main() -> None:
    _register_commands()
    sys.exit(app(standalone_mode=True))
