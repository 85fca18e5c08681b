"""The balancer's live API (NGINX Plus `/api/9/http/upstreams`): the only module that knows
its wire format. Works against `hotdeploy lb` and NGINX Plus alike."""

from __future__ import annotations

from typing import Any

import httpx

from hotdeploy import defaults as d
from hotdeploy.dataplane.base import NewServer, ServerView
from hotdeploy.errors import ControlError
from hotdeploy.units import format_time


def server_view(data: dict[str, Any]) -> ServerView:
    """One `peers` entry of the API (NGINX Plus reports response_time in milliseconds)."""
    responses = data.get("responses") or {}
    rt = data.get("response_time")
    return ServerView(id=int(data["id"]), address=str(data["server"]), state=str(data["state"]),
                      active=int(data.get("active", 0)), requests=int(data.get("requests", 0)),
                      server_errors=int(responses.get("5xx", 0)),
                      responses_total=int(responses.get("total", 0)),
                      weight=int(data.get("weight", 1)), backup=bool(data.get("backup", False)),
                      response_time=None if rt is None else float(rt) / 1000.0,
                      fails=int(data.get("fails", 0)))


class LbClient:
    def __init__(self, admin: str, timeout: float = 5.0) -> None:
        self.base = f"http://{admin}/api/{d.API_VERSION}/http/upstreams"
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = await self._http.request(method, self.base + path, json=body)
        except httpx.HTTPError as exc:
            raise ControlError(f"balancer API {method} {path}: {exc!r}") from exc
        if resp.status_code >= 400:
            raise ControlError(f"balancer API {method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    async def ping(self) -> bool:
        try:
            resp = await self._http.get(self.base)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def peers(self, upstream: str) -> list[ServerView]:
        data = await self._call("GET", f"/{upstream}")
        return [server_view(p) for p in data.get("peers", [])]

    async def add(self, upstream: str, server: NewServer) -> int:
        body: dict[str, Any] = {"server": server.address, "weight": server.weight,
                                "backup": server.backup}
        if server.max_fails is not None:
            body["max_fails"] = server.max_fails
        if server.fail_timeout is not None:
            body["fail_timeout"] = format_time(server.fail_timeout)
        if server.slow_start:
            body["slow_start"] = format_time(server.slow_start)
        data = await self._call("POST", f"/{upstream}/servers", body)
        return int(data["id"])

    async def patch(self, upstream: str, peer_id: int, **fields: Any) -> None:
        """Change the fields given; a field passed as None is left as it is (not sent)."""
        body = {key: value for key, value in fields.items() if value is not None}
        await self._call("PATCH", f"/{upstream}/servers/{peer_id}", body)

    async def remove(self, upstream: str, peer_id: int) -> None:
        await self._call("DELETE", f"/{upstream}/servers/{peer_id}")
