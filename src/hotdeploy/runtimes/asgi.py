"""A tiny ASGI toolkit for the built-in runtime: a path-prefix router that mounts a unit's
artifacts in one process, and a health endpoint for apps that have none.

Framework-free on purpose: a unit's artifacts may come from different frameworks, and the
runtime must not impose one (ASGI 3.0 spec: an app is `async (scope, receive, send)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_text(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PrefixRouter:
    """Dispatch by the longest matching mount prefix (`/invoices` matches `/invoices` and
    `/invoices/...`, not `/invoicesX`). The full path is passed on and `root_path` is left
    alone: the balancer forwards the whole URI, and each artifact was written for its prefix."""

    def __init__(self, mounts: dict[str, ASGIApp], fallback: ASGIApp | None = None) -> None:
        self._mounts = sorted(mounts.items(), key=lambda kv: len(kv[0]), reverse=True)
        self._fallback = fallback

    def match(self, path: str) -> ASGIApp | None:
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return app
        return self._fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan_noop(receive, send)
            return
        app = self.match(scope.get("path", "/"))
        if app is None:
            await send_text(send, 404, "not found\n")
            return
        await app(scope, receive, send)


class HealthFallback:
    """Answer `path` with 200 when the wrapped app answers it with 404 (it has no health
    endpoint of its own); an app that has one is asked and its answer is passed on."""

    def __init__(self, app: ASGIApp, path: str, body: str = "ok\n") -> None:
        self._app = app
        self._path = path
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self._path:
            await self._app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self._app(scope, receive, hold)
        start = held[0] if held else None
        if start is None or start.get("status") == 404:
            await send_text(send, 200, self._body)
            return
        for message in held:
            await send(message)


async def _lifespan_noop(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
