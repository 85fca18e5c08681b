"""TLS towards upstreams (`proxy_pass https://`), with nginx's proxy_ssl_* semantics.

- SNI only with `proxy_ssl_server_name on` (nginx's default is off), naming `proxy_ssl_name`.
- `proxy_ssl_verify on` checks the chain against `proxy_ssl_trusted_certificate` and the
  certificate's names against `proxy_ssl_name` (nginx checks the name whether SNI is sent or
  not, so the name check is ours, after the handshake, and not OpenSSL's, which would also
  send SNI).
- A failed handshake or verification is an upstream error: the next server is tried, then 502.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable
from typing import Any

from hotdeploy.config.addresses import is_ip
from hotdeploy.config.tls import UpstreamTls


class NameMismatch(ssl.SSLError):
    """The upstream's certificate does not name proxy_ssl_name."""


async def open_connection(loop: asyncio.AbstractEventLoop, factory: Callable[[], Any],
                          host: str, port: int, ctx: ssl.SSLContext,
                          tls: UpstreamTls) -> tuple[Any, Any]:
    """Connect and handshake (both within proxy_connect_timeout, as nginx bounds them)."""
    sni = tls.name if tls.server_name and not is_ip(tls.name) else None
    transport, conn = await loop.create_connection(
        factory, host, port, ssl=ctx, server_hostname=sni or "")
    if tls.verify:
        cert = transport.get_extra_info("peercert") or {}
        if not names_match(cert, tls.name):
            transport.abort()
            raise NameMismatch(f'upstream SSL certificate does not match "{tls.name}"')
    return transport, conn


def _dns_match(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        # RFC 6125 §6.4.3: a wildcard covers exactly one leftmost label.
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def names_match(cert: dict[str, Any], name: str) -> bool:
    """X509_check_host / X509_check_ip as nginx calls them: subjectAltName entries, and the
    subject's common name only when the certificate has no DNS names."""
    alt = cert.get("subjectAltName", ())
    if is_ip(name):
        wanted = ipaddress.ip_address(name)
        return any(kind == "IP Address" and ipaddress.ip_address(value.strip()) == wanted
                   for kind, value in alt)
    dns = [value for kind, value in alt if kind == "DNS"]
    if dns:
        return any(_dns_match(value, name) for value in dns)
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and _dns_match(value, name):
                return True
    return False


def failure_message(exc: BaseException) -> str | None:
    """nginx's error log text for a failed TLS connection to an upstream; None when the
    failure is not a TLS one (the caller says "connect() failed")."""
    if isinstance(exc, NameMismatch):
        return f"{exc.args[0]} while SSL handshaking to upstream"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"upstream SSL certificate verify error: ({exc.verify_code}:"
                f"{exc.verify_message}) while SSL handshaking to upstream")
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        return f"SSL_do_handshake() failed (SSL: {reason}) while SSL handshaking to upstream"
    return None
