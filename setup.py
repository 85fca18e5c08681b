"""Build hook: compile the proxy's per-request modules with mypyc when it is available.

Everything else is in pyproject.toml. The compiled modules are the same typed Python, turned
into C extensions: about twice the requests per second of the interpreted ones on the
benchmark (docs/benchmarks.md). The build falls back to plain Python when mypyc or a C compiler
is missing (each extension is optional), and `HOTDEPLOY_PURE=1` asks for plain Python.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import setup

# The request path's modules (hotdeploy/proxy/compiled.py keeps the one list; read as a file:
# the package is not importable before it is built).
_LIST = runpy.run_path(str(Path(__file__).parent / "src/hotdeploy/proxy/compiled.py"))
COMPILED = [_LIST["source_path"](name) for name in _LIST["COMPILED_MODULES"]]


def compiled_extensions() -> list:
    if os.environ.get("HOTDEPLOY_PURE") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        extensions = mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED],
                              opt_level="3")
    except (SystemExit, Exception) as exc:  # mypyc exits on a type error it cannot compile
        print(f"hotdeploy: mypyc failed ({exc}); installing the interpreted modules")
        return []
    for extension in extensions:
        extension.optional = True  # no compiler: the interpreted modules are used
    return extensions


setup(ext_modules=compiled_extensions())
