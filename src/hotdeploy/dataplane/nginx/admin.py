"""The live-mode admin server's protocol: the NGINX Plus `/api/9/http/upstreams` subset that
hotdeploy_balancer.lua answers (so the built-in engine's LbClient speaks it), plus
`/api/9/hotdeploy`, which says which configuration generation the answering worker runs."""

from __future__ import annotations

from typing import Any

import httpx

from hotdeploy.dataplane.builtin.api import LbClient
from hotdeploy.errors import ControlError


class AdminClient(LbClient):
    def __init__(self, admin: str, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(admin, timeout)
        self.root = f"http://{admin}/api/9"
        if transport is not None:
            self._http = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport)

    async def about(self) -> dict[str, Any] | None:
        """The answering worker's generation, pid and the next server id; None: no answer."""
        try:
            resp = await self._http.get(f"{self.root}/hotdeploy")
        except httpx.HTTPError:
            return None
        return dict(resp.json()) if resp.status_code == 200 else None

    async def generation(self) -> str | None:
        about = await self.about()
        return None if about is None else str(about.get("generation"))

    async def saved_servers(self) -> dict[str, Any]:
        """Every upstream's server list, as a restarted nginx reads it back (servers.json)."""
        try:
            resp = await self._http.get(self.base)
        except httpx.HTTPError as exc:
            raise ControlError(f"nginx admin API: {exc!r}") from exc
        about = await self.about() or {}
        out: dict[str, list[dict[str, Any]]] = {}
        for name in resp.json():
            servers = await self._call("GET", f"/{name}/servers")
            # cjson writes an empty list as {}
            out[name] = list(servers) if isinstance(servers, list) else []
        return {"nextid": int(about.get("next_id", 0)), "upstreams": out}
