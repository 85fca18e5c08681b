"""The process that runs one instance of `app=` services and units under uvicorn.

`python -m hotdeploy.runtimes.host --port N --health /health --app mod:app` runs one app;
`--mount invoices=mod:app --mount reports=mod:app` mounts a unit's artifacts at /invoices and
/reports in this one process. Either way the instance answers its health path (200 "ok")
unless the app has its own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hotdeploy.runtimes.asgi import ASGIApp, HealthFallback, PrefixRouter


def import_app(ref: str) -> ASGIApp:
    module_name, _, attr = ref.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise SystemExit(f"hotdeploy: {ref!r} is not an ASGI application")
    return obj  # type: ignore[return-value]


def build_app(app: str | None, mounts: list[str], health: str) -> tuple[ASGIApp, str]:
    """The ASGI app to serve, and uvicorn's lifespan mode for it."""
    if app is not None:
        return HealthFallback(import_app(app), health), "auto"
    table = {}
    for mount in mounts:
        name, _, ref = mount.partition("=")
        table[f"/{name}"] = import_app(ref)
    # A unit's artifacts share the process; their lifespans are not forwarded (one router
    # cannot report one startup failure for several apps).
    return HealthFallback(PrefixRouter(table), health), "on"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hotdeploy.runtimes.host")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--health", default="/health")
    parser.add_argument("--app")
    parser.add_argument("--mount", action="append", default=[])
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())  # the project directory, as uvicorn's --app-dir
    app, lifespan = build_app(args.app, args.mount, args.health)
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, lifespan=lifespan,  # type: ignore[arg-type]
                log_level="warning", access_log=False, timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
