"""The `hotdeploy` command line: the only place that turns errors into exit codes.

Each command family lives in its own module and registers itself here:
`hotdeploy lb` (the data plane, nginx's flags) and the control-plane verbs
(`up`, `status`, `deploy`, `rollback`, `scale`, `restart`, `logs`, `down`).
"""

from __future__ import annotations

import sys

import typer

from hotdeploy import __version__

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


def _register_commands() -> None:
    from hotdeploy.lb import command as lb_command

    lb_command.register(app)
    try:
        from hotdeploy.control import commands as control_commands
    except ImportError:  # the control plane is optional at build time of the data plane
        return
    control_commands.register(app)


def main() -> None:
    _register_commands()
    sys.exit(app(standalone_mode=True))
