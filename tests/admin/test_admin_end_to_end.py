"""The API, the metrics and the health checker inside a real balancer, over real sockets.

Built from nginx configuration text (load_config + build_runtime, as `hotdeploy lb` builds it);
clients are httpx. No client traffic is needed for health checks to take a server out.
"""

import asyncio
import socket
import time

import httpx
import pytest

from hotdeploy.config.loader import load_config
from hotdeploy.config.model import Listen
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.runtime import RuntimeHolder, build_runtime
from hotdeploy.proxy.server import ConnectionTracker, make_protocol_factory
from hotdeploy.upstream.checker import HealthChecker, collect_checks

CONF = """
events {}
http {
    access_log off;
    match ready { status 200; body ~ "ready"; }
    upstream backend { server 127.0.0.1:PORT_A; server 127.0.0.1:PORT_B; }
    server {
        listen 127.0.0.1:LISTEN;
        location / {
            proxy_pass http://backend;
            health_check uri=/health interval=100ms match=ready;
        }
        location /api { api write=on; allow 127.0.0.1; deny all; }
        location = /metrics { metrics; }
    }
}
"""


class App:
    """A backend: answers its name, and /health with "ready" unless told to fail."""

    def __init__(self, name):
        self.name, self.healthy, self.health_probes = name, True, 0

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader, writer):
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            if head.startswith("GET /health "):
                self.health_probes += 1
                status, body = (200, b"ready") if self.healthy else (503, b"starting")
            else:
                status, body = 200, self.name.encode()
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (status, len(body), body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def eventually(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def stack(tmp_path):
    a, b, c = await App("a").start(), await App("b").start(), await App("c").start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    conf = (CONF.replace("PORT_A", str(a.port)).replace("PORT_B", str(b.port))
            .replace("LISTEN", str(port)))
    (tmp_path / "nginx.conf").write_text(conf)
    config = load_config(str(tmp_path / "nginx.conf"), str(tmp_path) + "/")
    runtime = build_runtime(config, None, time.monotonic(),
                            error_log=ErrorLog([(str(tmp_path / "error.log"), "info")]))
    runtime.health_checker = HealthChecker(runtime.groups, collect_checks(config))
    factory = make_protocol_factory(RuntimeHolder(runtime), Listen("127.0.0.1", port),
                                    ConnectionTracker())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, sock=sock)
    runtime.start(loop)
    runtime.health_checker.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3) as client:
        yield client, runtime, a, b, c
    await runtime.health_checker.stop()
    runtime.health_checker = None
    server.close()
    runtime.stop()
    for app in (a, b, c):
        app.server.close()


async def peers(client):
    r = await client.get("/api/9/http/upstreams/backend")
    assert r.status_code == 200
    return {p["server"].rsplit(":", 1)[1]: p for p in r.json()["peers"]}


async def served_by(client, n=8):
    return {(await client.get("/")).text for _ in range(n)}


async def test_unhealthy_server_leaves_rotation_without_client_traffic(stack):
    client, runtime, _a, b, _ = stack
    b.healthy = False
    port_b = str(b.port)
    assert await eventually(lambda: runtime.groups["backend"].peers[1].health == "unhealthy")
    view = (await peers(client))[port_b]
    assert view["state"] == "unhealthy" and view["health_checks"]["last_passed"] is False
    assert await served_by(client) == {"a"}
    b.healthy = True

    async def back():
        return (await peers(client))[port_b]["state"] == "up"

    assert await eventually(back)
    assert await served_by(client) == {"a", "b"}


async def test_drain_add_remove_through_the_api(stack):
    client, _runtime, a, b, c = stack
    ids = {p["server"].rsplit(":", 1)[1]: p["id"] for p in (await peers(client)).values()}
    r = await client.patch(f"/api/9/http/upstreams/backend/servers/{ids[str(a.port)]}",
                           json={"drain": True})
    assert r.status_code == 200 and r.json()["drain"] is True
    assert await served_by(client) == {"b"}
    view = (await peers(client))[str(a.port)]
    assert view["state"] == "draining" and view["active"] == 0  # safe to stop now
    r = await client.post("/api/9/http/upstreams/backend/servers",
                          json={"server": f"127.0.0.1:{c.port}"})
    assert r.status_code == 201
    assert await eventually(lambda: c.health_probes > 0)  # new servers are health checked
    assert "c" in await served_by(client, 12)
    r = await client.delete(f"/api/9/http/upstreams/backend/servers/{ids[str(a.port)]}")
    assert r.status_code == 200
    assert sorted(s["server"] for s in r.json()) == sorted(
        [f"127.0.0.1:{b.port}", f"127.0.0.1:{c.port}"])


async def test_metrics_location_exposes_live_server_state(stack):
    client, runtime, _a, b, _ = stack
    await served_by(client, 4)
    b.healthy = False
    assert await eventually(lambda: runtime.groups["backend"].peers[1].health == "unhealthy")
    r = await client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert (f'hotdeploy_upstream_server_state{{id="1",server="127.0.0.1:{b.port}",'
            f'state="unhealthy",upstream="backend"}} 1.0') in text
    assert "hotdeploy_upstream_server_requests_total" in text
    assert "hotdeploy_upstream_server_health_check_fails_total" in text
