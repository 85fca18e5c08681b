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

_COMPARED_HEADERS = re.compile(rb"(?im)^(location|x-if|x-loc):[^\r\n]*")
_SERVER_TOKEN = re.compile(rb"<center>(nginx/[0-9.]+|hotdeploy)</center>")


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rewrite")
    nginx = w.start("nginx", tmp, rc.config)
    try:
        hotdeploy = w.start("hotdeploy", tmp, rc.config)
    except Exception:
        nginx.stop()
        raise
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


def test_cycle_is_logged_as_nginx_does(proxies):
    _, hotdeploy = proxies
    w.exchange(hotdeploy.port, rc.CASES["rewrite_cycle_500"])
    log = (hotdeploy.prefix / "logs" / "error.log").read_text()
    assert 'rewrite or internal redirection cycle while processing "/loop"' in log
