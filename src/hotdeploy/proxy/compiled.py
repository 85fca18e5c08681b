"""Which modules make up the compiled request path, whether they run compiled, and whether the
compiled build is current.

setup.py compiles COMPILED_MODULES with mypyc when it can (it reads the list from this file, so
this module imports nothing of hotdeploy). An editable install puts the extensions beside their
sources, and Python imports an extension before its .py, so a source edited after the build
would silently not run: `stale_modules` finds that case (the test suite refuses to start on it).
"""

from __future__ import annotations

import importlib
from pathlib import Path

# The request path, per request: parsing, routing, the upstream exchange, the response head,
# and the objects it touches on every request (the request, its plan, the runtime and settings,
# the server group and its peers).
COMPILED_MODULES = tuple(f"hotdeploy.{name}" for name in (
    "proxy.client", "proxy.exchange", "proxy.upstream", "proxy.timers", "proxy.response_head",
    "proxy.upstream_request", "proxy.responses", "proxy.request", "proxy.plan", "proxy.clock",
    "upstream.peer", "upstream.group", "upstream.attempt", "proxy.runtime", "config.model",
    "proxy.write_batch", "upstream.eligibility", "balancer.round_robin",
    "upstream.passive", "proxy.wire"))


def source_path(name: str) -> str:
    """A module's source file, relative to the project root (src layout)."""
    return "src/" + name.replace(".", "/") + ".py"


def _compiled_files() -> dict[str, Path]:
    """The request-path modules that were imported from a compiled extension, and its file."""
    files = {name: Path(importlib.import_module(name).__file__ or "")
             for name in COMPILED_MODULES}
    return {name: file for name, file in files.items() if file.suffix != ".py"}


def compiled_modules() -> list[str]:
    """The request-path modules that were imported from a compiled extension."""
    return list(_compiled_files())


def stale_modules() -> list[str]:
    """Compiled modules whose source file changed after they were built."""
    stale = []
    for name, binary in _compiled_files().items():
        source = binary.with_name(name.rsplit(".", 1)[1] + ".py")
        if source.exists() and source.stat().st_mtime > binary.stat().st_mtime:
            stale.append(name)
    return stale
