"""What every command shares: typed arguments and results (pydantic, so the control socket
validates what arrives and the CLI gets the same types back), and the service lock."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from hotdeploy.errors import ControlError
from hotdeploy.orchestrator.controller import Controller

Emit = Callable[[str], None]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceArgs(Args):
    service: str


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ServiceResult(Result):
    service: str
    version: str
    digest: str
    message: str = ""


def require_ready(ctl: Controller) -> None:
    if not ctl.ready:
        raise ControlError(ctl.boot_error or "the control process is still starting")


def require_service(ctl: Controller, name: str) -> None:
    require_ready(ctl)
    if name not in ctl.locks:
        raise ControlError(f"unknown service {name!r}: expected one of "
                           f"{', '.join(sorted(ctl.locks))}")


def service_result(ctl: Controller, name: str, message: str = "") -> ServiceResult:
    release = ctl.state.services[name].release
    return ServiceResult(service=name, version=release.version, digest=release.digest,
                         message=message)
