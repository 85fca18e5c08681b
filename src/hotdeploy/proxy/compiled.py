"""Whether the request path runs compiled, and whether the compiled build is current.

setup.py compiles the per-request modules with mypyc when it can. An editable install puts the
extensions beside their sources, and Python imports an extension before its .py, so a source
edited after the build would silently not run: `stale_modules` finds that case (the test suite
refuses to start on it).
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Keep in step with COMPILED in setup.py (tests/proxy/test_proxy_pure.py checks).
COMPILED_MODULES = tuple(f"hotdeploy.{name}" for name in (
    "proxy.client", "proxy.exchange", "proxy.upstream", "proxy.timers", "proxy.response_head",
    "proxy.upstream_request", "proxy.responses", "proxy.request", "proxy.plan", "proxy.clock",
    "upstream.peer", "upstream.group", "upstream.attempt", "proxy.runtime", "config.model"))


def _module_file(name: str) -> Path:
    return Path(importlib.import_module(name).__file__ or "")


def compiled_modules() -> list[str]:
    """The request-path modules that were imported from a compiled extension."""
    return [name for name in COMPILED_MODULES if _module_file(name).suffix != ".py"]


def stale_modules() -> list[str]:
    """Compiled modules whose source file changed after they were built."""
    stale = []
    for name in compiled_modules():
        binary = _module_file(name)
        source = binary.with_name(name.rsplit(".", 1)[1] + ".py")
        if source.exists() and source.stat().st_mtime > binary.stat().st_mtime:
            stale.append(name)
    return stale
