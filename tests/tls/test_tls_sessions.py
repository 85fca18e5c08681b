"""TLS session resumption under `ssl_session_cache`, `ssl_session_tickets` and
`ssl_session_timeout`: a client resumes (or not) through `hotdeploy lb` exactly as it does
through a real nginx on the same configuration, for TLS 1.2 and TLS 1.3."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest
from certs import Issued
from tlstools import TIMEOUT, client_context, conf, free_port, start_lb, start_nginx

VERSIONS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)


def _connect(port: int, ctx: ssl.SSLContext, session: ssl.SSLSession | None
             ) -> tuple[ssl.SSLSession | None, bool]:
    """One request on a new connection offering `session`: (the session to offer next time,
    whether this one was resumed). The whole response is read, so TLS 1.3 tickets, sent
    after the handshake, have arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as tcp, \
            ctx.wrap_socket(tcp, server_hostname="a.test", session=session) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        while tls.recv(4096):
            pass
        return tls.session, tls.session_reused


def _resumed(port: int, wait: float) -> dict[str, bool]:
    """Per TLS version: did a second connection resume the first one's session?"""
    outcome = {}
    for version in VERSIONS:
        ctx = client_context(minimum=version, maximum=version)
        session, _ = _connect(port, ctx, None)
        time.sleep(wait)
        _, reused = _connect(port, ctx, session)
        outcome[version.name] = reused
    return outcome


CASES = {
    "defaults (none, tickets on)": ("", 0.0),
    "none, tickets off": ("ssl_session_tickets off;", 0.0),
    "builtin cache, tickets off": ("ssl_session_cache builtin:100; ssl_session_tickets off;",
                                   0.0),
    "shared cache, tickets off": ("ssl_session_cache shared:S:1m; ssl_session_tickets off;",
                                  0.0),
    "off, tickets on": ("ssl_session_cache off;", 0.0),
    "off, tickets off": ("ssl_session_cache off; ssl_session_tickets off;", 0.0),
    "cache expired by ssl_session_timeout": (
        "ssl_session_cache builtin:100; ssl_session_tickets off; ssl_session_timeout 1s;", 2.2),
    "ticket expired by ssl_session_timeout": ("ssl_session_timeout 1s;", 2.2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_session_resumption_is_nginxs(tmp_path: Path, site_a: Issued, case: str) -> None:
    extra, wait = CASES[case]
    seen = {}
    for kind, start in (("nginx", start_nginx), ("hotdeploy", start_lb)):
        port = free_port()
        proxy = start(tmp_path / kind, conf(f"""
        server {{
            listen 127.0.0.1:{port} ssl;
            server_name a.test;
            ssl_certificate {site_a.cert};
            ssl_certificate_key {site_a.key};
            ssl_protocols TLSv1.2 TLSv1.3;  # nginx 1.22's default has no TLSv1.3
            {extra}
            location / {{ return 200 "ok"; }}
        }}"""), port)
        try:
            seen[kind] = _resumed(port, wait)
        finally:
            proxy.stop()
    assert seen["hotdeploy"] == seen["nginx"], case


def test_the_cache_really_resumes_and_really_expires(tmp_path: Path, site_a: Issued) -> None:
    """The comparison above could pass with both sides never resuming: pin the two outcomes
    a user relies on."""
    port = free_port()
    proxy = start_lb(tmp_path, conf(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {site_a.cert};
        ssl_certificate_key {site_a.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:S:1m;
        ssl_session_tickets off;
        ssl_session_timeout 1s;
        location / {{ return 200 "ok"; }}
    }}"""), port)
    try:
        assert _resumed(port, 0.0) == {"TLSv1_2": True, "TLSv1_3": True}
        assert _resumed(port, 2.2) == {"TLSv1_2": False, "TLSv1_3": False}
    finally:
        proxy.stop()
