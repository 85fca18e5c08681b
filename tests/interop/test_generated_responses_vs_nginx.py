"""Responses the proxy makes itself, byte for byte against real nginx on one configuration:
`return CODE` for every code from 200 to 599 (status line, headers, page, whether the
connection stays open) and `error_page` into a location that proxies (a named location
keeps the method, a URI becomes a GET; `=CODE` sets the status, `=` keeps the upstream's;
what reaches the backend)."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CODES = [code for code in range(200, 600) if code != 444]  # 444: no response, tested apart

RETURN_CONF = ("events {}\nhttp { access_log off; server { listen 127.0.0.1:{port};\n"
               + "\n".join(f"location = /{code} {{ return {code}; }}" for code in CODES)
               + "\n} }\n")

ERROR_PAGE_CONF = """
events {}
http {
  log_format upstreams "$request_method $uri $status [$upstream_addr] [$upstream_status]";
  access_log logs/access.log upstreams;
  upstream fallback { server 127.0.0.1:{backend}; }
  upstream dead { server 127.0.0.1:1; }
  server {
    listen 127.0.0.1:{port};
    location /named/ { error_page 404 = @fallback; return 404; }
    location /named-code/ { error_page 404 =200 @fallback; return 404; }
    location /uri/ { error_page 404 /fallback/page?from=uri; return 404; }
    location /dead/ { proxy_pass http://dead; error_page 502 = @fallback; }
    location /dead-code/ { proxy_pass http://dead; error_page 502 =503 @fallback; }
    location /fallback/ { proxy_pass http://fallback; }
    location @fallback { proxy_pass http://fallback; }
  }
}
"""

# nginx's signature line carries its version (server_tokens on); ours names hotdeploy.
_SIGNATURE = re.compile(rb"<hr><center>[^<]*</center>")


# Sent after each request on the same connection: answered only if the connection stayed
# open, and it closes the connection either way, so no read waits for a timeout.
_PROBE = b"GET /200 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def _exchange(port: int, raw: bytes) -> tuple[bytes, dict[bytes, bytes], bytes, bool]:
    """(status line, headers but Date/Server, body, connection kept open) for `raw` on a
    new connection; `raw` without `Connection: close` is followed by _PROBE."""
    probe = b"connection: close" not in raw.lower()
    with socket.create_connection(("127.0.0.1", port), timeout=p.IO_TIMEOUT) as sock:
        sock.sendall(raw + (_PROBE if probe else b""))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.lower() not in (b"date", b"server"):
            headers[name.lower()] = value.strip()
    length = headers.pop(b"content-length", None)
    headers[b"content-length?"] = b"yes" if length is not None else b"no"
    if raw.startswith(b"HEAD") or lines[0][9:12] in (b"204", b"304"):
        body, after = b"", rest
    elif length is not None:
        body, after = rest[:int(length)], rest[int(length):]
    else:
        body, after = rest, b""
    kept_open = after.startswith(b"HTTP/1.1 200 ")
    return lines[0], headers, _SIGNATURE.sub(b"<hr><center>SIG</center>", body), kept_open


@pytest.fixture(scope="module")
def return_pair(tmp_path_factory):
    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("return"), RETURN_CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


@pytest.mark.parametrize("code", CODES)
def test_return_code_answers_as_nginx(return_pair, code):
    nginx, hotdeploy = return_pair
    raw = f"GET /{code} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    expected = _exchange(nginx.port, raw)
    if code == 304:
        # nginx writes `Content-Type: text/plain` and `Content-Length: 0` on a `return 304`;
        # we send the bare 304 head every other 304 has (RFC 9110 §15.4.5): documented.
        assert _exchange(hotdeploy.port, raw)[0] == expected[0]
        return
    assert _exchange(hotdeploy.port, raw) == expected


ERROR_PAGE_CASES = [(method, path) for path in
                    ("/named/x?a=1", "/named-code/y", "/uri/z", "/dead/q", "/dead-code/q")
                    for method in ("GET", "POST", "HEAD")]


@pytest.fixture(scope="module")
def error_page_pair(tmp_path_factory):
    def respond(head: bytes, port: int) -> bytes:
        body = b"seen " + head.split(b"\r\n")[0] + b"\n"
        return (b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body))

    nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("error_page"), ERROR_PAGE_CONF, respond)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


@pytest.mark.parametrize(("method", "path"), ERROR_PAGE_CASES)
def test_error_page_into_a_proxied_location_as_nginx(error_page_pair, method, path):
    nginx, hotdeploy = error_page_pair
    body = b"hello" if method == "POST" else b""
    raw = (f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    seen = []
    for proxy in (nginx, hotdeploy):
        before = len(proxy.backend.heads)
        answer = _exchange(proxy.port, raw)
        seen.append((answer, proxy.backend.heads[before:]))
    assert seen[1] == seen[0]
    (status, _, _, _), heads = seen[0]
    assert len(heads) == 1  # the fallback was asked once
    if path.startswith("/uri/"):
        assert heads[0].startswith(b"GET /fallback/page?from=uri " if method != "HEAD"
                                   else b"HEAD /fallback/page?from=uri ")
    else:
        assert heads[0].startswith(f"{method} {path.split('?')[0]}".encode())
    expected_status = {"/named/": b"201 Created", "/named-code/": b"200 OK",
                       "/uri/": b"404 Not Found", "/dead/": b"201 Created",
                       "/dead-code/": b"503 Service Temporarily Unavailable"}
    assert status.endswith(expected_status["/" + path.split("/")[1] + "/"])


def test_upstream_variables_group_attempts_across_the_error_page_redirect(error_page_pair):
    """$upstream_addr and $upstream_status of a request that failed on one upstream and was
    answered by the error_page's: `, ` within a group, ` : ` between them, as nginx logs."""
    lines = []
    for proxy in error_page_pair:
        log = proxy.prefix / "logs" / "access.log"
        before = log.read_text() if log.exists() else ""
        _exchange(proxy.port, b"GET /dead-code/log HTTP/1.1\r\nHost: t\r\n"
                              b"Connection: close\r\n\r\n")
        deadline = time.monotonic() + 2
        while (log.read_text() if log.exists() else "") == before and time.monotonic() < deadline:
            time.sleep(0.02)
        (line,) = log.read_text()[len(before):].splitlines()
        lines.append(re.sub(r"127\.0\.0\.1:(?!1\b)\d+", "127.0.0.1:PORT", line))
    assert lines[1] == lines[0]
    assert lines[0] == "GET /dead-code/log 503 [127.0.0.1:1 : 127.0.0.1:PORT] [502 : 201]"
