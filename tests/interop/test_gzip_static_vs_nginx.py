"""`gzip_static on | always` through real nginx and `hotdeploy lb` on one tree and one
configuration: FILE.gz is sent as it is, with `Content-Encoding: gzip`, the .gz's own length,
time and ETag and no ranges, to the clients nginx sends it to; `Vary` where nginx adds it;
the uncompressed file (or the gzip filter) otherwise."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

OLD = 1704423845  # 2024-01-05 03:04:05 UTC

CONF = """
events {}
http {
  access_log off;
  types { text/plain txt; text/html html; }
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location / { gzip_static on; }
    location /vary/ { alias {prefix}/../www/; gzip_static on; gzip_vary on; }
    location /always/ { alias {prefix}/../www/; gzip_static always; gzip_vary on; }
    location /both/ {
      alias {prefix}/../www/; gzip_static on; gzip on; gzip_types text/plain;
      gzip_min_length 1;
    }
    location /off/ { alias {prefix}/../www/; }
  }
}
"""


def _tree(root: Path) -> None:
    root.mkdir()
    (root / "a.txt").write_text("hello world, hello world\n" * 4)
    (root / "a.txt.gz").write_bytes(gzip.compress((root / "a.txt").read_bytes(), mtime=0))
    (root / "b.txt").write_text("only plain\n")
    (root / "d.gz").mkdir()  # a directory named like the .gz of `d`
    (root / "d").write_text("d plain\n")
    for entry in root.iterdir():
        os.utime(entry, (OLD, OLD))


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gzip_static")
    _tree(tmp / "www")
    nginx, hotdeploy = p.pair(tmp, CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


GZ = "Accept-Encoding: gzip\r\n"
CASES = {
    "gz_served": ("GET /a.txt HTTP/1.1", GZ),
    "gz_head": ("HEAD /a.txt HTTP/1.1", GZ),
    "gz_range_ignored": ("GET /a.txt HTTP/1.1", GZ + "Range: bytes=0-3\r\n"),
    "gz_not_modified": ("GET /a.txt HTTP/1.1", GZ + "If-Modified-Since: "
                        "Fri, 05 Jan 2024 03:04:05 GMT\r\n"),
    "no_gzip_client": ("GET /a.txt HTTP/1.1", ""),
    "http10_client": ("GET /a.txt HTTP/1.0", GZ),
    "no_gz_file": ("GET /b.txt HTTP/1.1", GZ),
    "gz_is_a_directory": ("GET /d HTTP/1.1", GZ),
    "vary_gz_served": ("GET /vary/a.txt HTTP/1.1", GZ),
    "vary_plain_client": ("GET /vary/a.txt HTTP/1.1", ""),
    "vary_no_gz_file": ("GET /vary/b.txt HTTP/1.1", GZ),
    "vary_gz_directory": ("GET /vary/d HTTP/1.1", ""),
    "always_plain_client": ("GET /always/a.txt HTTP/1.1", ""),
    "always_http10": ("GET /always/a.txt HTTP/1.0", ""),
    "with_gzip_filter_gz": ("GET /both/a.txt HTTP/1.1", GZ),
    "with_gzip_filter_compresses": ("GET /both/b.txt HTTP/1.1", GZ),
    "off": ("GET /off/a.txt HTTP/1.1", GZ),
    "post": ("POST /a.txt HTTP/1.1", GZ + "Content-Length: 0\r\n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gzip_static_answers_as_nginx(proxies, case):
    line, headers = CASES[case]
    raw = f"{line}\r\nHost: t\r\n{headers}Connection: close\r\n\r\n".encode()
    nginx, hotdeploy = proxies
    expected = p.exchange(nginx.port, raw)
    got = p.exchange(hotdeploy.port, raw)
    if case == "post":  # nginx's 405 page carries its version in the signature
        assert got[0] == expected[0]
        return
    assert got == expected
    if case == "gz_served":
        assert b"Content-Encoding: gzip" in expected[1]
        assert gzip.decompress(expected[2]).startswith(b"hello world")
