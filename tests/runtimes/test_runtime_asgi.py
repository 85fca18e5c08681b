"""The runtime's ASGI pieces, driven in-process with real ASGI messages."""

from __future__ import annotations

from hotdeploy.runtimes.asgi import HealthFallback, PrefixRouter, send_text


def named(name: str, status: int = 200):
    async def app(scope, receive, send):
        await send_text(send, status, f"{name} {scope['path']}")

    return app


async def call(app, path: str) -> tuple[int, str]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET"}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]).decode()


async def test_router_picks_the_longest_prefix_on_segment_boundaries():
    router = PrefixRouter({"/a": named("a"), "/a/b": named("ab")})
    assert await call(router, "/a") == (200, "a /a")
    assert await call(router, "/a/x") == (200, "a /a/x")
    assert await call(router, "/a/b/c") == (200, "ab /a/b/c")
    assert (await call(router, "/ab"))[0] == 404


async def test_health_fallback_answers_only_when_the_app_has_no_health():
    assert await call(HealthFallback(named("x", 404), "/health"), "/health") == (200, "ok\n")
    assert await call(HealthFallback(named("x", 503), "/health"), "/health") == \
        (503, "x /health")
    assert await call(HealthFallback(named("x", 404), "/health"), "/other") == \
        (404, "x /other")
