"""ip_hash, hash and hash consistent choose exactly the server nginx chooses.

The expected letters were observed from a real nginx 1.22.1 (/usr/sbin/nginx) proxying to three
servers 127.0.0.1:19001 (a), :19002 weight=2 (b), :19003 (c), with clients bound to the listed
source addresses and `hash $arg_k [consistent]`; then again with b marked `down` (rehash path).
"""

from __future__ import annotations

import pytest

from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.group import PeerGroup

IPS = ["127.165.77.102", "127.24.37.211", "127.48.187.150", "127.29.109.10",
       "127.44.222.108", "127.35.123.24", "127.217.30.212", "127.63.114.162"]
KEYS = [f"key{i}" for i in range(8)]

NGINX = {
    ("ip_hash", False, False): "bbaccccb",
    ("ip_hash", False, True): "acacccca",
    ("hash", False, False): "cabbbbac",
    ("hash", False, True): "caccccac",
    ("hash", True, False): "bcbbcbab",
    ("hash", True, True): "ccacccaa",
}


def nginx_like_group(method: str, consistent: bool, b_down: bool) -> PeerGroup:
    servers = tuple(
        ServerSpec(f"127.0.0.1:{port}", "127.0.0.1", port, weight=weight,
                   down=b_down and port == 19002)
        for port, weight in ((19001, 1), (19002, 2), (19003, 1))
    )
    return PeerGroup(UpstreamConfig("u", servers, method=method, hash_consistent=consistent))


@pytest.mark.parametrize(("method", "consistent", "b_down"), list(NGINX))
def test_hash_methods_pick_the_server_nginx_picks(method, consistent, b_down):
    group = nginx_like_group(method, consistent, b_down)
    letters = []
    for i in range(8):
        attempt = Attempt(client_ip=IPS[i], hash_key=KEYS[i])
        peer = group.select(attempt, 0.0)
        letters.append("abc"[peer.spec.port - 19001])
        group.release(peer, False, 0.0)
    assert "".join(letters) == NGINX[(method, consistent, b_down)]
