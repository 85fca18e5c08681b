"""proxy_pass with variables through real nginx and `hotdeploy lb`, both resolving with the
same loopback DNS server: the request line and Host sent upstream, an upstream group picked by
name, and the 502s (with their error-log lines) of an unresolvable name and of no resolver."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pair_harness as p
import pytest

from dns_server import DnsServer

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    access_log off;
    upstream grp { server 127.0.0.1:{backend}; }
    server {
        listen 127.0.0.1:{port};
        resolver {dns} valid=60s ipv6=off;
        resolver_timeout 2s;
        location /var/ { proxy_pass http://$arg_h:{backend}; }
        location /fix/ { proxy_pass http://$arg_h:{backend}/fixed$is_args$args; }
        location /grp/ { proxy_pass http://$arg_g; }
        location /ip/ { proxy_pass http://127.0.0.1:{backend}$uri; }
    }
    server {
        listen 127.0.0.1:{port2};
        location / { proxy_pass http://$arg_h:{backend}; }
    }
}
"""

REQUESTS = [
    ("/var/a%20b?h=app.test", 200),
    ("/var/x/../y?h=APP.test", 200),
    ("/fix/one?h=app.test&k=v", 200),
    ("/fix/two?h=app.test", 200),
    ("/grp/z?g=grp", 200),
    ("/ip/c%2Fd?q=1", 200),
    ("/var/?h=nowhere.test", 502),
]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    with DnsServer({"app.test": ["127.0.0.1"]}) as dns_server:
        conf = CONF.replace("{dns}", dns_server.address)
        nginx, hotdeploy = p.pair(tmp_path_factory.mktemp("varpass"), conf)
        yield nginx, hotdeploy
        hotdeploy.stop()
        nginx.stop()


def _upstream_view(head: bytes, port: int) -> tuple[str, str]:
    lines = head.decode("latin-1").split("\r\n")
    host = next((line.split(":", 1)[1].strip() for line in lines[1:]
                 if line.lower().startswith("host:")), "")
    return lines[0], host.replace(f":{port}", ":BACKEND")


def _messages(proxy: p.Proxy, marker: str, count: int) -> list[str]:
    deadline = time.monotonic() + 3
    while True:
        found = p.log_messages(proxy.error_log, marker)
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # the request line and host differ only by the proxy's own port
    return [re.sub(r'host: "[^"]*"', 'host: "H"', m) for m in found]


def test_variable_proxy_pass_like_nginx(proxies):
    seen = {}
    for proxy in proxies:
        statuses = [p.get(proxy.port, path)[0] for path, _ in REQUESTS]
        statuses.append(p.get(proxy.extra["port2"], "/?h=app.test")[0])  # no resolver
        with proxy.backend.lock:
            heads = [_upstream_view(h, proxy.backend.port) for h in proxy.backend.heads]
        seen[proxy.name] = (statuses, heads,
                            _messages(proxy, "could not be resolved", 1),
                            _messages(proxy, "no resolver defined", 1))
    nginx, hotdeploy = seen["nginx"], seen["hotdeploy"]
    assert nginx[0] == [code for _, code in REQUESTS] + [502]
    assert hotdeploy[0] == nginx[0]
    assert hotdeploy[1] == nginx[1]
    assert len(nginx[2]) == 1 and "nowhere.test could not be resolved" in nginx[2][0]
    assert hotdeploy[2] == nginx[2]
    assert len(nginx[3]) == 1 and hotdeploy[3] == nginx[3]
