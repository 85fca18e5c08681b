"""Serving files on real sockets: large files under flow control (a slow reader holds a
bounded buffer, a reader that leaves releases the file), pipelined and keep-alive requests
after a file, internal redirects from try_files to proxied and named locations, and the
redirect-cycle limit. (Responses themselves are compared with nginx in tests/interop.)"""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from proxy_harness import raw_exchange

pytestmark = pytest.mark.asyncio

BIG = 24 * 1024 * 1024

CONF = """
events {}
http {
    access_log ACCESS_LOG;
    upstream app { server BACKEND; }
    server {
        listen LISTEN;
        root WWW;
        location / { try_files $uri $uri/ @app; }
        location @app { proxy_pass http://app; }
        location /to-proxy/ { try_files $uri /api/fallback; }
        location /api/ { proxy_pass http://app; }
        location /loop/ { try_files $uri /loop/again; }
        location /vars/ { root WWW/$host; }
    }
}
"""


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    (root / "dir").mkdir(parents=True)
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (root / "small.txt").write_text("small\n")
    (root / "dir" / "index.html").write_text("index\n")
    (root / "h.example" / "vars").mkdir(parents=True)
    (root / "h.example" / "vars" / "f.txt").write_text("per host\n")
    return root


async def _start(balancer, backends, www):
    async def handler(backend, seen):
        return 200, [("Content-Type", "text/plain")], f"app {seen.target}\n".encode()

    (backend,) = await backends(handler)
    lb = await balancer(CONF, WWW=www, BACKEND=backend.address)
    return lb, backend


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_slow_reader_holds_a_bounded_buffer_and_gets_the_whole_file(
        balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port, limit=65536)
    writer.transport.set_write_buffer_limits(0)
    writer.write(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: %d" % BIG in head
    digest = hashlib.sha256()
    received = 0
    peak = 0
    while received < 2 * 1024 * 1024:  # read slowly for a while
        chunk = await reader.read(16384)
        digest.update(chunk)
        received += len(chunk)
        await asyncio.sleep(0.001)
        for conn in lb.tracker.connections:
            peak = max(peak, conn.transport.get_write_buffer_size())
    # The balancer holds at most its high-water mark plus one chunk for this client.
    assert peak <= 64 * 1024 + 64 * 1024 + 1024 * 1024
    while True:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        digest.update(chunk)
        received += len(chunk)
    writer.close()
    assert received == BIG
    assert digest.hexdigest() == hashlib.sha256((www / "big.bin").read_bytes()).hexdigest()


async def test_reader_that_leaves_releases_the_file(balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    before = _open_fds()
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
        writer.write(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readexactly(200_000)
        writer.transport.abort()
    await asyncio.sleep(0.3)
    assert _open_fds() <= before  # every file opened for them is closed
    assert not lb.tracker.connections
    # and the balancer still answers
    answer = await raw_exchange(lb.port, b"GET /small.txt HTTP/1.0\r\n\r\n")
    assert answer.endswith(b"\r\n\r\nsmall\n")


async def test_pipelined_requests_after_a_large_file_come_in_order(balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    requests = (b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /dir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await raw_exchange(lb.port, requests, timeout=20)
    first_end = answer.index(b"\r\n\r\n") + 4
    assert answer[first_end:first_end + BIG] == (www / "big.bin").read_bytes()
    rest = answer[first_end + BIG:]
    assert rest.startswith(b"HTTP/1.1 200 OK") and b"\r\n\r\nsmall\n" in rest
    assert rest.endswith(b"\r\n\r\nindex\n")
    assert rest.count(b"HTTP/1.1 200 OK") == 2


async def test_try_files_falls_back_to_a_named_proxied_location(balancer, backends, www):
    lb, backend = await _start(balancer, backends, www)
    answer = await raw_exchange(lb.port, b"GET /missing?a=1 HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"app /missing?a=1\n")  # the original URI goes upstream
    answer = await raw_exchange(lb.port, b"GET /small.txt HTTP/1.0\r\n\r\n")
    assert answer.endswith(b"small\n") and len(backend.requests) == 1


async def test_try_files_uri_fallback_redirects_to_another_location(balancer, backends, www):
    lb, backend = await _start(balancer, backends, www)
    answer = await raw_exchange(lb.port, b"GET /to-proxy/nothing?q=2 HTTP/1.0\r\n\r\n")
    assert answer.endswith(b"app /api/fallback?q=2\n")
    assert backend.requests[0].target == "/api/fallback?q=2"


async def test_internal_redirect_cycle_is_a_500(balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    answer = await raw_exchange(lb.port, b"GET /loop/x HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500 ")
    await asyncio.sleep(0.05)
    assert 'rewrite or internal redirection cycle while internally redirecting to ' \
           '"/loop/again"' in lb.error_log()


async def test_root_with_variables(balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    answer = await raw_exchange(lb.port, b"GET /vars/f.txt HTTP/1.0\r\nHost: H.example\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"per host\n")


async def test_keep_alive_connection_serves_files_back_to_back(balancer, backends, www):
    lb, _ = await _start(balancer, backends, www)
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    for _ in range(3):
        writer.write(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"Connection: keep-alive" in head
        assert await reader.readexactly(6) == b"small\n"
    writer.close()
    await asyncio.sleep(0.05)
    assert sum('"GET /small.txt HTTP/1.1" 200 6' in line for line in lb.access_log()) == 3
