"""Where the nginx engine's files live: its own nginx prefix under .hotdeploy/nginx/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class NginxPaths:
    prefix: str  # absolute; nginx's `-p`

    @classmethod
    def under(cls, state_dir: str | Path) -> NginxPaths:
        return cls(str(Path(state_dir).resolve() / "nginx"))

    @property
    def conf(self) -> str:
        return f"{self.prefix}/nginx.conf"

    @property
    def pid(self) -> str:
        return f"{self.prefix}/nginx.pid"

    @property
    def error_log(self) -> str:
        return f"{self.prefix}/error.log"

    @property
    def output(self) -> str:
        """nginx's stdout/stderr (errors before the error log is open)."""
        return f"{self.prefix}/nginx.out"

    @property
    def servers(self) -> str:
        """The servers the control process saved: a restarted nginx starts with them."""
        return f"{self.prefix}/servers.json"

    @property
    def upstreams_include(self) -> str:
        """Reload mode: the upstream blocks with their `server` lines."""
        return f"{self.prefix}/upstreams.conf"

    @property
    def temp(self) -> str:
        return f"{self.prefix}/tmp"
