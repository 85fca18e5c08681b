"""One exception hierarchy. Each error knows how it surfaces: an exit code for the CLI,
an HTTP status for the data plane, and a message shaped like nginx's own."""

from __future__ import annotations


class HotdeployError(Exception):
    """Base of every error hotdeploy raises on purpose."""

    exit_code: int = 1


class ConfigError(HotdeployError):
    """A configuration error, formatted the way `nginx -t` reports it.

    `str(err)` is `unknown directive "foo" in /etc/nginx/nginx.conf:12`; the CLI prefixes it
    with `nginx: [emerg] ` style level markers (ours say `hotdeploy: [emerg] `).
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.message} in {self.file}"
        return f"{self.message} in {self.file}:{self.line}"


class ProjectError(HotdeployError):
    """An invalid hotdeploy.toml (names the key and what was expected)."""


class DeployError(HotdeployError):
    """A deployment failed (and was rolled back); the message says why."""

    exit_code = 2


class ControlError(HotdeployError):
    """The control process could not be reached or refused a command."""

    exit_code = 3


def error_class(name: str) -> type[HotdeployError]:
    """The error class of that name (errors cross the control socket by name, so the CLI
    raises the same class the control process did, and exits with its code)."""
    for cls in (ConfigError, ProjectError, DeployError, ControlError):
        if cls.__name__ == name:
            return cls
    if name == "ReleaseError":
        return DeployError
    return ControlError
