"""The one place where an error becomes a message and an exit code (each error class carries
its code: hotdeploy.errors)."""

from __future__ import annotations

import typer
from rich.console import Console

from hotdeploy.errors import HotdeployError


def fail(exc: HotdeployError) -> typer.Exit:
    """Print a HotdeployError as `hotdeploy: message` on stderr; the exit code is its class's."""
    Console(stderr=True).print(f"[red]hotdeploy:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(exc.exit_code)
