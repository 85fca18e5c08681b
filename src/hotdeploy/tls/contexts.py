"""`ssl.SSLContext`s built from the TLS settings, once per configuration load.

Built when the configuration is loaded (so `hotdeploy lb -t` reads every certificate and CA
file, as `nginx -t` does, and a reload with a broken certificate keeps the old
configuration). A reload builds new contexts: new connections handshake with them while
connections already open keep the SSL objects they have.

SNI (nginx's ngx_http_ssl_servername): each `listen ... ssl` address has a front context,
the default server's, whose servername callback looks the name up among the server names of
that address and switches the handshake to that server's context; a name that matches no
server, or a server without its own certificate, keeps the default server's. As with
OpenSSL's SSL_set_SSL_CTX in nginx, the switch changes the certificates; the protocol
versions, ciphers and the session cache stay those of the default server.
"""

from __future__ import annotations

import os
import ssl
import warnings
from collections.abc import Callable
from typing import Any

from hotdeploy.config.model import HttpConfig, ServerConfig
from hotdeploy.config.routing import Router
from hotdeploy.config.tls import ServerTls, UpstreamTls, ssl_default_servers
from hotdeploy.errors import ConfigError
from hotdeploy.tls import session_cache

ListenKey = tuple[str, int]

# ssl_protocols names -> OpenSSL versions (SSLv2 does not exist in OpenSSL 1.1+: ignored).
_VERSIONS: dict[str, ssl.TLSVersion] = {
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_NO_OPTIONS = {
    "SSLv3": ssl.OP_NO_SSLv3, "TLSv1": ssl.OP_NO_TLSv1, "TLSv1.1": ssl.OP_NO_TLSv1_1,
    "TLSv1.2": ssl.OP_NO_TLSv1_2, "TLSv1.3": ssl.OP_NO_TLSv1_3,
}

# The attribute the servername callback leaves on the SSL object: $ssl_server_name.
SERVER_NAME_ATTRIBUTE = "hotdeploy_server_name"


def _fopen_failure(path: str) -> str:
    # OpenSSL 3's text for a file it cannot open, as nginx prints it.
    return ("BIO_new_file() failed (SSL: error:80000002:system library::No such file or "
            f"directory:calling fopen({path}, r) error:10000080:BIO routines::no such file)")


def _resolve(path: str, conf_prefix: str) -> str:
    return path if os.path.isabs(path) else os.path.join(conf_prefix, path)


def set_protocols(ctx: ssl.SSLContext, protocols: tuple[str, ...]) -> None:
    """ssl_protocols / proxy_ssl_protocols: the lowest and highest named version bound the
    handshake; versions left out in between are switched off one by one (nginx sets
    SSL_OP_NO_* for each protocol not listed)."""
    named = [p for p in _ORDER if p in protocols]
    if not named:  # only SSLv2 listed: nothing OpenSSL can speak
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.options |= ssl.OP_NO_TLSv1_3
        return
    gaps = [p for p in _ORDER[_ORDER.index(named[0]):_ORDER.index(named[-1])]
            if p not in protocols]
    with warnings.catch_warnings():
        # TLSv1/TLSv1.1 and OP_NO_* are deprecated in Python, but they are what the
        # configuration asks for (whether OpenSSL then agrees is its security level's call).
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _VERSIONS[named[0]]
        ctx.maximum_version = _VERSIONS[named[-1]]
        for name in gaps:
            ctx.options |= _NO_OPTIONS[name]


def _set_ciphers(ctx: ssl.SSLContext, ciphers: str, file: str, line: int) -> None:
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError as exc:
        raise ConfigError(f'SSL_CTX_set_cipher_list("{ciphers}") failed (SSL: {exc.reason})',
                          file, line) from None


def _load_pair(ctx: ssl.SSLContext, cert: str, key: str, file: str, line: int) -> None:
    for path, what in ((cert, "certificate"), (key, "certificate key")):
        if not os.access(path, os.R_OK):
            raise ConfigError(f'cannot load {what} "{path}": {_fopen_failure(path)}',
                              file, line)
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f'SSL_CTX_use_PrivateKey("{key}") failed (SSL: key values '
                              "mismatch)", file, line) from None
        raise ConfigError(f'cannot load certificate "{cert}": PEM_read_bio_X509_AUX() failed '
                          f"(SSL: {exc.reason or exc})", file, line) from None


def server_context(tls: ServerTls, conf_prefix: str) -> ssl.SSLContext:
    """One server's context: every certificate/key pair (an RSA and an ECDSA pair live side by
    side; OpenSSL picks what the client supports), protocols, ciphers, sessions."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    first = tls.certificates[0]
    set_protocols(ctx, tls.protocols)
    _set_ciphers(ctx, tls.ciphers, first.file, first.line)
    if not tls.prefer_server_ciphers:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE  # Python sets it; nginx's default is off
    if not tls.session_tickets:
        ctx.options |= ssl.OP_NO_TICKET
        if tls.session_cache.mode != "on":
            ctx.num_tickets = 0  # TLSv1.3: no stateful tickets either (nothing to resume)
    if not session_cache.apply(ctx, tls.session_cache, tls.session_timeout):
        warnings.warn("ssl_session_cache and ssl_session_timeout are not applied: this Python's "
                      "ssl module does not expose OpenSSL's context (OpenSSL's defaults hold)",
                      RuntimeWarning, stacklevel=2)
    for pair in tls.certificates:
        _load_pair(ctx, _resolve(pair.cert, conf_prefix), _resolve(pair.key, conf_prefix),
                   pair.file, pair.line)
    return ctx


def _sni_callback(key: ListenKey, router: Router, contexts: dict[int, ssl.SSLContext],
                  default: ServerConfig) -> Callable[[Any, str | None, Any], None]:
    def pick(ssl_object: Any, server_name: str | None, front: Any) -> None:
        setattr(ssl_object, SERVER_NAME_ATTRIBUTE, server_name or "")
        if not server_name:
            return
        server = router.find_server(key, server_name)
        if server is default:
            return
        ctx = contexts.get(id(server))
        if ctx is not None:
            ssl_object.context = ctx
    return pick


def upstream_context(tls: UpstreamTls, conf_prefix: str) -> ssl.SSLContext:
    """The client context of `proxy_pass https://` locations with these settings."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the name is proxy_ssl_name, checked by tls.upstream
    file, line = tls.trusted_source
    if tls.verify:
        if not tls.trusted_certificate:
            raise ConfigError("no proxy_ssl_trusted_certificate for proxy_ssl_verify")
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if tls.trusted_certificate:
        path = _resolve(tls.trusted_certificate, conf_prefix)
        try:
            ctx.load_verify_locations(path)
        except (OSError, ssl.SSLError):
            raise ConfigError(f'SSL_CTX_load_verify_locations("{path}") failed (SSL: '
                              f"{_fopen_failure(path)})", file or None, line or None) from None
    set_protocols(ctx, tls.protocols)
    _set_ciphers(ctx, tls.ciphers, file, line)
    return ctx


class TlsContexts:
    """The contexts of one configuration generation."""

    def __init__(self) -> None:
        self.front: dict[ListenKey, ssl.SSLContext] = {}  # per `listen ... ssl` addr:port
        self.upstream: dict[UpstreamTls, ssl.SSLContext] = {}

    def for_connection(self, local: ListenKey, socket_key: ListenKey) -> ssl.SSLContext | None:
        """The context a connection to `local` (accepted on `socket_key`) starts with."""
        ctx = self.front.get(local)
        return ctx if ctx is not None else self.front.get(socket_key)

    @property
    def ssl_keys(self) -> frozenset[ListenKey]:
        return frozenset(self.front)


def _walk(locations: Any) -> Any:
    for location in locations:
        yield location
        yield from _walk(location.locations)


def load_contexts(http: HttpConfig | None, conf_prefix: str) -> TlsContexts | None:
    """Every context the configuration needs; None when it uses no TLS at all."""
    if http is None:
        return None
    result = TlsContexts()
    defaults = ssl_default_servers(http.servers)
    if defaults:
        router = Router(http)
        per_server = {id(server): server_context(server.tls, conf_prefix)
                      for server in http.servers if server.tls is not None}
        for key, default in defaults.items():
            assert default.tls is not None  # config.tls.check_ssl_listens
            front = server_context(default.tls, conf_prefix)
            front.sni_callback = _sni_callback(key, router, per_server, default)
            result.front[key] = front
    for server in http.servers:
        for location in _walk(server.locations):
            pp = location.proxy_pass
            if pp is not None and pp.tls is not None and pp.tls not in result.upstream:
                result.upstream[pp.tls] = upstream_context(pp.tls, conf_prefix)
    if not result.front and not result.upstream:
        return None
    return result
