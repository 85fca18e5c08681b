"""A plain-ASGI helper shared by the example apps (no framework dependency).

Each app answers JSON naming its service, version and instance, so tests and people can see
which version served a request. Fault injection for demos and tests, by environment:
EXAMPLE_FAIL_RATE=0.3 answers 500 to that share of requests; EXAMPLE_UNHEALTHY=1 makes
/health answer 503; EXAMPLE_CRASH=1 exits at startup.
"""

from __future__ import annotations

import json
import os
import random
import sys


def make_app(service: str, health: bool = True):  # noqa: ANN201 - returns an ASGI callable
    version = os.environ.get("HOTDEPLOY_VERSION", "dev")
    instance = os.environ.get("HOTDEPLOY_INSTANCE", "local")
    fail_rate = float(os.environ.get("EXAMPLE_FAIL_RATE", "0"))
    unhealthy = os.environ.get("EXAMPLE_UNHEALTHY") == "1"
    if os.environ.get("EXAMPLE_CRASH") == "1":
        print(f"{service} {version}: crashing on purpose (EXAMPLE_CRASH=1)", flush=True)
        sys.exit(3)

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        path = scope["path"]
        if path == "/health":
            if not health:
                status, payload = 404, {"error": "no health endpoint"}
            elif unhealthy:
                status, payload = 503, {"status": "unhealthy", "version": version}
            else:
                status, payload = 200, {"status": "ok", "version": version}
        elif fail_rate and random.random() < fail_rate:
            status, payload = 500, {"error": "injected failure", "version": version}
        else:
            status = 200
            payload = {"service": service, "version": version, "instance": instance,
                       "method": scope["method"], "path": path, "received": size}
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"x-version", version.encode())]})
        await send({"type": "http.response.body", "body": body})

    return app
