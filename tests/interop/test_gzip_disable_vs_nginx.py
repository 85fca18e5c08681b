"""`gzip_disable` through real nginx and `hotdeploy lb` on one configuration: the msie6 mask
and case-insensitive User-Agent regexes turn gzip off for those clients only, on files and
on generated answers; the same bytes go out either way."""

from __future__ import annotations

from pathlib import Path

import pair_harness as p
import pytest

pytestmark = pytest.mark.skipif(not Path(p.NGINX).exists(), reason="needs real nginx")

CONF = """
events {}
http {
  access_log off;
  types { text/html html; }
  default_type text/html;
  gzip on;
  gzip_vary on;
  gzip_min_length 1;
  gzip_disable msie6 "^curl/\\d" "Bot[0-9]";
  server {
    listen 127.0.0.1:{port};
    root {prefix}/../www;
    location /text/ { return 200 "<html>compressible compressible compressible</html>"; }
  }
}
"""

AGENTS = {
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "msie6": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
    "msie6_sv1": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)",
    "msie55": "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)",
    "msie7": "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)",
    "opera_as_msie6": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) Opera 8.50",
    "curl": "curl/8.5.0",
    "curl_upper": "CURL/8.5.0",
    "not_at_start": "wget curl/8",
    "bot": "Somebot7/1.0",
    "none": "",
}


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gzip_disable")
    (tmp / "www").mkdir()
    (tmp / "www" / "page.html").write_text("<html>" + "a file worth compressing " * 20 + "</html>")
    nginx, hotdeploy = p.pair(tmp, CONF)
    yield nginx, hotdeploy
    nginx.stop()
    hotdeploy.stop()


def _get(port: int, path: str, agent: str) -> tuple[bytes, list[bytes], bytes]:
    ua = f"User-Agent: {agent}\r\n" if agent else ""
    raw = (f"GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n{ua}"
           "Connection: close\r\n\r\n").encode()
    return p.exchange(port, raw)


@pytest.mark.parametrize("agent", sorted(AGENTS))
@pytest.mark.parametrize("path", ["/page.html", "/text/"])
def test_gzip_disable_as_nginx(proxies, path, agent):
    nginx, hotdeploy = proxies
    expected = _get(nginx.port, path, AGENTS[agent])
    assert _get(hotdeploy.port, path, AGENTS[agent]) == expected
    compressed = b"Content-Encoding: gzip" in expected[1]
    assert compressed == (agent in ("firefox", "msie6_sv1", "msie7", "opera_as_msie6",
                                    "not_at_start", "none"))
