"""config.addresses: the one host:port parser (config, state files, API, project files)."""

from __future__ import annotations

import pytest

from hotdeploy.config.addresses import parse_endpoint, parse_server_address, split_host_port


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", "8080")),
    ("[::1]:80", ("::1", "80")),
    ("[::1]", ("::1", None)),
    ("backend", ("backend", None)),
])
def test_split_host_port(text, expected):
    assert split_host_port(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.1", ("10.0.0.1", 80)),
    ("10.0.0.1:", ("10.0.0.1", 80)),
    ("10.0.0.2:81", ("10.0.0.2", 81)),
    ("[::1]:8083", ("::1", 8083)),
    ("[::1]", ("::1", 80)),
    ("::1", ("::1", 80)),  # the API takes a bare IPv6 address
])
def test_server_address(text, expected):
    assert parse_server_address(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", 'invalid address ""'),
    (":80", 'invalid address ":80"'),
    ("[::1", 'invalid address "[::1"'),
    ("[::1]x", 'invalid address "[::1]x"'),
    ("host:0", 'invalid port in "host:0"'),
    ("host:65536", 'invalid port in "host:65536"'),
    ("host:http", 'invalid port in "host:http"'),
])
def test_server_address_errors_use_nginx_wording(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_server_address(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),  # port 0: bind picks a free port
    ("8080", ("127.0.0.1", 8080)),
    (":8080", ("127.0.0.1", 8080)),
    ("[::1]:9000", ("::1", 9000)),
    ("localhost:1", ("localhost", 1)),
])
def test_endpoint(text, expected):
    assert parse_endpoint(text) == expected


def test_endpoint_default_host():
    assert parse_endpoint("81", default_host="0.0.0.0") == ("0.0.0.0", 81)


@pytest.mark.parametrize("text", ["", "host", "host:", "host:65536", "host:-1", "::1:80",
                                  "[::1]", "a b:80x"])
def test_endpoint_errors_name_the_text(text):
    with pytest.raises(ValueError, match="expected \"host:port\""):
        parse_endpoint(text)
