"""TLS settings (ngx_http_ssl_module, the proxy_ssl_* directives of ngx_http_proxy_module).

Pure: `config.tls_directives` records the directives, this module turns the merged values
into frozen settings, and `hotdeploy.tls.contexts` turns them into
`ssl.SSLContext`s when the configuration is loaded (so `-t` loads the certificates, as nginx
does). The values ride on nginx's ordinary inheritance: they are kept in a level's "srv."
scalars, which `settings.merge` carries down http -> server -> location (a level that writes
none of a directive inherits its parent's, arrays as a whole, as nginx merges them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotdeploy.errors import ConfigError

# nginx 1.22 defaults (ngx_http_ssl_module / ngx_http_proxy_module documentation).
DEFAULT_SSL_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2")  # TLSv1.3 joined the default in 1.23.4
DEFAULT_SSL_CIPHERS = "HIGH:!aNULL:!MD5"
DEFAULT_SSL_SESSION_TIMEOUT = 300.0  # 5m
DEFAULT_PROXY_SSL_CIPHERS = "DEFAULT"
DEFAULT_PROXY_SSL_VERIFY_DEPTH = 1
# The variables of ngx_http_ssl_module that hotdeploy evaluates (hotdeploy.tls.variables).
TLS_VARIABLE_NAMES = frozenset({"https", "ssl_protocol", "ssl_cipher", "ssl_server_name",
                                "ssl_session_reused"})
PROTOCOL_NAMES = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

@dataclass(frozen=True, slots=True)
class Certificate:
    """One `ssl_certificate` paired with the `ssl_certificate_key` of the same rank."""

    cert: str  # as written (relative: to the configuration prefix)
    key: str
    file: str = ""  # where ssl_certificate was written (for `cannot load certificate`)
    line: int = 0


@dataclass(frozen=True, slots=True)
class SessionCache:
    """`ssl_session_cache`: "none" (nginx's default: no cache, but the client is not told
    so), "off" (no cache, and the client is told), or a cache (builtin and/or shared:
    both become OpenSSL's per-context cache, see docs/configuration.md)."""

    mode: str = "none"  # "none" | "off" | "on"
    size: int = 0  # builtin:SIZE in sessions (0: OpenSSL's default)


@dataclass(frozen=True, slots=True)
class ServerTls:
    certificates: tuple[Certificate, ...]
    protocols: tuple[str, ...] = DEFAULT_SSL_PROTOCOLS
    ciphers: str = DEFAULT_SSL_CIPHERS
    prefer_server_ciphers: bool = False
    session_cache: SessionCache = SessionCache()
    session_timeout: float = DEFAULT_SSL_SESSION_TIMEOUT
    session_tickets: bool = True


@dataclass(frozen=True, slots=True)
class UpstreamTls:
    """TLS towards an upstream (`proxy_pass https://...`)."""

    name: str  # proxy_ssl_name: the host of proxy_pass unless set
    server_name: bool = False  # proxy_ssl_server_name: send SNI
    verify: bool = False
    verify_depth: int = DEFAULT_PROXY_SSL_VERIFY_DEPTH
    trusted_certificate: str = ""  # as written, "" = none
    trusted_source: tuple[str, int] = ("", 0)
    protocols: tuple[str, ...] = DEFAULT_SSL_PROTOCOLS
    ciphers: str = DEFAULT_PROXY_SSL_CIPHERS
    session_reuse: bool = True


# --- merged values -> settings ------------------------------------------------------------------


def server_tls(extra: dict[str, Any]) -> ServerTls | None:
    """The TLS settings of a server from its merged "srv." values; None without
    ssl_certificate (the `listen ... ssl` check is `missing_certificate`)."""
    certs = extra.get("ssl_certificate", ())
    if not certs:
        return None
    keys = extra.get("ssl_certificate_key", ())
    pairs = []
    for index, (cert, file, line) in enumerate(certs):
        if index >= len(keys):
            # nginx (ngx_http_ssl_merge_srv_conf): every certificate needs its key.
            raise ConfigError(f'no "ssl_certificate_key" is defined for certificate "{cert}"',
                              file, line)
        pairs.append(Certificate(cert, keys[index][0], file, line))
    return ServerTls(
        certificates=tuple(pairs),
        protocols=extra.get("ssl_protocols", DEFAULT_SSL_PROTOCOLS),
        ciphers=extra.get("ssl_ciphers", DEFAULT_SSL_CIPHERS),
        prefer_server_ciphers=extra.get("ssl_prefer_server_ciphers", False),
        session_cache=extra.get("ssl_session_cache", SessionCache()),
        session_timeout=extra.get("ssl_session_timeout", DEFAULT_SSL_SESSION_TIMEOUT),
        session_tickets=extra.get("ssl_session_tickets", True),
    )


def upstream_tls(extra: dict[str, Any], proxy_host: str) -> UpstreamTls:
    """The TLS settings of a `proxy_pass https://` location from its merged values."""
    host = proxy_host
    if host.startswith("["):
        host = host[1:host.find("]")]
    else:
        host = host.rpartition(":")[0] if host.count(":") == 1 else host
    trusted = extra.get("proxy_ssl_trusted_certificate", ("", "", 0))
    return UpstreamTls(
        name=extra.get("proxy_ssl_name", host),
        server_name=extra.get("proxy_ssl_server_name", False),
        verify=extra.get("proxy_ssl_verify", False),
        verify_depth=extra.get("proxy_ssl_verify_depth", DEFAULT_PROXY_SSL_VERIFY_DEPTH),
        trusted_certificate=trusted[0],
        trusted_source=(trusted[1], trusted[2]),
        protocols=extra.get("proxy_ssl_protocols", DEFAULT_SSL_PROTOCOLS),
        ciphers=extra.get("proxy_ssl_ciphers", DEFAULT_PROXY_SSL_CIPHERS),
        session_reuse=extra.get("proxy_ssl_session_reuse", True),
    )


def ssl_default_servers(servers: Any) -> dict[tuple[str, int], Any]:
    """Each `listen ... ssl` addr:port and its default server (the one marked
    default_server, else the first that listens there): the server whose certificate and
    protocols a handshake starts with."""
    ssl_keys = {listen.key for server in servers for listen in server.listens if listen.ssl}
    found: dict[tuple[str, int], Any] = {}
    for server in servers:
        for listen in server.listens:
            if listen.key not in ssl_keys:
                continue
            if listen.key not in found:
                found[listen.key] = server
            if listen.default_server:
                found[listen.key] = server  # at most one per addr:port (listen.py checks it)
    return found


def check_ssl_listens(servers: Any) -> None:
    """nginx (ngx_http_ssl_init): the default server of an ssl addr:port needs a
    certificate; the error names that server block."""
    for server in ssl_default_servers(servers).values():
        if server.tls is None:
            source = server.source
            raise ConfigError('no "ssl_certificate" is defined for the "listen ... ssl" '
                              f"directive in {source.file}:{source.line}")
