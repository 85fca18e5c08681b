"""Active checks for reload mode, run by the control process: without the Lua module nginx
cannot check servers itself, so the engine probes them (`health_check` semantics: `uri`,
`interval`, `fails`, `passes`; 2xx/3xx pass) and renders a failing one `down`, which costs a
reload. New servers are not `mandatory`-gated here: the orchestrator's own probe passed
before it added them. Checks stop while the control process is down (live mode's run in
nginx and do not)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from hotdeploy.errors import ControlError
from hotdeploy.project.topology import HealthProbe, Topology


@dataclass
class ReloadChecks:
    table: Callable[[], dict[str, list[dict[str, Any]]]]  # the engine's servers, live
    commit: Callable[[], Awaitable[None]]  # one reload for the changes
    log: Callable[[str], None] = lambda _message: None
    fails: dict[int, int] = field(default_factory=dict)
    passes: dict[int, int] = field(default_factory=dict)

    async def run(self, topology: Topology) -> None:
        probes = {spec.name: spec.health for spec in topology.upstreams if spec.health}
        if not probes:
            return
        interval = min(probe.interval for probe in probes.values())
        async with httpx.AsyncClient(timeout=min(interval, 1.0), trust_env=False) as http:
            while True:
                checks = [self._check(http, probes[name], server)
                          for name, servers in self.table().items() if name in probes
                          for server in servers if not server["down"]]
                if any(await asyncio.gather(*checks)):
                    with contextlib.suppress(ControlError):  # retried at the next round
                        await self.commit()
                await asyncio.sleep(interval)

    async def _check(self, http: httpx.AsyncClient, probe: HealthProbe,
                     server: dict[str, Any]) -> bool:
        """Probe one server; True when its state changed."""
        try:
            resp = await http.get(f"http://{server['server']}{probe.uri}")
            passed = 200 <= resp.status_code < 400
        except httpx.HTTPError:
            passed = False
        sid = server["id"]
        unhealthy = bool(server.get("unhealthy"))
        if passed:
            self.fails[sid] = 0
            self.passes[sid] = self.passes.get(sid, 0) + 1
            if unhealthy and self.passes[sid] >= probe.passes:
                server["unhealthy"] = False
                self.log(f"{server['server']} passed {probe.uri}: back in rotation")
                return True
        else:
            self.passes[sid] = 0
            self.fails[sid] = self.fails.get(sid, 0) + 1
            if not unhealthy and self.fails[sid] >= probe.fails:
                server["unhealthy"] = True
                self.log(f"{server['server']} failed {probe.uri}: out of rotation")
                return True
        return False
