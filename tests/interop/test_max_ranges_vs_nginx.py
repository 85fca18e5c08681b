"""`max_ranges` through real nginx and `hotdeploy lb` on one configuration: 0 turns byte
ranges off (no Accept-Ranges, a Range header ignored); N sends the whole file to a request
with more than N satisfiable ranges, and 416 still goes to one with none."""

from __future__ import annotations

from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /none/ { alias {prefix}/../www/; max_ranges 0; }
    location /one/ { alias {prefix}/../www/; max_ranges 1; }
    location /two/ { alias {prefix}/../www/; max_ranges 2; }
  }
}
"""

RANGES = ["", "bytes=0-1", "bytes=0-1,5-6", "bytes=0-1,5-6,9-10", "bytes=0-1,0-1",
          "bytes=9999-", "bytes=0-1,9999-", "bytes=-5"]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("max_ranges")
    (tmp / "www").mkdir()
    (tmp / "www" / "f.txt").write_bytes(bytes(range(256)) * 4)
    nginx, hotdeploy = p.pair(tmp, CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


@pytest.mark.parametrize("value", RANGES)
@pytest.mark.parametrize("location", ["/none/", "/one/", "/two/", "/"])
def test_max_ranges_as_nginx(proxies, location, value):
    nginx, hotdeploy = proxies
    header = f"Range: {value}\r\n" if value else ""
    raw = (f"GET {location}f.txt HTTP/1.1\r\nHost: t\r\n{header}"
           "Connection: close\r\n\r\n").encode()
    expected = p.exchange(nginx.port, raw)
    got = p.exchange(hotdeploy.port, raw)
    if expected[0].startswith(b"HTTP/1.1 416"):  # nginx's page names its version
        assert (got[0], got[1][:1]) == (expected[0], expected[1][:1])
        return
    assert got == expected
    if location == "/none/":
        assert expected[0] == b"HTTP/1.1 200 OK" and b"Accept-Ranges: bytes" not in expected[1]
