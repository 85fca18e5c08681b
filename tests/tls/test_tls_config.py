"""`-t` on TLS configurations: the same verdicts and messages as `nginx -t` on the same file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from certs import Issued
from tlstools import conf, lb_test, nginx_test

from hotdeploy.config.loader import load_config
from hotdeploy.errors import ConfigError


def _nginx_emerg(text: str) -> str:
    """nginx's message without its timestamp/pid prefix (`nginx: [emerg]` or a log line)."""
    match = re.search(r"\[(?:emerg|warn)\] (?:\d+#\d+: )?(.*)", text)
    assert match, text
    return match.group(1).strip()


def _lb_emerg(text: str) -> str:
    match = re.search(r"\[emerg\] (.*)", text)
    assert match, text
    return match.group(1).strip()


def _both(tmp_path: Path, body: str) -> tuple[str, str]:
    config = conf(body)
    nginx = nginx_test(tmp_path / "nginx", config)
    result = lb_test(tmp_path / "lb", config)
    assert result.returncode == 1, result.stderr
    assert "test failed" in result.stderr
    return _nginx_emerg(nginx), _lb_emerg(result.stderr)


def test_missing_certificate_file_is_reported_as_nginx_does(tmp_path: Path,
                                                           site_a: Issued) -> None:
    missing = tmp_path / "missing.pem"
    nginx, lb = _both(tmp_path, f"""
    server {{
        listen 127.0.0.1:8443 ssl;
        ssl_certificate {missing};
        ssl_certificate_key {site_a.key};
    }}""")
    assert nginx.startswith(f'cannot load certificate "{missing}": BIO_new_file() failed')
    # Ours is nginx's message plus where the directive is (the project's rule for errors).
    assert lb == f"{nginx} in {tmp_path / 'lb' / 'nginx.conf'}:9"


def test_missing_key_file_is_reported_as_nginx_does(tmp_path: Path, site_a: Issued) -> None:
    missing = tmp_path / "missing.key"
    nginx, lb = _both(tmp_path, f"""
    server {{
        listen 127.0.0.1:8443 ssl;
        ssl_certificate {site_a.cert};
        ssl_certificate_key {missing};
    }}""")
    assert nginx.startswith(f'cannot load certificate key "{missing}"')
    assert lb.startswith(nginx)


def test_ssl_listen_without_certificate_names_the_server_block(tmp_path: Path) -> None:
    nginx, lb = _both(tmp_path, """
    server {
        listen 127.0.0.1:8443 ssl;
    }""")
    expected = 'no "ssl_certificate" is defined for the "listen ... ssl" directive in {}:7'
    assert nginx == expected.format(tmp_path / "nginx" / "nginx.conf")
    assert lb == expected.format(tmp_path / "lb" / "nginx.conf")


def test_invalid_protocol_is_refused_with_its_name(tmp_path: Path, site_a: Issued) -> None:
    nginx, lb = _both(tmp_path, f"""
    server {{
        listen 127.0.0.1:8443 ssl;
        ssl_certificate {site_a.cert};
        ssl_certificate_key {site_a.key};
        ssl_protocols TLSv1.2 TLSv9;
    }}""")
    assert nginx == f'invalid value "TLSv9" in {tmp_path / "nginx" / "nginx.conf"}:11'
    assert lb == f'invalid value "TLSv9" in {tmp_path / "lb" / "nginx.conf"}:11'


def test_verify_without_trusted_certificate_is_refused_as_nginx_does(tmp_path: Path) -> None:
    nginx, lb = _both(tmp_path, """
    server {
        listen 127.0.0.1:8080;
        location / {
            proxy_pass https://127.0.0.1:9443;
            proxy_ssl_verify on;
        }
    }""")
    assert nginx == lb == "no proxy_ssl_trusted_certificate for proxy_ssl_verify"


def test_a_valid_tls_configuration_passes_both(tmp_path: Path, site_a: Issued,
                                               site_a_ec: Issued, ca) -> None:  # type: ignore[no-untyped-def]
    config = conf(f"""
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 10m;
    ssl_session_tickets off;
    ssl_ciphers HIGH:!aNULL:!MD5;
    server {{
        listen 127.0.0.1:8443 ssl default_server;
        server_name a.test;
        ssl_certificate {site_a.cert};
        ssl_certificate_key {site_a.key};
        ssl_certificate {site_a_ec.cert};
        ssl_certificate_key {site_a_ec.key};
        location / {{
            proxy_pass https://127.0.0.1:9443;
            proxy_ssl_server_name on;
            proxy_ssl_name backend.test;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 2;
            proxy_ssl_trusted_certificate {ca.path};
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            proxy_ssl_session_reuse off;
        }}
    }}""")
    assert "test is successful" in nginx_test(tmp_path / "nginx", config)
    result = lb_test(tmp_path / "lb", config)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("param", ["http2", "quic"])
def test_http2_listen_is_refused_clearly(tmp_path: Path, param: str, site_a: Issued) -> None:
    result = lb_test(tmp_path, conf(f"""
    server {{
        listen 127.0.0.1:8443 ssl {param};
        ssl_certificate {site_a.cert};
        ssl_certificate_key {site_a.key};
    }}"""))
    assert result.returncode == 1
    assert f'"{param}" in the "listen" directive is not supported by hotdeploy' in result.stderr


def test_relative_certificate_paths_resolve_against_the_configuration_directory(
        tmp_path: Path, site_a: Issued) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "site.crt").write_bytes(site_a.cert.read_bytes())
    (tmp_path / "conf" / "site.key").write_bytes(site_a.key.read_bytes())
    path = tmp_path / "conf" / "nginx.conf"
    path.write_text(conf("""
    server {
        listen 127.0.0.1:8443 ssl;
        ssl_certificate site.crt;
        ssl_certificate_key site.key;
    }"""))
    config = load_config(str(path), str(tmp_path))
    assert config.tls is not None and ("127.0.0.1", 8443) in config.tls.front


def test_certificate_without_key_is_refused(tmp_path: Path, site_a: Issued) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(conf(f"""
    server {{
        listen 127.0.0.1:8443 ssl;
        ssl_certificate {site_a.cert};
    }}"""))
    with pytest.raises(ConfigError, match='no "ssl_certificate_key" is defined for certificate'):
        load_config(str(path), str(tmp_path))
