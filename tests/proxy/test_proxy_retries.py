"""proxy_next_upstream through real sockets: what is retried, what is not, and the bounds."""

from __future__ import annotations

import httpx
from proxy_harness import refused_port

BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
               "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>hotdeploy</center>\r\n"
               "</body>\r\n</html>\r\n")

CONF = """
events {}
http {
  upstream backend { server UP1 max_fails=0; server UP2 max_fails=0; }
  server {
    listen LISTEN;
    location / { proxy_pass http://backend; NEXT }
  }
}
"""


def hang_up(backend, seen):
    return -1, [], b""  # read the request, close without answering


async def test_refused_backend_get_is_retried_on_the_other(backends, balancer):
    (good,) = await backends("good")
    lb = await balancer(CONF, UP1=f"127.0.0.1:{refused_port()}", UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            r = await client.get(lb.url)
            assert (r.status_code, r.text) == (200, "good")
    assert "connect() failed (111: Connection refused) while connecting to upstream" \
        in lb.error_log()


async def test_post_is_retried_after_connect_refusal(backends, balancer):
    (good,) = await backends("good")
    lb = await balancer(CONF, UP1=f"127.0.0.1:{refused_port()}", UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            assert (await client.post(lb.url, content=b"x")).status_code == 200


async def test_post_is_not_retried_once_sent(backends, balancer):
    (bad, good) = await backends(hang_up, "good")
    lb = await balancer(CONF, UP1=bad.address, UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        codes = [(await client.post(lb.url, content=b"x")).status_code for _ in range(2)]
    assert sorted(codes) == [200, 502]  # round robin: one went to the bad server, not retried
    assert len(bad.requests) == 1 and len(good.requests) == 1
    assert "upstream prematurely closed connection while reading response header from " \
        "upstream" in lb.error_log()


async def test_post_is_retried_with_non_idempotent(backends, balancer):
    (bad, good) = await backends(hang_up, "good")
    lb = await balancer(CONF, UP1=bad.address, UP2=good.address,
                        NEXT="proxy_next_upstream error timeout non_idempotent;")
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            assert (await client.post(lb.url, content=b"x")).status_code == 200


async def test_http_502_retried_only_when_listed(backends, balancer, tmp_path):
    (bad, good) = await backends(lambda b, s: (502, [], b"bad"), "good")
    lb = await balancer(CONF, UP1=bad.address, UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        codes = sorted([(await client.get(lb.url)).status_code for _ in range(2)])
    assert codes == [200, 502]  # not listed: the upstream's 502 is passed through


async def test_http_502_listed_is_retried(backends, balancer):
    (bad, good) = await backends(lambda b, s: (502, [], b"bad"), "good")
    lb = await balancer(CONF, UP1=bad.address, UP2=good.address,
                        NEXT="proxy_next_upstream error timeout http_502;")
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            assert (await client.get(lb.url)).text == "good"


async def test_tries_limit_bounds_attempts(backends, balancer):
    conf = CONF.replace("server UP2 max_fails=0;", "server UP2 max_fails=0; server UP3;")
    (a, b, c) = await backends(hang_up, hang_up, hang_up)
    lb = await balancer(conf, UP1=a.address, UP2=b.address, UP3=c.address,
                        NEXT="proxy_next_upstream_tries 2;")
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url)
    assert r.status_code == 502 and r.text == BAD_GATEWAY
    assert len(a.requests) + len(b.requests) + len(c.requests) == 2


async def test_all_servers_failing_gives_502_after_trying_each_once(backends, balancer):
    (a, b) = await backends(hang_up, hang_up)
    lb = await balancer(CONF, UP1=a.address, UP2=b.address, NEXT="")
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url)
    assert r.status_code == 502
    assert len(a.requests) == 1 and len(b.requests) == 1


async def test_read_timeout_is_504_with_nginx_log_line(backends, balancer):
    import asyncio

    async def slow(backend, seen):
        await asyncio.sleep(2)
        return 200, [], b"late"

    conf = CONF.replace("server UP2 max_fails=0;", "")
    (a,) = await backends(slow)
    lb = await balancer(conf, UP1=a.address, NEXT="proxy_read_timeout 200ms;")
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url)
    assert r.status_code == 504
    assert "<title>504 Gateway Time-out</title>" in r.text or \
        "<title>504 Gateway Timeout</title>" in r.text
    assert "upstream timed out (110: Connection timed out) while reading response header " \
        "from upstream" in lb.error_log()


async def test_next_upstream_timeout_bounds_retrying(backends, balancer):
    import asyncio

    async def slow(backend, seen):
        await asyncio.sleep(1)
        return 200, [], b"late"

    (a, b) = await backends(slow, slow)
    lb = await balancer(CONF, UP1=a.address, UP2=b.address,
                        NEXT="proxy_read_timeout 300ms; proxy_next_upstream_timeout 200ms;")
    async with httpx.AsyncClient() as client:
        r = await client.get(lb.url)
    assert r.status_code == 504
    assert len(a.requests) + len(b.requests) == 1  # the timeout budget was spent on the first


NO_LIVE = """
events {}
http {
  upstream backend {
    server UP1 max_fails=1 fail_timeout=30s;
    server UP2 max_fails=1 fail_timeout=30s;
  }
  server {
    listen LISTEN;
    location / { proxy_pass http://backend; }
  }
}
"""


async def test_no_live_upstreams_is_502_and_logged(balancer):
    lb = await balancer(NO_LIVE, UP1=f"127.0.0.1:{refused_port()}",
                        UP2=f"127.0.0.1:{refused_port()}")
    async with httpx.AsyncClient() as client:
        first = await client.get(lb.url)  # both fail: both marked unavailable
        second = await client.get(lb.url)
    assert first.status_code == 502 and second.status_code == 502
    assert second.text == BAD_GATEWAY
    assert "no live upstreams while connecting to upstream" in lb.error_log()


def head_then_die(backend, seen):
    # An instance killed between writing its head and its body (SIGKILL, OOM killer).
    return b"HTTP/1.1 200 OK\r\nContent-Length: 116\r\n\r\n" + b"x" * 10


def big_head_then_die(backend, seen):
    # A body larger than proxy_buffer_size: it streams to the client as it comes.
    return b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 20000


async def test_small_response_cut_after_its_head_is_retried_whole(backends, balancer):
    (bad, good) = await backends(head_then_die, "good")
    logged = CONF.replace("http {", "http { log_format t '$status $body_bytes_sent "
                                    "$upstream_status'; access_log ACCESS_LOG t;")
    lb = await balancer(logged, UP1=bad.address, UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            r = await client.get(lb.url)
            assert (r.status_code, r.text) == (200, "good")
    assert len(bad.requests) == 2  # round robin sent every other request there first
    assert "upstream prematurely closed connection while reading upstream" in lb.error_log()
    # The broken attempt shows in $upstream_status; what the client got is the whole retry.
    assert sorted(lb.access_log()) == ["200 4 200", "200 4 200", "200 4 502, 200",
                                       "200 4 502, 200"]


async def test_small_post_cut_after_its_head_is_a_502_not_a_truncated_body(backends, balancer):
    (bad, good) = await backends(head_then_die, "good")
    lb = await balancer(CONF, UP1=bad.address, UP2=good.address, NEXT="")
    async with httpx.AsyncClient() as client:
        codes = sorted([(await client.post(lb.url, content=b"x")).status_code
                        for _ in range(2)])
    assert codes == [200, 502]  # the server may have acted on the POST: not passed on


async def test_large_response_cut_midway_reaches_the_client_truncated(backends, balancer):
    (bad,) = await backends(big_head_then_die)
    lb = await balancer(CONF, UP1=bad.address, UP2=bad.address, NEXT="")
    async with httpx.AsyncClient() as client:
        try:
            await client.get(lb.url)
            raise AssertionError("a truncated response must not look complete")
        except httpx.RemoteProtocolError:
            pass
    assert len(bad.requests) == 1  # its head already went out: never retried
