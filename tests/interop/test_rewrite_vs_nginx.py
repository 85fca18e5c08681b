"""Differential test of the rewrite module and map: each request of rewrite_cases goes through
real nginx and through `hotdeploy lb` with the same configuration, each to a recording backend
of its own. The status line, the Location header, the headers the locations add, the body of
generated responses and what reaches the backend (request line, headers) must be the same.

Normalized: the listening port (each proxy has its own) and the server token of error pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rewrite_cases as rc
import wire_harness as w

pytestmark = pytest.mark.skipif(not Path(w.NGINX).exists(),
                                reason=f"needs real nginx at {w.NGINX} (apt install nginx-light)")

_COMPARED_HEADERS = re.compile(rb"(?im)^(location|x-if|x-loc|x-tier|content-type):[^\r\n]*")
_SERVER_TOKEN = re.compile(rb"<center>(nginx/[0-9.]+|hotdeploy)</center>")


def _both(tmp, make_config):
    nginx = w.start("nginx", tmp, make_config)
    try:
        hotdeploy = w.start("hotdeploy", tmp, make_config)
    except Exception:
        nginx.stop()
        raise
    return nginx, hotdeploy


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    nginx, hotdeploy = _both(tmp_path_factory.mktemp("rewrite"), rc.config)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    nginx, hotdeploy = _both(tmp_path_factory.mktemp("example"), rc.example_config)
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


def _seen(proxy: w.Proxy, raw: bytes) -> dict[str, object]:
    base = w.outcome(proxy, raw)
    answer = w.exchange(proxy.port, raw)  # again, for the headers and the body
    proxy.backend.take()
    port = str(proxy.port).encode()
    head, _, body = answer.partition(b"\r\n\r\n")
    headers = sorted(m.group(0).lower().replace(b":" + port, b":PORT")
                     for m in _COMPARED_HEADERS.finditer(head))
    return {
        "status": base["status"],
        "headers": headers,
        "body": _SERVER_TOKEN.sub(b"<center>SERVER</center>", body),
        "upstream": [(u["line"], u["headers"]) for u in base["upstream"]],  # type: ignore[union-attr]
    }


@pytest.mark.parametrize("case", sorted(rc.CASES))
def test_same_answer_as_nginx(proxies, case):
    nginx, hotdeploy = proxies
    expected = _seen(nginx, rc.CASES[case])
    got = _seen(hotdeploy, rc.CASES[case])
    assert got == expected


@pytest.mark.parametrize("case", sorted(rc.EXAMPLE_CASES))
def test_documented_example_as_nginx(example, case):
    nginx, hotdeploy = example
    expected = _seen(nginx, rc.EXAMPLE_CASES[case])
    assert _seen(hotdeploy, rc.EXAMPLE_CASES[case]) == expected


def test_documented_example_says_what_the_docs_say(example):
    _, hotdeploy = example
    seen = _seen(hotdeploy, rc.EXAMPLE_CASES["old_link_redirected"])
    assert seen["status"] == "HTTP/1.1 301 Moved Permanently"
    assert b"location: http://localhost:PORT/v2/a?x=1" in seen["headers"]
    seen = _seen(hotdeploy, rc.EXAMPLE_CASES["v2_proxied_without_prefix"])
    line, headers = seen["upstream"][0]
    assert line == b"GET /a?x=1 HTTP/1.1" and b"X-Tier: free" in headers
    assert b"x-tier: free" in seen["headers"]
    _, headers = _seen(hotdeploy, rc.EXAMPLE_CASES["pro_key_mapped"])["upstream"][0]
    assert b"X-Tier: pro-acme" in headers


_LOGGED = {
    "rewrite_cycle_500": ['[error]', 'rewrite or internal redirection cycle while processing '
                          '"/loop", client: 127.0.0.1'],
    "uninitialized_set_variable": ['[warn]', 'using uninitialized "never" variable, client:'],
    "rewrite_log_location": ['[notice]', '"^/rlog/(.*)$" matches "/rlog/logged", client:',
                             'rewritten data: "/b/logged", args: "k=1", client:'],
}


@pytest.mark.parametrize("case", sorted(_LOGGED))
def test_error_log_lines_as_nginx_writes_them(proxies, case):
    for proxy in proxies:
        log_file = proxy.prefix / "logs" / "error.log"
        before = log_file.read_text() if log_file.exists() else ""
        w.exchange(proxy.port, rc.CASES[case])
        new = log_file.read_text()[len(before):]
        level, *texts = _LOGGED[case]
        for text in texts:
            assert any(level in line and text in line for line in new.splitlines()), \
                (proxy.name, text, new)


def test_no_warning_when_uninitialized_variable_warn_is_off(proxies):
    for proxy in proxies:
        w.exchange(proxy.port, rc.get("/nowarn"))
        assert "never2" not in (proxy.prefix / "logs" / "error.log").read_text(), proxy.name
