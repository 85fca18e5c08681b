"""proxy_pass with variables: an upstream group by name, a name resolved by `resolver` (a
real UDP DNS server on loopback, answers cached), resolution failures and a missing resolver
answered 502 with nginx's error-log lines, and the URI passed as specified."""

from __future__ import annotations

import httpx

from dns_server import DnsServer

CONF = """
events {}
http {
  upstream pool { server UP1; }
  map $http_x_target $target { default pool; ~(?<n>.+) $n; }
  server {
    listen LISTEN;
    access_log ACCESS_LOG;
    RESOLVER
    location / { proxy_pass http://$target; }
    location /port/ { proxy_pass http://$target:PORT2; }
    location /uri/ { proxy_pass http://$target:PORT2/fixed$is_args$args; }
    location /ip/ { proxy_pass http://127.0.0.1:PORT2$request_uri; }
  }
}
"""


def _conf(b1, b2, resolver):
    return dict(UP1=b1.address, PORT2=b2.port, RESOLVER=resolver)


async def test_host_naming_an_upstream_group_uses_it(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    lb = await balancer(CONF, **_conf(b1, b2, ""))
    async with httpx.AsyncClient(base_url=lb.url) as client:
        r = await client.get("/a?x=1")
        assert r.status_code == 200
    assert [s.target for s in b1.requests] == ["/a?x=1"]
    assert b1.requests[0].header("host") == "pool"
    assert b2.requests == []


async def test_name_resolved_by_resolver_and_cached(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        lb = await balancer(CONF, **_conf(b1, b2, f"resolver {dns_server.address};"))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            for _ in range(3):
                r = await client.get("/port/p", headers={"X-Target": "app.test"})
                assert r.status_code == 200
        assert dns_server.count("app.test", "A") == 1  # then the TTL keeps the answer
    assert [s.target for s in b2.requests] == ["/port/p"] * 3
    assert b2.requests[0].header("host") == f"app.test:{b2.port}"
    assert b1.requests == []


async def test_valid_overrides_the_ttl(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}, ttl=3600) as dns_server:
        resolver = f"resolver {dns_server.address} valid=0s ipv6=off;"
        lb = await balancer(CONF, **_conf(b1, b2, resolver))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            for _ in range(2):
                r = await client.get("/port/", headers={"X-Target": "app.test"})
                assert r.status_code == 200
        assert dns_server.count("app.test", "A") == 2
        assert dns_server.count("app.test", "AAAA") == 0  # ipv6=off asks only for A


async def test_unresolvable_name_is_502_with_nginx_log(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    with DnsServer({}) as dns_server:
        lb = await balancer(CONF, **_conf(b1, b2, f"resolver {dns_server.address};"))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            r = await client.get("/port/", headers={"X-Target": "nowhere.test"})
            again = await client.get("/port/", headers={"X-Target": "nowhere.test"})
        assert dns_server.count("nowhere.test", "A") == 1  # a failed answer is kept (10s)
    assert r.status_code == again.status_code == 502
    assert lb.error_log().count("nowhere.test could not be resolved") == 2
    assert "[error]" in lb.error_log()
    assert "nowhere.test could not be resolved (3: Host not found), client: 127.0.0.1" \
        in lb.error_log()


async def test_resolver_timeout_is_502(backends, balancer):
    import socket

    b1, b2 = await backends("b1", "b2")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # reads nothing, answers nothing
    silent.bind(("127.0.0.1", 0))
    try:
        resolver = f"resolver 127.0.0.1:{silent.getsockname()[1]}; resolver_timeout 300ms;"
        lb = await balancer(CONF, **_conf(b1, b2, resolver))
        async with httpx.AsyncClient(base_url=lb.url, timeout=5) as client:
            r = await client.get("/port/", headers={"X-Target": "slow.test"})
    finally:
        silent.close()
    assert r.status_code == 502
    assert "slow.test could not be resolved (110: Operation timed out)" in lb.error_log()


async def test_no_resolver_is_502_with_nginx_log(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    lb = await balancer(CONF, **_conf(b1, b2, ""))
    async with httpx.AsyncClient(base_url=lb.url) as client:
        r = await client.get("/port/", headers={"X-Target": "app.test"})
    assert r.status_code == 502
    assert "no resolver defined to resolve app.test, client: 127.0.0.1" in lb.error_log()


async def test_literal_ip_needs_no_resolver_and_uri_is_passed_as_written(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        lb = await balancer(CONF, **_conf(b1, b2, f"resolver {dns_server.address};"))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            assert (await client.get("/ip/a%20b?q=1")).status_code == 200
            r = await client.get("/uri/x/y?k=v", headers={"X-Target": "app.test"})
            assert r.status_code == 200
            r = await client.get("/uri/x/y", headers={"X-Target": "app.test"})
            assert r.status_code == 200
    # $request_uri as the client sent it; a URI part replaces the request URI completely
    assert [s.target for s in b2.requests] == ["/ip/a%20b?q=1", "/fixed?k=v", "/fixed"]


async def test_concurrent_requests_share_one_query(backends, balancer):
    import asyncio

    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        lb = await balancer(CONF, **_conf(b1, b2, f"resolver {dns_server.address};"))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            replies = await asyncio.gather(*(
                client.get(f"/port/{i}", headers={"X-Target": "app.test"}) for i in range(5)))
        assert [r.status_code for r in replies] == [200] * 5
        assert dns_server.count("app.test", "A") == 1
    assert sorted(s.target for s in b2.requests) == [f"/port/{i}" for i in range(5)]


async def test_request_body_reaches_a_resolved_name(backends, balancer):
    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        resolver = f"resolver {dns_server.address}; proxy_request_buffering off;"
        lb = await balancer(CONF, **_conf(b1, b2, resolver))
        async with httpx.AsyncClient(base_url=lb.url) as client:
            for body in (b"first body", b"second"):  # a query, then the cached answer
                r = await client.post("/port/b", content=body,
                                      headers={"X-Target": "app.test"})
                assert r.status_code == 200
    assert [s.body for s in b2.requests] == [b"first body", b"second"]


async def test_unbuffered_body_arriving_after_the_resolution(backends, balancer):
    import asyncio

    b1, b2 = await backends("b1", "b2")
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        resolver = f"resolver {dns_server.address}; proxy_request_buffering off;"
        lb = await balancer(CONF, **_conf(b1, b2, resolver))
        reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
        writer.write(b"POST /port/late HTTP/1.1\r\nHost: x\r\nX-Target: app.test\r\n"
                     b"Content-Length: 5\r\nConnection: close\r\n\r\nab")
        await asyncio.sleep(0.3)  # resolved and connected meanwhile
        writer.write(b"cde")
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert [s.body for s in b2.requests] == [b"abcde"]
