"""The balancer's live API (NGINX Plus `/api/9/http/upstreams`): the only module that knows
its wire format. Works against `hotdeploy lb` and NGINX Plus alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from hotdeploy import defaults as d
from hotdeploy.errors import ControlError
from hotdeploy.units import format_time


@dataclass(frozen=True, slots=True)
class PeerView:
    """One server as the balancer reports it."""

    id: int
    server: str
    state: str  # up | draining | down | unavail | checking | unhealthy
    active: int
    requests: int
    server_errors: int  # responses.5xx
    responses_total: int
    weight: int
    backup: bool
    response_time: float | None  # mean, seconds (NGINX Plus reports milliseconds)
    fails: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PeerView:
        responses = data.get("responses") or {}
        rt = data.get("response_time")
        return cls(id=int(data["id"]), server=str(data["server"]), state=str(data["state"]),
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

    async def peers(self, upstream: str) -> list[PeerView]:
        data = await self._call("GET", f"/{upstream}")
        return [PeerView.from_json(p) for p in data.get("peers", [])]

    async def add(self, upstream: str, server: str, *, weight: int = 1, backup: bool = False,
                  max_fails: int | None = None, fail_timeout: float | None = None,
                  slow_start: float = 0.0) -> int:
        body: dict[str, Any] = {"server": server, "weight": weight, "backup": backup}
        if max_fails is not None:
            body["max_fails"] = max_fails
        if fail_timeout is not None:
            body["fail_timeout"] = format_time(fail_timeout)
        if slow_start:
            body["slow_start"] = format_time(slow_start)
        data = await self._call("POST", f"/{upstream}/servers", body)
        return int(data["id"])

    async def patch(self, upstream: str, peer_id: int, **fields: Any) -> None:
        await self._call("PATCH", f"/{upstream}/servers/{peer_id}", fields)

    async def remove(self, upstream: str, peer_id: int) -> None:
        await self._call("DELETE", f"/{upstream}/servers/{peer_id}")
