"""limit_req and limit_conn on the request path: the zones of a configuration generation, and
the check a location with limits runs before its access rules (nginx's preaccess phase:
limit_req first, then limit_conn).

A location without `limit_req`/`limit_conn` has `plan.limits = None` and pays nothing else.
Where the zones live is the `ZoneMaker`'s choice: `PrivateZones` (this process's memory: the
single process of `worker_processes 1`) or proxy/shared_limits.py's `SharedZones` (files every
worker process maps, as nginx's zones are shared memory). A reload keeps a zone's states when
its kind and size stay, as nginx reuses a shared zone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hotdeploy.config.model import LimitSettings, LimitZone, Template
from hotdeploy.proxy import limit_conn, limit_req
from hotdeploy.proxy.logs import LEVELS
from hotdeploy.proxy.request import log_context

# nginx caps the key length it accounts (longer keys are logged and not limited).
MAX_REQ_KEY = 65535
MAX_CONN_KEY = 255

Zone = limit_req.ReqZone | limit_conn.ConnZone


class ZoneMaker(Protocol):
    """Makes the zone a configuration declares anew (kind or size changed, or a new name)."""

    def req_zone(self, name: str, rate: int, size: int) -> limit_req.ReqZone: ...

    def conn_zone(self, name: str, size: int) -> limit_conn.ConnZone: ...


class PrivateZones:
    """Zones in this process's memory."""

    def req_zone(self, name: str, rate: int, size: int) -> limit_req.ReqZone:
        return limit_req.ReqZone(name, rate, size)

    def conn_zone(self, name: str, size: int) -> limit_conn.ConnZone:
        return limit_conn.ConnZone(name, size)


class ZoneStates:
    """The states of every zone, carried from one configuration generation to the next (with
    the maker of new zones: `maker`, else the previous generation's, else PrivateZones)."""

    def __init__(self, previous: ZoneStates | None = None,
                 maker: ZoneMaker | None = None) -> None:
        self.old: dict[str, Zone] = dict(previous.zones) if previous is not None else {}
        self.zones: dict[str, Zone] = {}
        if maker is None:
            maker = previous.maker if previous is not None else PrivateZones()
        self.maker = maker

    def bind(self, zones: dict[str, LimitZone]) -> None:
        for name, spec in zones.items():
            old = self.old.get(name)
            if spec.kind == "req":
                if isinstance(old, limit_req.ReqZone) and old.size == spec.size:
                    old.rate = spec.rate
                    self.zones[name] = old
                else:
                    self.zones[name] = self.maker.req_zone(name, spec.rate, spec.size)
            elif isinstance(old, limit_conn.ConnZone) and old.size == spec.size:
                self.zones[name] = old
            else:
                self.zones[name] = self.maker.conn_zone(name, spec.size)
        self.old = {}


def _key(template: Template, req: Any) -> bytes:
    return template.render(req).encode("latin-1", "replace")


def _excess(excess: int) -> str:
    return f"{excess // 1000}.{excess % 1000:03d}"


class LocationLimits:
    """The limits of one location, bound to their zones."""

    def __init__(self, settings: LimitSettings, specs: dict[str, LimitZone],
                 states: ZoneStates) -> None:
        self.settings = settings
        self.reqs = tuple(limit_req.Limit(states.zones[r.zone], r.burst, r.delay)  # type: ignore[arg-type]
                          for r in settings.reqs)
        self.req_keys = tuple(specs[r.zone].key for r in settings.reqs)
        self.conns = tuple(limit_conn.Limit(states.zones[c.zone], c.conn)  # type: ignore[arg-type]
                           for c in settings.conns)
        self.conn_keys = tuple(specs[c.zone].key for c in settings.conns)
        level = settings.req_log_level
        # nginx logs delays one level below the rejections (error -> warn, info -> debug).
        self.delay_log_level = LEVELS[max(LEVELS.index(level) - 1, 0)]

    def check(self, req: Any, now_ms: int, log: Callable[[str, str], None]) -> tuple[int, int]:
        """(status to answer or 0, ms to delay the request first)."""
        delay = 0
        if self.reqs:
            status, delay = self._requests(req, now_ms, log)
            if status:
                return status, 0
        if self.conns:
            status = self._connections(req, log)
            if status:
                return status, 0
        return 0, delay

    def _keys(self, templates: tuple[Template, ...], limit: int, req: Any,
              log: Callable[[str, str], None]) -> list[bytes]:
        keys = []
        for template in templates:
            key = _key(template, req)
            if len(key) > limit:
                log("error", f'the value of the "{template.raw}" key is more than {limit} '
                             f'bytes: "{key.decode("latin-1")}"{log_context(req)}')
                key = b""
            keys.append(key)
        return keys

    def _requests(self, req: Any, now_ms: int, log: Callable[[str, str], None],
                  ) -> tuple[int, int]:
        s = self.settings
        keys = self._keys(self.req_keys, MAX_REQ_KEY, req, log)
        verdict = limit_req.check(self.reqs, keys, now_ms)
        dry = ", dry run" if s.req_dry_run else ""
        if verdict.rc == limit_req.DECLINED:
            return 0, 0
        if verdict.rc in (limit_req.BUSY, limit_req.ERROR):
            if verdict.rc == limit_req.BUSY:
                log(s.req_log_level, f"limiting requests{dry}, excess: "
                                     f'{_excess(verdict.excess)} by zone "{verdict.zone}"'
                                     f"{log_context(req)}")
            else:
                log("alert", f'could not allocate node in limit_req zone "{verdict.zone}"')
            req.limit_req_status = "REJECTED_DRY_RUN" if s.req_dry_run else "REJECTED"
            return (0 if s.req_dry_run else s.req_status), 0
        if not verdict.delay_ms:
            req.limit_req_status = "PASSED"
            return 0, 0
        log(self.delay_log_level, f"delaying request{dry}, excess: {_excess(verdict.excess)}, "
                                  f'by zone "{verdict.zone}"{log_context(req)}')
        req.limit_req_status = "DELAYED_DRY_RUN" if s.req_dry_run else "DELAYED"
        return 0, (0 if s.req_dry_run else verdict.delay_ms)

    def _connections(self, req: Any, log: Callable[[str, str], None]) -> int:
        s = self.settings
        keys = self._keys(self.conn_keys, MAX_CONN_KEY, req, log)
        if not any(keys):
            return 0
        rc, zone, taken = limit_conn.acquire_all(self.conns, keys)
        if rc == limit_conn.OK:
            req.limit_conn_status = "PASSED"
            req.limit_conn_held = tuple(taken)
            return 0
        if rc == limit_conn.BUSY:
            dry = ", dry run," if s.conn_dry_run else ""
            log(s.conn_log_level, f'limiting connections{dry} by zone "{zone}"'
                                  f"{log_context(req)}")
        else:
            log("crit", f'ngx_slab_alloc() failed: no memory in limit_conn zone "{zone}"')
        req.limit_conn_status = "REJECTED_DRY_RUN" if s.conn_dry_run else "REJECTED"
        return 0 if s.conn_dry_run else s.conn_status


def release(req: Any) -> None:
    """The request is freed (after its access log line): give back its limit_conn counts."""
    held = req.limit_conn_held
    if held:
        req.limit_conn_held = ()
        limit_conn.release_all(held)

