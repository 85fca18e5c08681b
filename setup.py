"""Build hook: compile the proxy's per-request modules with mypyc when it is available.

Everything else is in pyproject.toml. The compiled modules are the same typed Python, turned
into C extensions: about 1.6 times the requests per second of the interpreted ones on the
benchmark (docs/benchmarks.md). The build falls back to plain Python when mypyc or a C compiler
is missing (each extension is optional), and `HOTDEPLOY_PURE=1` asks for plain Python.
"""

from __future__ import annotations

import os

from setuptools import setup

# The request path, per request: parsing, routing, the upstream exchange, the response head,
# and the objects it touches on every request (the request, its plan, the server group and its
# peers). Kept in step with hotdeploy.proxy.compiled.COMPILED_MODULES (a test checks).
COMPILED = [
    "src/hotdeploy/proxy/client.py",
    "src/hotdeploy/proxy/exchange.py",
    "src/hotdeploy/proxy/upstream.py",
    "src/hotdeploy/proxy/timers.py",
    "src/hotdeploy/proxy/response_head.py",
    "src/hotdeploy/proxy/upstream_request.py",
    "src/hotdeploy/proxy/responses.py",
    "src/hotdeploy/proxy/request.py",
    "src/hotdeploy/proxy/plan.py",
    "src/hotdeploy/proxy/clock.py",
    "src/hotdeploy/upstream/peer.py",
    "src/hotdeploy/upstream/group.py",
    "src/hotdeploy/upstream/attempt.py",
    "src/hotdeploy/proxy/runtime.py",
    "src/hotdeploy/config/model.py",
]


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
