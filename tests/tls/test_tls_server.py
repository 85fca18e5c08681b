"""`listen ... ssl` end to end: a real `hotdeploy lb` (and a real nginx where its behaviour is
the point) on one configuration, with certificates made for the test."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import CertificateAuthority, Issued, fingerprint_of
from tlstools import (
    Proxy,
    client_context,
    conf,
    free_port,
    https_request,
    start_lb,
    start_nginx,
    wait_until,
)


def _sites(port: int, a: Issued, a_ec: Issued, b: Issued, extra_b: str = "") -> str:
    return conf(f"""
    log_format tls '$scheme $https $ssl_protocol $ssl_cipher "$ssl_server_name" $status';
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name a.test;
        access_log logs/access.log tls;
        ssl_certificate {a.cert};
        ssl_certificate_key {a.key};
        ssl_certificate {a_ec.cert};
        ssl_certificate_key {a_ec.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ return 200 "a $scheme $https $ssl_protocol [$ssl_server_name]"; }}
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name b.test *.b.test;
        access_log logs/access.log tls;
        ssl_certificate {b.cert};
        ssl_certificate_key {b.key};
        {extra_b}
        location / {{ return 200 "b $scheme $https $ssl_protocol [$ssl_server_name]"; }}
    }}""")


@pytest.fixture(scope="module")
def lb(tmp_path_factory: pytest.TempPathFactory, site_a: Issued, site_a_ec: Issued,
       site_b: Issued) -> Iterator[Proxy]:
    port = free_port()
    proxy = start_lb(tmp_path_factory.mktemp("lb"), _sites(port, site_a, site_a_ec, site_b),
                     port)
    yield proxy
    proxy.stop()


def test_handshake_and_request_over_tls(lb: Proxy, ca: CertificateAuthority,
                                        site_a: Issued) -> None:
    reply = https_request(lb.port, sni="a.test", ctx=client_context(ca.path))
    assert reply.status == 200
    assert reply.body == f"a https on {reply.version} [a.test]".encode()
    assert reply.version in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(("sni", "site"), [("a.test", "a"), ("b.test", "b"),
                                          ("www.b.test", "b"), ("B.TEST", "b")])
def test_sni_picks_the_certificate_of_the_named_server(lb: Proxy, sni: str, site: str,
                                                       site_a: Issued, site_a_ec: Issued,
                                                       site_b: Issued) -> None:
    expected = {"a": {site_a.fingerprint, site_a_ec.fingerprint},
                "b": {site_b.fingerprint}}[site]
    reply = https_request(lb.port, sni=sni)
    assert fingerprint_of(reply.cert_der or b"") in expected
    assert reply.body.startswith(site.encode())


def test_unknown_or_missing_sni_gets_the_default_servers_certificate(
        lb: Proxy, site_a: Issued, site_a_ec: Issued) -> None:
    defaults = {site_a.fingerprint, site_a_ec.fingerprint}
    for sni in ("unknown.test", None):
        reply = https_request(lb.port, sni=sni, host="a.test")
        assert fingerprint_of(reply.cert_der or b"") in defaults
        assert reply.body.startswith(b"a ")


def test_host_routing_stays_by_the_host_header(lb: Proxy) -> None:
    # nginx routes the request by Host, whatever name the handshake used.
    reply = https_request(lb.port, sni="a.test", host="b.test")
    assert reply.body == f"b https on {reply.version} [a.test]".encode()


@pytest.mark.parametrize(("ciphers", "site"), [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ec"), ("ECDHE-RSA-AES128-GCM-SHA256", "rsa")])
def test_rsa_and_ecdsa_certificates_are_both_served(lb: Proxy, ciphers: str, site: str,
                                                    site_a: Issued, site_a_ec: Issued) -> None:
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers=ciphers)
    reply = https_request(lb.port, sni="a.test", ctx=ctx)
    assert reply.status == 200
    expected = site_a_ec if site == "ec" else site_a
    assert fingerprint_of(reply.cert_der or b"") == expected.fingerprint
    assert reply.cipher == ciphers


def test_protocols_outside_ssl_protocols_are_refused(tmp_path: Path, site_a: Issued) -> None:
    port = free_port()
    proxy = start_lb(tmp_path, conf(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {site_a.cert};
        ssl_certificate_key {site_a.key};
        ssl_protocols TLSv1.3;
        location / {{ return 200 "$ssl_protocol"; }}
    }}"""), port)
    try:
        with pytest.raises(ssl.SSLError):
            https_request(port, ctx=client_context(maximum=ssl.TLSVersion.TLSv1_2))
        reply = https_request(port, ctx=client_context(minimum=ssl.TLSVersion.TLSv1_3))
        assert reply.body == b"TLSv1.3"
        assert wait_until(lambda: "SSL_do_handshake() failed" in proxy.error_log())
    finally:
        proxy.stop()


def test_variables_in_the_access_log(lb: Proxy) -> None:
    reply = https_request(lb.port, sni="b.test")
    line = f'https on {reply.version} {reply.cipher} "b.test" 200'
    assert wait_until(lambda: line in lb.access_log()), lb.access_log()


PLAIN_REQUEST = b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n"


def _plain_config(port: int, site: Issued, extra: str = "") -> str:
    return conf(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name a.test;
        ssl_certificate {site.cert};
        ssl_certificate_key {site.key};
        {extra}
        location / {{ return 200 "tls"; }}
    }}""")


@pytest.mark.parametrize("extra", ["", "error_page 497 https://$host:$server_port$uri;"])
def test_plain_http_on_an_ssl_port_is_answered_as_nginx_answers(tmp_path: Path,
                                                                site_a: Issued,
                                                                extra: str) -> None:
    replies = {}
    for kind, start in (("nginx", start_nginx), ("hotdeploy", start_lb)):
        port = free_port()
        proxy = start(tmp_path / kind, _plain_config(port, site_a, extra), port)
        try:
            replies[kind] = (https_request(port, raw_request=PLAIN_REQUEST, plain=True), port)
            # The port still speaks TLS afterwards.
            assert https_request(port, sni="a.test").body == b"tls"
        finally:
            proxy.stop()
    (nginx, nginx_port), (ours, our_port) = replies["nginx"], replies["hotdeploy"]
    assert ours.status == nginx.status
    assert ours.body.replace(b"hotdeploy", b"nginx/1.22.1") == nginx.body
    for name in ("content-type", "connection"):
        assert ours.headers.get(name) == nginx.headers.get(name), name
    assert (ours.headers.get("location", "").replace(str(our_port), "P")
            == nginx.headers.get("location", "").replace(str(nginx_port), "P"))
    if not extra:
        assert ours.status == 400
        assert b"The plain HTTP request was sent to HTTPS port" in ours.body


def _handshakes(port: int) -> dict[str, bool]:
    outcome = {}
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2,
                    ssl.TLSVersion.TLSv1_3):
        # The client offers every version at security level 0: what is refused is the
        # server's choice.
        ctx = client_context(minimum=version, maximum=version, ciphers="DEFAULT:@SECLEVEL=0")
        try:
            outcome[version.name] = https_request(port, ctx=ctx).status == 200
        except (ssl.SSLError, OSError):
            outcome[version.name] = False
    return outcome


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("protocols", ["", "ssl_protocols TLSv1.2 TLSv1.3;",
                                       "ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2;"])
def test_protocols_accepted_are_nginx_1_22s(tmp_path: Path, site_a: Issued,
                                            protocols: str) -> None:
    seen = {}
    for kind, start in (("nginx", start_nginx), ("hotdeploy", start_lb)):
        port = free_port()
        proxy = start(tmp_path / kind, conf(f"""
        server {{
            listen 127.0.0.1:{port} ssl;
            ssl_certificate {site_a.cert};
            ssl_certificate_key {site_a.key};
            {protocols}
            location / {{ return 200 "ok"; }}
        }}"""), port)
        try:
            seen[kind] = _handshakes(port)
        finally:
            proxy.stop()
    assert seen["hotdeploy"] == seen["nginx"]
    assert any(seen["nginx"].values())
