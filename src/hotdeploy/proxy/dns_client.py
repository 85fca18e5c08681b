"""The `resolver` of a proxy_pass with variables: A (and AAAA) queries to the configured
servers with dnspython's asyncio resolver, answers cached for their TTL or `valid=`, one
query in flight per name (later requests wait for it, as nginx's resolver does)."""

from __future__ import annotations

import asyncio
import time

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from hotdeploy.config.model import ResolverConfig

CACHE_LIMIT = 4096  # names kept; the cache is emptied when it grows past this


class ResolveError(Exception):
    """`text` is nginx's: "3: Host not found", "110: Operation timed out"."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "110: Operation timed out"
    if isinstance(exc, (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)):
        return "3: Host not found"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "2: Server failure"
    return "2: Server failure"


class DnsClient:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, ResolverConfig], tuple[tuple[str, ...], float]] = {}
        self._inflight: dict[tuple[str, ResolverConfig], asyncio.Future[tuple[str, ...]]] = {}

    def cached(self, host: str, config: ResolverConfig) -> tuple[str, ...] | None:
        entry = self._cache.get((host.lower(), config))
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    async def resolve(self, host: str, config: ResolverConfig) -> tuple[str, ...]:
        """The addresses of `host`; raises ResolveError."""
        key = (host.lower(), config)
        addrs = self.cached(host, config)
        if addrs is not None:
            return addrs
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._query(key[0], config))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(pending)

    async def _query(self, host: str, config: ResolverConfig) -> tuple[str, ...]:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(addr, port)
                                for addr, port in config.servers]
        resolver.cache = None
        kinds = [k for k, on in (("A", config.ipv4), ("AAAA", config.ipv6)) if on]
        results = await asyncio.gather(
            *(resolver.resolve(host, kind, lifetime=config.timeout, search=False)
              for kind in kinds), return_exceptions=True)
        addrs: list[str] = []
        ttl: float | None = None
        first_error: BaseException | None = None
        for result in results:
            if isinstance(result, BaseException):
                first_error = first_error or result
                continue
            assert result.rrset is not None
            addrs += [item.address for item in result.rrset]
            ttl = result.rrset.ttl if ttl is None else min(ttl, result.rrset.ttl)
        if not addrs:
            raise ResolveError(_error_text(first_error or dns.resolver.NoAnswer()))
        valid = config.valid if config.valid is not None else float(ttl or 0)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[(host, config)] = (tuple(addrs), time.monotonic() + valid)
        return tuple(addrs)
