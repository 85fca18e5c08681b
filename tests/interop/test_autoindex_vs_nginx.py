"""`autoindex on` through real nginx and through `hotdeploy lb` on one directory tree and one
configuration: the same status, headers, framing and bytes for every format and option
(html with exact and scaled sizes, local time and a utf-8 charset; xml; json; jsonp with
valid and refused callbacks), for HEAD, POST, HTTP/1.0, gzip, and the cases where no
listing is made (an index file, a missing directory, no trailing slash)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

OLD = 1704423845  # 2024-01-05 03:04:05 UTC
NAMES = ["a.txt", "Zed", "%41.txt", "sp ace.txt", "amp&lt<x>.html", 'b"q', "q?x", "a:b",
         "p+q", "semi;c", "tilde~", "back\\s", "brace{}", "ctl\tx", "L" * 50, "G" * 51,
         "é" * 55, "ü" * 49, "apo'", ".hidden"]
SIZES = {"k1023": 1023, "k10240": 10240, "k10752": 10752, "m1": 1 << 20,
         "m15": 1572864, "m-1": (1 << 20) - 1}
DIRS = ["sub", "dir two", "c:dir", "D" * 50, "&amp<dir>"]

CONF = """
error_log {prefix}/logs/error.log info;
events {}
http {
  access_log off;
  types { text/html html; }
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /d/ { autoindex on; }
    location /scaled/ { alias {prefix}/../www/d/; autoindex on; autoindex_exact_size off; }
    location /local/ { alias {prefix}/../www/d/; autoindex on; autoindex_localtime on; }
    location /utf/ { alias {prefix}/../www/d/; autoindex on; charset utf-8; }
    location /json/ { alias {prefix}/../www/d/; autoindex on; autoindex_format json; }
    location /xml/ { alias {prefix}/../www/d/; autoindex on; autoindex_format xml; }
    location /jsonp/ { alias {prefix}/../www/d/; autoindex on; autoindex_format jsonp; }
    location /gz/ {
      alias {prefix}/../www/d/; autoindex on; gzip on; gzip_min_length 1;
    }
    location /empty/ { autoindex on; }
    location /emptyjson/ { alias {prefix}/../www/empty/; autoindex on; autoindex_format json; }
    location /indexed/ { autoindex on; }
    location /off/ { alias {prefix}/../www/d/; }
  }
}
"""


def _tree(root: Path) -> None:
    listing = root / "d"
    listing.mkdir(parents=True)
    for name in NAMES:
        (listing / name).write_bytes(b"x" * len(name))
    for name, size in SIZES.items():
        with open(listing / name, "wb") as f:
            f.truncate(size)
    for name in DIRS:
        (listing / name).mkdir()
    (listing / "link").symlink_to("a.txt")
    (listing / "dangling").symlink_to("nowhere")
    os.mkfifo(listing / "pipe")
    for entry in listing.iterdir():
        os.utime(entry, (OLD, OLD), follow_symlinks=False)
    (root / "empty").mkdir()
    (root / "indexed").mkdir()
    (root / "indexed" / "index.html").write_text("the index\n")


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("autoindex")
    _tree(tmp / "www")
    nginx, hotdeploy = p.pair(tmp, CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


def _request(port: int, raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    """pair_harness.exchange without what differs by nature: the Location's port (each proxy
    has its own) and, on an error page, its length (nginx's signature names its version)."""
    status, headers, body = p.exchange(port, raw)
    signed = b"<hr><center>" in body
    headers = [re.sub(rb":\d+/", b":PORT/", line) for line in headers
               if not (signed and line.lower().startswith(b"content-length:"))]
    return status, headers, re.sub(rb"<hr><center>[^<]*</center>", b"SIGNATURE", body)


CASES = {
    "html": "GET /d/ HTTP/1.1",
    "html_subdir_title": "GET /d/dir%20two/ HTTP/1.1",
    "html_escaped_title": "GET /d/&amp%3Cdir%3E/ HTTP/1.1",
    "scaled_sizes": "GET /scaled/ HTTP/1.1",
    "localtime": "GET /local/ HTTP/1.1",
    "utf8_charset": "GET /utf/ HTTP/1.1",
    "json": "GET /json/ HTTP/1.1",
    "xml": "GET /xml/ HTTP/1.1",
    "jsonp_callback": "GET /jsonp/?callback=cb HTTP/1.1",
    "jsonp_dotted": "GET /jsonp/?callback=a.b_C9 HTTP/1.1",
    "jsonp_no_callback": "GET /jsonp/ HTTP/1.1",
    "jsonp_empty_callback": "GET /jsonp/?callback= HTTP/1.1",
    "jsonp_bad_callback": "GET /jsonp/?callback=bad( HTTP/1.1",
    "jsonp_escaped_callback": "GET /jsonp/?callback=%41b HTTP/1.1",
    "jsonp_128": f"GET /jsonp/?callback={'c' * 128} HTTP/1.1",
    "jsonp_129": f"GET /jsonp/?callback={'c' * 129} HTTP/1.1",
    "gzip": "GET /gz/ HTTP/1.1\r\nAccept-Encoding: gzip",
    "empty": "GET /empty/ HTTP/1.1",
    "empty_json": "GET /emptyjson/ HTTP/1.1",
    "head": "HEAD /d/ HTTP/1.1",
    "post": "POST /d/ HTTP/1.1\r\nContent-Length: 0",
    "http10": "GET /d/ HTTP/1.0",
    "index_file_wins": "GET /indexed/ HTTP/1.1",
    "missing_directory": "GET /d/none/ HTTP/1.1",
    "no_trailing_slash": "GET /d/sub HTTP/1.1",
    "autoindex_off": "GET /off/ HTTP/1.1",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_autoindex_answers_as_nginx(proxies, case):
    raw = f"{CASES[case]}\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    nginx, hotdeploy = proxies
    expected = _request(nginx.port, raw)
    assert _request(hotdeploy.port, raw) == expected
    if case == "html":  # the tree is listed at all: names, sizes, directories first
        body = expected[2]
        assert b'<a href="sub/">sub/</a>' in body and b".hidden" not in body
        assert body.index(b"sub/") < body.index(b"a.txt")


def test_refused_callbacks_are_logged_as_nginx(proxies):
    nginx, hotdeploy = proxies
    for proxy in (nginx, hotdeploy):
        _request(proxy.port, b"GET /jsonp/?callback=x-y HTTP/1.1\r\nHost: t\r\n"
                             b"Connection: close\r\n\r\n")
    found = [p.log_messages(proxy.error_log, "callback") for proxy in (nginx, hotdeploy)]
    assert found[0] and found[1] == found[0]
