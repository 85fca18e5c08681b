"""Request routing, pure: which virtual server and which location answer a request.

nginx's rules (ngx_http_core_module docs, "How nginx processes a request"):
- server: the connection's local addr:port selects the servers listening there (a socket
  bound to a specific address serves only the servers listening on that address); among
  them, by Host: exact name, longest leading wildcard (`*.x`, `.x`), longest trailing
  wildcard (`x.*`), first matching regex (`~`) in order of definition, else the
  `default_server` of that addr:port, else the first server listening there.
- location: `=` exact wins; else the longest prefix; `^~` on it stops the search; else the
  regexes in order of appearance (those nested in the longest prefix first), first match
  wins; else the longest prefix.
Everything the configuration fixes is precomputed in `Router.__init__`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from hotdeploy.config.listen import WILDCARD_V4, WILDCARD_V6
from hotdeploy.config.model import HttpConfig, Listen, LocationConfig, ServerConfig
from hotdeploy.config.regex import to_python

_CACHE_LIMIT = 4096  # (server, path) -> location entries; cleared when full
_HEX = frozenset("0123456789abcdefABCDEF")


class _Locations:
    """The locations directly inside a server or a location, indexed for matching."""

    __slots__ = ("exact", "prefixes", "regexes")

    def __init__(self, locations: tuple[LocationConfig, ...]) -> None:
        self.exact: dict[str, LocationConfig] = {}
        prefixes: list[tuple[str, LocationConfig, _Locations]] = []
        self.regexes: list[tuple[re.Pattern[str], LocationConfig, _Locations]] = []
        for loc in locations:
            nested = _Locations(loc.locations)
            if loc.modifier == "=":
                self.exact[loc.path] = loc
            elif loc.modifier in ("", "^~"):
                prefixes.append((loc.path, loc, nested))
            elif loc.regex is not None:
                self.regexes.append((loc.regex, loc, nested))
        # Longest first: the first prefix that matches is the longest match.
        self.prefixes = sorted(prefixes, key=lambda p: len(p[0]), reverse=True)

    def find(self, path: str) -> tuple[LocationConfig | None, bool]:
        """(location, final): nginx's ngx_http_core_find_location, recursive on nesting."""
        exact = self.exact.get(path)
        if exact is not None:
            return exact, True
        best: LocationConfig | None = None
        noregex = False
        for prefix, loc, nested in self.prefixes:
            if path.startswith(prefix):
                # `^~` on the longest prefix skips the regexes of this level only; the
                # regexes nested inside it are still tried (nginx's `noregex`).
                best, noregex = loc, loc.modifier == "^~"
                found, final = nested.find(path)
                if final:
                    return found, True
                if found is not None:
                    best = found
                break
        if not noregex:
            for regex, loc, nested in self.regexes:
                if regex.search(path):
                    found, _ = nested.find(path)
                    return (found or loc), True
        return best, False


class _Names:
    """server_name lookup tables for the servers of one addr:port."""

    def __init__(self, servers: list[ServerConfig], default: ServerConfig) -> None:
        self.default = default
        self.exact: dict[str, ServerConfig] = {}
        self.head: dict[str, ServerConfig] = {}  # "*.x.com" / ".x.com" -> key ".x.com"
        self.tail: dict[str, ServerConfig] = {}  # "www.x.*" -> key "www.x."
        self.regexes: list[tuple[re.Pattern[str], ServerConfig]] = []
        for server in servers:
            for name in server.server_names:
                self._add(name, server)

    def _add(self, name: str, server: ServerConfig) -> None:
        # The first server to claim a name keeps it (nginx: "conflicting server name ...,
        # ignored").
        if name.startswith("~"):
            # nginx compiles server_name regexes caseless (host names are case-insensitive).
            self.regexes.append((re.compile(to_python(name[1:]), re.IGNORECASE), server))
        elif name.startswith("*."):
            self.head.setdefault(name[1:], server)
        elif name.startswith("."):
            self.head.setdefault(name, server)
            self.head.setdefault("=" + name[1:], server)  # ".x.com" also matches "x.com"
        elif name.endswith(".*"):
            self.tail.setdefault(name[:-1], server)
        else:
            self.exact.setdefault(name, server)

    def find(self, host: str) -> ServerConfig:
        found = self.exact.get(host)
        if found is not None:
            return found
        if host:
            found = self.head.get("=" + host)
            if found is None:
                found = self._longest_head(host)
            if found is None:
                found = self._longest_tail(host)
            if found is not None:
                return found
            for regex, server in self.regexes:
                if regex.search(host):
                    return server
        return self.default

    def _longest_head(self, host: str) -> ServerConfig | None:
        if not self.head:
            return None
        i = host.find(".")
        while i >= 0:
            found = self.head.get(host[i:])
            if found is not None:
                return found
            i = host.find(".", i + 1)
        return None

    def _longest_tail(self, host: str) -> ServerConfig | None:
        if not self.tail:
            return None
        i = host.rfind(".")
        while i >= 0:
            found = self.tail.get(host[: i + 1])
            if found is not None:
                return found
            i = host.rfind(".", 0, i)
        return None


def normalize_host(host: str | None) -> str:
    """Host header -> lookup key: lower-case, no port, no trailing dot."""
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    host = host.partition(":")[0]
    return host.rstrip(".")


def _wildcard(key: tuple[str, int]) -> tuple[str, int]:
    return (WILDCARD_V6 if ":" in key[0] else WILDCARD_V4, key[1])


class Router:
    """Routing tables for one `HttpConfig`; build once per configuration (re)load."""

    def __init__(self, http: HttpConfig) -> None:
        self.http = http
        by_key: dict[tuple[str, int], list[ServerConfig]] = {}
        defaults: dict[tuple[str, int], ServerConfig] = {}
        self._listens: dict[tuple[str, int], Listen] = {}
        for server in http.servers:
            for listen in server.listens:
                servers = by_key.setdefault(listen.key, [])
                if not any(s is server for s in servers):  # identity: configs compare deep
                    servers.append(server)
                if listen.default_server:
                    defaults.setdefault(listen.key, server)
                self._listens.setdefault(listen.key, listen)
                if listen.default_server:
                    self._listens[listen.key] = listen
        self._servers = by_key
        self._names = {key: _Names(servers, defaults.get(key, servers[0]))
                       for key, servers in by_key.items()}
        self._locations = {id(s): _Locations(s.locations) for s in http.servers}
        self._named = {(id(s), loc.path): loc for s in http.servers for loc in s.locations
                       if loc.modifier == "@"}
        self._cache: dict[tuple[int, str], LocationConfig | None] = {}

    def listen_sockets(self) -> list[Listen]:
        """The sockets to bind: a wildcard address covers the specific addresses of its
        port and family (nginx binds only `*:port` then, without the `bind` parameter)."""
        keys = self._listens
        return [listen for key, listen in keys.items()
                if key == _wildcard(key) or _wildcard(key) not in keys]

    def servers_for(self, listen_key: tuple[str, int]) -> list[ServerConfig]:
        """Servers reachable through a connection to `listen_key` (the socket's local
        address): those listening on that exact address, else on the wildcard of its port."""
        servers = self._servers.get(listen_key)
        if servers is None:
            servers = self._servers.get(_wildcard(listen_key), [])
        return servers

    def _names_for(self, listen_key: tuple[str, int]) -> _Names:
        names = self._names.get(listen_key) or self._names.get(_wildcard(listen_key))
        if names is None:
            raise KeyError(f"no server listens on {listen_key}")
        return names

    def find_server(self, listen_key: tuple[str, int], host: str | None) -> ServerConfig:
        """The virtual server for a request. A missing or empty Host is looked up as the
        name "" (every server without `server_name` has it; the first one claims it)."""
        return self._names_for(listen_key).find(normalize_host(host))

    def default_server(self, listen_key: tuple[str, int]) -> ServerConfig:
        """The default server of an addr:port: answers requests that fail before their Host
        is known (nginx's 400 for a malformed request line, for example)."""
        return self._names_for(listen_key).default

    def named_location(self, server: ServerConfig, name: str) -> LocationConfig | None:
        """`location @name` of `server` (for `error_page ... @name`); `name` includes "@"."""
        return self._named.get((id(server), name))

    def find_location(self, server: ServerConfig, path: str) -> LocationConfig | None:
        """The location for a normalized path (see `normalize_uri`), None when no location
        matches (the server's own settings apply then)."""
        key = (id(server), path)
        cache = self._cache
        try:
            return cache[key]
        except KeyError:
            pass
        table = self._locations.get(id(server))
        if table is None:  # a server object from another configuration
            table = self._locations[id(server)] = _Locations(server.locations)
        found, _ = table.find(path)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = found
        return found


def _percent_decode(path: str) -> str | None:
    if "%" not in path:
        return path
    i = path.find("%")
    while i >= 0:
        # A slice past the end is "", which is not a hex digit: a truncated escape.
        if path[i + 1 : i + 2] not in _HEX or path[i + 2 : i + 3] not in _HEX:
            return None
        i = path.find("%", i + 3)
    raw = unquote_to_bytes(path)
    if b"\x00" in raw:
        return None
    return raw.decode("utf-8", errors="surrogateescape")


def normalize_uri(raw_path: str, merge_slashes: bool = True) -> str | None:
    """nginx's ngx_http_parse_complex_uri: the decoded, normalized path, or None when the
    request is invalid (bad escape, NUL, not absolute, or `..` above the root: 400).
    `merge_slashes off` keeps empty segments ("//a" stays "//a")."""
    path = raw_path.partition("?")[0]
    if not path.startswith("/"):
        return None
    decoded = _percent_decode(path)
    if decoded is None:
        return None
    out: list[str] = []
    segments = decoded.split("/")
    for seg in segments[1:-1]:
        if seg == "." or (seg == "" and merge_slashes):
            continue  # merge_slashes on; "/./" is "/"
        if seg == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(seg)
    last = segments[-1] if len(segments) > 1 else ""
    trailing = True
    if last == "..":
        if not out:
            return None
        out.pop()
    elif last not in ("", "."):
        out.append(last)
        trailing = False
    result = "/" + "/".join(out)
    if trailing and out:
        result += "/"
    return result
