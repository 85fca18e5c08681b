"""Debian's stock nginx configuration (the files of the nginx-common package, in
fixtures/debian-nginx, with modules-enabled empty): `hotdeploy lb -t` accepts it, and the
default site is served as real nginx serves it from the same files.

The fixture's absolute paths (/etc/nginx, /var/www/html, /var/log/nginx, /run/nginx.pid) are
rewritten into a temporary directory and `listen 80` to a free loopback port; nothing else of
the files changes. One test also checks the machine's own /etc/nginx when there is one.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import static_harness as h
from wire_harness import NGINX, free_port

FIXTURE = h.FIXTURES / "debian-nginx"


def _install(tmp: Path, port: int | None) -> Path:
    """The stock tree under tmp/etc, the web root under tmp/www; returns nginx.conf."""
    etc = tmp / "etc"
    shutil.copytree(FIXTURE, etc, ignore=shutil.ignore_patterns("var-www-html"))
    www = tmp / "www"
    www.mkdir()
    shutil.copy(FIXTURE / "var-www-html" / "index.nginx-debian.html", www)
    (tmp / "logs").mkdir()
    replacements = {"/etc/nginx": str(etc), "/var/www/html": str(www),
                    "/var/log/nginx": str(tmp / "logs"), "/run/nginx.pid": str(tmp / "nginx.pid")}
    for path in (etc / "nginx.conf", etc / "sites-enabled" / "default"):
        text = path.read_text()
        for old, new in replacements.items():
            text = text.replace(old, new)
        if port is not None:
            text = text.replace("listen 80 default_server;",
                                f"listen 127.0.0.1:{port} default_server;")
            text = text.replace("listen [::]:80 default_server;", "")  # port 80: not ours
            # Workers that can read the temporary tree: the user running the test.
            text = re.sub(r"(?m)^user www-data;", f"user {getpass.getuser()};", text)
        path.write_text(text)
    return etc / "nginx.conf"


def _lb_test(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotdeploy", "lb", "-t", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def test_stock_configuration_passes_t(tmp_path):
    conf = _install(tmp_path, None)
    assert "user www-data;" in conf.read_text()
    proc = _lb_test(conf)
    assert proc.returncode == 0, proc.stderr
    assert f"configuration file {conf} test is successful" in proc.stderr


@pytest.mark.skipif(not Path("/etc/nginx/nginx.conf").exists(), reason="no /etc/nginx")
def test_this_machines_etc_nginx():
    """Passes as it is, unless modules-enabled loads a module: then the error names it."""
    proc = _lb_test(Path("/etc/nginx/nginx.conf"))
    loads = []
    for path in sorted(glob.glob("/etc/nginx/modules-enabled/*.conf")):
        loads += re.findall(r"(?m)^\s*load_module\s+(\S+);", Path(path).read_text())
    if not loads:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 1
    module = os.path.basename(loads[0]).removesuffix(".so")
    assert f'load_module "{loads[0]}"' in proc.stderr
    assert f'"{module}" cannot be loaded' in proc.stderr
    assert "/etc/nginx/modules-enabled/" in proc.stderr  # the file:line of the directive


@pytest.fixture(scope="module")
def stock_pair(tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.skip(f"needs real nginx at {NGINX}")
    running = []
    try:
        for kind in ("nginx", "hotdeploy"):
            tmp = tmp_path_factory.mktemp(f"debian-{kind}")
            port = free_port()
            conf = _install(tmp, port)
            www = tmp / "www"
            (www / "sub").mkdir()
            (www / "sub" / "page.html").write_text("<p>a page of the default site</p>\n")
            for path in [www, *www.rglob("*")]:
                os.utime(path, (1_700_000_000, 1_700_000_000))
            running.append(h.start(kind, tmp, conf, port))
        yield running[0], running[1]
    finally:
        for proc in running:
            proc.stop()


GET = "GET {} HTTP/1.1\nHost: localhost\n"
CASES = {
    "root": GET.format("/"),
    "root_head": "HEAD / HTTP/1.1\nHost: localhost\n",
    "root_gzip": GET.format("/") + "Accept-Encoding: gzip, deflate, br\n",
    "index_file": GET.format("/index.nginx-debian.html"),
    "index_html_missing": GET.format("/index.html"),
    "not_found": GET.format("/nope"),
    "not_found_gzip": GET.format("/nope") + "Accept-Encoding: gzip\n",
    "subdir_redirect": GET.format("/sub"),
    "subdir_no_index": GET.format("/sub/"),
    "page": GET.format("/sub/page.html"),
    "page_304": GET.format("/sub/page.html")
    + "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\n",
    "page_range": GET.format("/sub/page.html") + "Range: bytes=3-8\n",
    "encoded_path": GET.format("/sub/%70age.html"),
    "dot_segments": GET.format("/sub/../index.nginx-debian.html"),
    "http10": "GET / HTTP/1.0\n",
    "post": "POST / HTTP/1.1\nHost: localhost\nContent-Length: 0\n",
    "any_host": "GET / HTTP/1.1\nHost: WWW.Example.COM.\n",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_site_as_nginx_serves_it(stock_pair, case):
    nginx, hotdeploy = stock_pair
    head_only = CASES[case].startswith("HEAD")
    expected = h.parse(h.request(nginx.port, CASES[case]), nginx.port, head_only)
    got = h.parse(h.request(hotdeploy.port, CASES[case]), hotdeploy.port, head_only)
    assert got == expected


def test_access_log_written_where_the_stock_file_says(stock_pair):
    _nginx, hotdeploy = stock_pair
    h.request(hotdeploy.port, GET.format("/"))
    log = hotdeploy.prefix / "logs" / "access.log"
    assert '"GET / HTTP/1.1" 200' in log.read_text()
