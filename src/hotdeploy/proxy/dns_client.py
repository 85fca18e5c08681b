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
# nginx keeps a failed answer (NXDOMAIN, server failure; not a timeout) for `valid=` or 10s.
NEGATIVE_VALID = 10.0


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
        # (name, resolver) -> (addresses, or the error text of a failed answer; expiry)
        self._cache: dict[tuple[str, ResolverConfig], tuple[tuple[str, ...] | str, float]] = {}
        self._inflight: dict[tuple[str, ResolverConfig], asyncio.Future[tuple[str, ...]]] = {}

    def cached(self, host: str, config: ResolverConfig) -> tuple[str, ...] | None:
        """The cached addresses; None when not cached; raises ResolveError for a cached
        failure."""
        entry = self._cache.get((host.lower(), config))
        if entry is None or entry[1] <= time.monotonic():
            return None
        if isinstance(entry[0], str):
            raise ResolveError(entry[0])
        return entry[0]

    def _store(self, key: tuple[str, ResolverConfig], value: tuple[str, ...] | str,
               valid: float) -> None:
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (value, time.monotonic() + valid)

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
            error = first_error or dns.resolver.NoAnswer()
            text = _error_text(error)
            if not isinstance(error, dns.exception.Timeout):
                self._store((host, config), text,
                            config.valid if config.valid is not None else NEGATIVE_VALID)
            raise ResolveError(text)
        valid = config.valid if config.valid is not None else float(ttl or 0)
        self._store((host, config), tuple(addrs), valid)
        return tuple(addrs)
