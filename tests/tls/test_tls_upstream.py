"""`proxy_pass https://` with the proxy_ssl_* directives, through real nginx and through
`hotdeploy lb` on the same configuration to the same TLS backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import CertificateAuthority, Issued
from tlstools import TlsBackend, conf, free_port, start_lb, start_nginx
from tlstools import https_request as request


@pytest.fixture(scope="module")
def backend(localhost_cert: Issued) -> Iterator[TlsBackend]:
    server = TlsBackend("tls-backend", localhost_cert.cert, localhost_cert.key)
    yield server
    server.stop()


def _config(port: int, backend: TlsBackend, location: str) -> str:
    return conf(f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass https://localhost:{backend.port};
            {location}
        }}
    }}""")


def _through_both(tmp_path: Path, backend: TlsBackend, location: str) -> dict[str, tuple]:
    """(status, decoded JSON body or None) from nginx and from hotdeploy."""
    seen = {}
    for kind, start in (("nginx", start_nginx), ("hotdeploy", start_lb)):
        port = free_port()
        proxy = start(tmp_path / kind, _config(port, backend, location), port)
        try:
            reply = request(port, "/path?q=1", plain=True, host="front.test")
            body = json.loads(reply.body) if reply.status == 200 else None
            seen[kind] = (reply.status, body, proxy.error_log())
        finally:
            proxy.stop()
    return seen


def test_https_upstream_without_verification(tmp_path: Path, backend: TlsBackend) -> None:
    seen = _through_both(tmp_path, backend, "")
    assert seen["hotdeploy"][:2] == seen["nginx"][:2]
    status, body, _ = seen["hotdeploy"]
    assert status == 200
    # nginx's defaults: no SNI (proxy_ssl_server_name off), Host is $proxy_host.
    assert body["sni"] is None
    assert body["host"] == f"localhost:{backend.port}"
    assert body["line"] == "GET /path?q=1 HTTP/1.0"


def test_server_name_sends_proxy_ssl_name(tmp_path: Path, backend: TlsBackend) -> None:
    seen = _through_both(tmp_path, backend,
                         "proxy_ssl_server_name on; proxy_ssl_name localhost;")
    assert seen["hotdeploy"][:2] == seen["nginx"][:2]
    assert seen["hotdeploy"][1]["sni"] == "localhost"


def test_verify_with_the_right_ca_passes(tmp_path: Path, backend: TlsBackend,
                                        ca: CertificateAuthority) -> None:
    seen = _through_both(tmp_path, backend, f"proxy_ssl_verify on; "
                                            f"proxy_ssl_trusted_certificate {ca.path};")
    assert seen["hotdeploy"][:2] == seen["nginx"][:2]
    assert seen["hotdeploy"][0] == 200


def test_verify_with_another_ca_is_a_502_as_nginx(tmp_path: Path, backend: TlsBackend,
                                                  other_ca: CertificateAuthority) -> None:
    seen = _through_both(tmp_path, backend, f"proxy_ssl_verify on; "
                                            f"proxy_ssl_trusted_certificate {other_ca.path};")
    assert seen["nginx"][0] == seen["hotdeploy"][0] == 502
    assert "upstream SSL certificate verify error" in seen["nginx"][2]
    assert "upstream SSL certificate verify error" in seen["hotdeploy"][2]


def test_verify_of_a_name_the_certificate_lacks_is_a_502_as_nginx(
        tmp_path: Path, backend: TlsBackend, ca: CertificateAuthority) -> None:
    seen = _through_both(tmp_path, backend, f"proxy_ssl_verify on; proxy_ssl_name other.test; "
                                            f"proxy_ssl_trusted_certificate {ca.path};")
    assert seen["nginx"][0] == seen["hotdeploy"][0] == 502
    assert 'upstream SSL certificate does not match "other.test"' in seen["nginx"][2]
    assert 'upstream SSL certificate does not match "other.test"' in seen["hotdeploy"][2]
