"""Which nginx, and whether it can run the Lua balancer (live mode) or only reload."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hotdeploy.errors import ConfigError

MODULES_DIR = Path("/usr/lib/nginx/modules")
LUA_MODULES = ("ndk_http_module.so", "ngx_http_lua_module.so")  # ndk first: lua needs it
DEFAULT_NGINX = "/usr/sbin/nginx"


@dataclass(frozen=True, slots=True)
class NginxInstall:
    binary: str
    version: str
    modules: tuple[str, ...]  # absolute .so paths to load_module; empty: Lua is built in
    has_lua: bool


def find_binary(configured: str | None) -> str:
    if configured:
        if not Path(configured).is_file():
            raise ConfigError(f"[balancer] nginx = {configured!r}: no such file")
        return configured
    found = shutil.which("nginx") or (DEFAULT_NGINX if Path(DEFAULT_NGINX).is_file() else None)
    if found is None:
        raise ConfigError("[balancer] engine = \"nginx\": no nginx on PATH nor at "
                          f"{DEFAULT_NGINX}; install it (apt-get install nginx "
                          "libnginx-mod-http-lua lua-resty-core lua-cjson) or set "
                          "[balancer] nginx = PATH")
    return found


def inspect(binary: str, modules_dir: Path | None = None) -> NginxInstall:
    """`nginx -V` says whether Lua is compiled in; otherwise Debian's dynamic modules."""
    try:
        result = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10,
                                check=False)
    except OSError as exc:
        raise ConfigError(f"cannot run {binary} -V: {exc}") from exc
    text = result.stderr + result.stdout
    first = text.splitlines()[0] if text else ""
    version = first.split("/", 1)[1].strip() if "/" in first else first
    if "lua-nginx-module" in text or "http_lua_module" in text:
        return NginxInstall(binary, version, (), True)
    paths = tuple(str((modules_dir or MODULES_DIR) / name) for name in LUA_MODULES)
    has = all(Path(p).is_file() for p in paths)
    return NginxInstall(binary, version, paths if has else (), has)
