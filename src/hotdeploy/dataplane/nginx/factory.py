"""Which nginx engine a project (or a state file) asks for: live mode when the Lua module is
there, reload mode when it is not or when `[balancer] nginx_mode = "reload"` forces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotdeploy.dataplane.base import DataPlane
from hotdeploy.dataplane.nginx.detect import find_binary, inspect
from hotdeploy.errors import ConfigError


def nginx_dataplane(record: dict[str, Any], state_dir: Path, source: str,
                    binary: str | None, mode: str) -> DataPlane:
    """`record`: a state file's (adopt the nginx it names, in its mode), or {} for a start."""
    install = inspect(record.get("nginx") or find_binary(binary))
    mode = record.get("mode") or mode
    if mode == "auto":
        mode = "live" if install.has_lua else "reload"
    if mode == "live":
        if not install.has_lua:
            raise ConfigError(
                f"[balancer] nginx_mode = \"live\" needs the Lua module, which {install.binary} "
                "does not have (apt-get install libnginx-mod-http-lua lua-resty-core "
                "lua-cjson), or use nginx_mode = \"reload\"")
        from hotdeploy.dataplane.nginx.live import NginxLiveDataPlane

        return NginxLiveDataPlane(state_dir, source, install, record)
    from hotdeploy.dataplane.nginx.reload import NginxReloadDataPlane

    return NginxReloadDataPlane(state_dir, source, install, record)
