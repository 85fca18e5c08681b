"""Differential test: files, redirects and error pages from real nginx and from `hotdeploy lb`
on the same configuration and the same web root. Status line, every header in order (Server
and Date values aside), the body (gunzipped when compressed; the compressed bytes too for
files) must be the same. Host handling ($host from Host: case, trailing dot, port, invalid
hosts) is compared on the same pair of servers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import static_harness as h
from wire_harness import NGINX, free_port

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason=f"needs real nginx at {NGINX} (apt install nginx-light)")

MTIME = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_DATE = "Tue, 14 Nov 2023 22:13:20 GMT"
TAG_TXT = f'"{MTIME:x}-15"'  # a.txt: 21 bytes

CONFIG = """
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    include {mime};
    default_type application/octet-stream;
    gzip on;
    server {{
        listen 127.0.0.1:{port};
        server_name static.test;
        root {www};
        index index.html index.htm;
        add_header X-Static yes;
        location / {{ try_files $uri $uri/ =404; }}
        location /alias/ {{ alias {www}/dir/; }}
        location /named/ {{ try_files $uri @fallback; }}
        location @fallback {{ return 200 "fallback $uri\\n"; }}
        location /fallback-uri/ {{ try_files $uri /a.txt; }}
        location /fallback-code/ {{ try_files $uri =410; }}
        location /noetag/ {{ etag off; alias {www}/; }}
        location /ims-before/ {{ if_modified_since before; alias {www}/; }}
        location /ims-off/ {{ if_modified_since off; alias {www}/; }}
        location /types/ {{
            types {{ text/x-custom cst; }}
            default_type application/x-default;
            alias {www}/;
        }}
        location /charset/ {{ charset utf-8; alias {www}/; }}
        location /charset-return/ {{
            charset koi8-r;
            default_type text/plain;
            return 200 "text\n";
        }}
        location /relative/ {{ absolute_redirect off; alias {www}/; }}
        location /noport/ {{ port_in_redirect off; alias {www}/; }}
        location /sname/ {{ server_name_in_redirect on; alias {www}/; }}
        location /gz/ {{
            gzip_types text/plain;
            gzip_vary on;
            gzip_min_length 10;
            gzip_comp_level 6;
            alias {www}/;
        }}
        location /gzany/ {{ gzip_proxied any; alias {www}/; }}
        location /gzpriv/ {{ gzip_proxied private; alias {www}/; }}
        location /gznoetag/ {{ gzip_proxied no_etag; alias {www}/; }}
        location /quiet/ {{ log_not_found off; alias {www}/; }}
        location /idx/ {{ index missing.html /a.txt; alias {www}/dir/; }}
        location /errpage/ {{ error_page 404 /err/404.html; }}
        location /errpage-code/ {{ error_page 404 =200 /err/404.html; }}
        location /errpage-missing/ {{ error_page 404 /err/none.html; }}
        location /errpage-gz/ {{ gzip_vary on; error_page 404 /err/404.html; }}
        location /errpage-try/ {{ try_files $uri =404; error_page 404 /err/404.html; }}
        location /err/ {{ }}
        location /pathvars/ {{
            alias {www}/dir/;
            add_header X-Doc $document_root;
            add_header X-File $request_filename;
            add_header X-Real $realpath_root;
        }}
        location /rootvars/ {{
            root {www}/link/..;
            add_header X-Doc $document_root;
            add_header X-File $request_filename;
            add_header X-Real $realpath_root;
        }}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name host.test;
        location / {{ return 200 "host=$host\\n"; }}
    }}
}}
"""


def _webroot(www: Path) -> None:
    (www / "dir").mkdir(parents=True)
    (www / "noidx").mkdir()
    (www / "index.html").write_text("<html><body>" + "hello static world " * 20
                                    + "</body></html>\n")
    (www / "a.txt").write_text("0123456789abcdefghij\n")
    (www / "b.cst").write_text("custom type\n")
    (www / "UPPER.TXT").write_text("upper case extension\n")
    (www / "noext").write_text("no extension\n")
    (www / "dir" / "index.html").write_text("dir index\n")
    (www / "big.html").write_bytes(b"<p>" + bytes(range(32, 127)) * 4000 + b"</p>\n")
    (www / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (www / "empty.txt").write_bytes(b"")
    (www / "err").mkdir()
    (www / "err" / "404.html").write_text("<h1>custom not found page</h1>\n" * 3)
    (www / "link").symlink_to(www / "dir")
    (www / "rootvars").mkdir()
    (www / "rootvars" / "f.txt").write_text("root variables\n")
    for path in www.rglob("*"):
        os.utime(path, (MTIME, MTIME))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("static")
    www = tmp / "www"
    _webroot(www)
    running = []
    try:
        for kind in ("nginx", "hotdeploy"):
            port = free_port()
            prefix = tmp / kind
            prefix.mkdir()
            conf = prefix / "nginx.conf"
            conf.write_text(CONFIG.format(port=port, www=www,
                                          mime=h.FIXTURES / "debian-nginx" / "mime.types"))
            running.append(h.start(kind, prefix, conf, port))
        yield running[0], running[1]
    finally:
        for proc in running:
            proc.stop()


GET = "GET {} HTTP/1.1\nHost: static.test\n"
CASES: dict[str, str] = {
    "file": GET.format("/a.txt"),
    "head": "HEAD /a.txt HTTP/1.1\nHost: static.test\n",
    "http10": "GET /a.txt HTTP/1.0\n",
    "index": GET.format("/"),
    "dir_index": GET.format("/dir/"),
    "dir_no_slash": GET.format("/dir"),
    "dir_no_slash_args": GET.format("/dir?x=1&y=2"),
    "dir_no_slash_host_port": "GET /dir HTTP/1.1\nHost: Static.Test:8080\n",
    "dir_no_slash_http10_no_host": "GET /dir HTTP/1.0\n",
    "dir_forbidden": GET.format("/noidx/"),
    "not_found": GET.format("/nope.txt"),
    "not_found_dir": GET.format("/nodir/"),
    "quiet_not_found": GET.format("/quiet/nope"),
    "post_file": "POST /a.txt HTTP/1.1\nHost: static.test\nContent-Length: 3\n\nabc",
    "post_missing": "POST /nope HTTP/1.1\nHost: static.test\nContent-Length: 0\n",
    "put": "PUT /a.txt HTTP/1.1\nHost: static.test\nContent-Length: 0\n",
    "delete": "DELETE /a.txt HTTP/1.1\nHost: static.test\n",
    "alias": GET.format("/alias/index.html"),
    "alias_index": GET.format("/alias/"),
    "named_fallback": GET.format("/named/missing"),
    "named_found": GET.format("/named/../a.txt"),
    "fallback_uri": GET.format("/fallback-uri/missing?q=1"),
    "fallback_code": GET.format("/fallback-code/missing"),
    "index_absolute": GET.format("/idx/"),
    "types_custom": GET.format("/types/b.cst"),
    "types_default": GET.format("/types/noext"),
    "upper_ext": GET.format("/UPPER.TXT"),
    "no_ext": GET.format("/noext"),
    "empty": GET.format("/empty.txt"),
    "charset": GET.format("/charset/index.html"),
    "charset_other_type": GET.format("/charset/big.bin"),
    "charset_404_page": GET.format("/charset/nope"),
    "charset_return_text": GET.format("/charset-return/"),
    "relative_redirect": GET.format("/relative/dir"),
    "noport_redirect": GET.format("/noport/dir"),
    "sname_redirect": "GET /sname/dir HTTP/1.1\nHost: other.example\n",
    "noetag": GET.format("/noetag/a.txt"),
    # conditional requests
    "ims_exact": GET.format("/a.txt") + f"If-Modified-Since: {MTIME_DATE}\n",
    "ims_later": GET.format("/a.txt") + "If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT\n",
    "ims_later_before": GET.format("/ims-before/a.txt")
    + "If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT\n",
    "ims_earlier_before": GET.format("/ims-before/a.txt")
    + "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\n",
    "ims_off": GET.format("/ims-off/a.txt") + f"If-Modified-Since: {MTIME_DATE}\n",
    "ims_garbage": GET.format("/a.txt") + "If-Modified-Since: yesterday\n",
    "inm_match": GET.format("/a.txt") + f"If-None-Match: {TAG_TXT}\n",
    "inm_weak_list": GET.format("/a.txt") + f'If-None-Match: "x", W/{TAG_TXT}\n',
    "inm_star": GET.format("/a.txt") + "If-None-Match: *\n",
    "inm_other": GET.format("/a.txt") + 'If-None-Match: "other"\n',
    "inm_match_ims_old": GET.format("/a.txt") + f"If-None-Match: {TAG_TXT}\n"
    + "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\n",
    "if_match_ok": GET.format("/a.txt") + f"If-Match: {TAG_TXT}\n",
    "if_match_fail": GET.format("/a.txt") + 'If-Match: "nope"\n',
    "ius_ok": GET.format("/a.txt") + f"If-Unmodified-Since: {MTIME_DATE}\n",
    "ius_fail": GET.format("/a.txt") + "If-Unmodified-Since: Mon, 13 Nov 2023 00:00:00 GMT\n",
    "head_304": "HEAD /a.txt HTTP/1.1\nHost: static.test\n" + f"If-None-Match: {TAG_TXT}\n",
    # byte ranges
    "range_single": GET.format("/a.txt") + "Range: bytes=2-5\n",
    "range_open": GET.format("/a.txt") + "Range: bytes=10-\n",
    "range_suffix": GET.format("/a.txt") + "Range: bytes=-4\n",
    "range_suffix_large": GET.format("/a.txt") + "Range: bytes=-400\n",
    "range_past_end": GET.format("/a.txt") + "Range: bytes=5-1000\n",
    "range_unsatisfiable": GET.format("/a.txt") + "Range: bytes=50-\n",
    "range_garbage": GET.format("/a.txt") + "Range: bytes=abc\n",
    "range_reversed": GET.format("/a.txt") + "Range: bytes=5-2\n",
    "range_suffix_zero": GET.format("/a.txt") + "Range: bytes=-0\n",
    "range_overflow": GET.format("/a.txt") + "Range: bytes=99999999999999999999999-\n",
    "range_not_bytes": GET.format("/a.txt") + "Range: items=1-2\n",
    "range_empty_spec": GET.format("/a.txt") + "Range: bytes=\n",
    "range_spaces": GET.format("/a.txt") + "Range: bytes= 1 - 3 \n",
    "range_multi": GET.format("/a.txt") + "Range: bytes=0-1,4-5,-2\n",
    "range_multi_overlap_too_big": GET.format("/a.txt") + "Range: bytes=0-15,5-20\n",
    "range_zero_zero_empty_file": GET.format("/empty.txt") + "Range: bytes=0-0\n",
    "range_head": "HEAD /a.txt HTTP/1.1\nHost: static.test\nRange: bytes=1-2\n",
    "if_range_etag": GET.format("/a.txt") + f"Range: bytes=1-2\nIf-Range: {TAG_TXT}\n",
    "if_range_stale": GET.format("/a.txt") + 'Range: bytes=1-2\nIf-Range: "old"\n',
    "if_range_date": GET.format("/a.txt") + f"Range: bytes=1-2\nIf-Range: {MTIME_DATE}\n",
    "range_big_file": GET.format("/big.bin") + "Range: bytes=1000000-1000099\n",
    # gzip
    "gzip_html": GET.format("/index.html") + "Accept-Encoding: gzip, deflate\n",
    "gzip_big_html": GET.format("/big.html") + "Accept-Encoding: gzip\n",
    "gzip_not_accepted": GET.format("/index.html") + "Accept-Encoding: deflate\n",
    "gzip_q0": GET.format("/index.html") + "Accept-Encoding: gzip;q=0\n",
    "gzip_http10": "GET /index.html HTTP/1.0\nAccept-Encoding: gzip\n",
    "gzip_head": "HEAD /index.html HTTP/1.1\nHost: static.test\nAccept-Encoding: gzip\n",
    "gzip_type_not_listed": GET.format("/a.txt") + "Accept-Encoding: gzip\n",
    "gzip_types_vary": GET.format("/gz/a.txt") + "Accept-Encoding: gzip\n",
    "gzip_vary_not_accepted": GET.format("/gz/a.txt"),
    "gzip_below_min_length": GET.format("/gz/empty.txt") + "Accept-Encoding: gzip\n",
    "gzip_range_ignored": GET.format("/index.html") + "Accept-Encoding: gzip\nRange: bytes=0-3\n",
    "gzip_304": GET.format("/index.html")
    + f"Accept-Encoding: gzip\nIf-Modified-Since: {MTIME_DATE}\n",
    "gzip_via_off": GET.format("/index.html") + "Accept-Encoding: gzip\nVia: 1.1 cache\n",
    "gzip_via_any": GET.format("/gzany/index.html") + "Accept-Encoding: gzip\nVia: 1.1 cache\n",
    "gzip_via_private_file": GET.format("/gzpriv/index.html") + "Accept-Encoding: gzip\nVia: 1\n",
    "gzip_via_no_etag_file": GET.format("/gznoetag/index.html") + "Accept-Encoding: gzip\nVia: 1\n",
    "gzip_via_private_404": GET.format("/gzpriv/nope") + "Accept-Encoding: gzip\nVia: 1\n",
    "gzip_404_page": GET.format("/nope") + "Accept-Encoding: gzip\n",
    "gzip_403_page": GET.format("/noidx/") + "Accept-Encoding: gzip\n",
    "gzip_head_404": "HEAD /nope HTTP/1.1\nHost: static.test\nAccept-Encoding: gzip\n",
    # path variables
    "path_variables_alias": GET.format("/pathvars/index.html"),
    "path_variables_root": GET.format("/rootvars/f.txt"),
    # error_page answered from a file
    "error_page_file": GET.format("/errpage/nope"),
    "error_page_file_head": "HEAD /errpage/nope HTTP/1.1\nHost: static.test\n",
    "error_page_file_post": "POST /errpage/nope HTTP/1.1\nHost: static.test\n"
    "Content-Length: 0\n",
    "error_page_override": GET.format("/errpage-code/nope"),
    "error_page_missing": GET.format("/errpage-missing/nope"),
    "error_page_gzip": GET.format("/errpage-gz/nope") + "Accept-Encoding: gzip\n",
    "error_page_gzip_not_accepted": GET.format("/errpage-gz/nope"),
    "error_page_try_files": GET.format("/errpage-try/nope"),
    "error_page_ims": GET.format("/errpage/nope") + f"If-Modified-Since: {MTIME_DATE}\n",
    # host handling (the second server answers $host)
    "host_case_dot": "GET / HTTP/1.1\nHost: HOST.Test.\n",
    "host_port": "GET / HTTP/1.1\nHost: host.test:1234\n",
    "host_double_dot": "GET / HTTP/1.1\nHost: host..test\n",
    "host_slash": "GET / HTTP/1.1\nHost: host.test/x\n",
    "host_empty": "GET / HTTP/1.1\nHost: \n",
    "host_only_dot": "GET / HTTP/1.1\nHost: .\n",
    "host_ipv6": "GET / HTTP/1.1\nHost: [::1]:80\n",
    "host_absolute_uri": "GET http://HOST.test./ HTTP/1.1\nHost: other\n",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_response_as_nginx(pair, case):
    nginx, hotdeploy = pair
    head_only = CASES[case].startswith("HEAD")
    expected = h.parse(h.request(nginx.port, CASES[case]), nginx.port, head_only)
    got = h.parse(h.request(hotdeploy.port, CASES[case]), hotdeploy.port, head_only)
    assert got == expected


def test_big_file_is_sent_whole(pair):
    nginx, hotdeploy = pair
    expected = h.request(nginx.port, GET.format("/big.bin"))
    got = h.request(hotdeploy.port, GET.format("/big.bin"))
    assert len(got) > 3 * 1024 * 1024
    assert h.parse(got, hotdeploy.port) == h.parse(expected, nginx.port)


def test_error_log_lines_like_nginx(pair):
    """The lines a missing file and a forbidden directory leave, as nginx words them."""
    nginx, hotdeploy = pair
    for head in (GET.format("/alias/nope.txt"), GET.format("/noidx/"),
                 GET.format("/quiet/absent")):
        h.request(nginx.port, head)
        h.request(hotdeploy.port, head)
    for log in (nginx.error_log(), hotdeploy.error_log()):
        assert 'nope.txt" failed (2: No such file or directory)' in log
        assert 'noidx/" is forbidden' in log
        assert "absent" not in log  # log_not_found off


def test_path_variables_are_set(pair):
    """The differential cases above compare them; here: they are not empty."""
    _nginx, hotdeploy = pair
    got = h.parse(h.request(hotdeploy.port, GET.format("/rootvars/f.txt")), hotdeploy.port)
    headers = dict(got["headers"])
    assert headers["X-Doc"].endswith("/www/link/..")
    assert headers["X-File"].endswith("/www/link/../rootvars/f.txt")
    assert headers["X-Real"].endswith("/www")
