"""The verbs, one module each, with typed arguments and results shared by the CLI and the
control socket. COMMANDS is the socket's table: name -> (argument type, handler)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hotdeploy.orchestrator.commands import deploy, down, restart, rollback, scale, status
from hotdeploy.orchestrator.commands.base import Args, Result, ServiceArgs

Handler = Callable[[Any, Any, Callable[[str], None]], Awaitable[Result]]

COMMANDS: dict[str, tuple[type[Args], Handler]] = {
    "status": (Args, status.run),
    "deploy": (deploy.DeployArgs, deploy.run),
    "rollback": (rollback.RollbackArgs, rollback.run),
    "restart": (ServiceArgs, restart.run),
    "scale": (scale.ScaleArgs, scale.run),
    "down": (Args, down.run),
}
