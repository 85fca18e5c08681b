"""Location and virtual-server selection, checked against nginx's documented order and,
when it is installed, against the real nginx answering the same configuration."""

import http.client
import socket
import subprocess
import time

import pytest

from hotdeploy.config.routing import Router, normalize_host, normalize_uri

LOCATIONS = """
        location = / { return 200 "exact-root"; }
        location / { return 200 "root"; }
        location /documents/ { return 200 "documents"; }
        location ^~ /images/ { return 200 "images"; }
        location ~* \\.(gif|jpg|jpeg)$ { return 200 "regex-img"; }
        location /app/ {
            location ~ \\.php$ { return 200 "nested-php"; }
            return 200 "app";
        }
        location ~ \\.php$ { return 200 "outer-php"; }
        location ^~ /static/ {
            location ~ \\.css$ { return 200 "static-css"; }
            return 200 "static";
        }
        location /a/ {
            location /a/b/ { return 200 "a-b"; }
            return 200 "a";
        }
        location ~ ^/a/b/c { return 200 "regex-abc"; }
        location = /exact { return 200 "exact"; }
        location /exact { return 200 "exact-prefix"; }
"""

SERVERS = """
    server { listen 127.0.0.1:{port}; server_name example.com www.example.com;
             return 200 "exact"; }
    server { listen 127.0.0.1:{port}; server_name *.example.com; return 200 "head-short"; }
    server { listen 127.0.0.1:{port}; server_name *.api.example.com; return 200 "head-long"; }
    server { listen 127.0.0.1:{port}; server_name www.example.*; return 200 "tail"; }
    server { listen 127.0.0.1:{port}; server_name "~^[a-z]+\\.regex\\.test$";
             return 200 "regex"; }
    server { listen 127.0.0.1:{port} default_server; server_name _; return 200 "default"; }
    server { listen 127.0.0.1:{port}; server_name .dot.test; return 200 "dot"; }
    server { listen 127.0.0.1:{port}; server_name uri.test; location / { return 200 "$uri"; } }
    server { listen 127.0.0.1:{port}; server_name locations.test;
{locations}
    }
"""

LOCATION_CASES = [
    ("/", "exact-root"),  # = wins
    ("/index.html", "root"),  # longest prefix, no regex matches
    ("/documents/doc.html", "documents"),
    ("/documents/pic.jpg", "regex-img"),  # a regex beats the longest prefix
    ("/images/pic.jpg", "images"),  # ^~ on the longest prefix stops the regex search
    ("/PIC.JPG", "regex-img"),  # ~* is case-insensitive
    ("/x.PHP", "root"),  # ~ is case-sensitive
    ("/x.php", "outer-php"),
    ("/app/x.php", "nested-php"),  # regexes nested in the longest prefix come first
    ("/app/x.html", "app"),
    ("/app/x.jpg", "regex-img"),  # no nested match: the outer regexes still apply
    ("/static/x.css", "static-css"),  # ^~ does not skip the regexes nested inside it
    ("/static/x.jpg", "static"),
    ("/a/x", "a"),
    ("/a/b/x", "a-b"),  # nested prefix
    ("/a/b/c", "regex-abc"),  # a nested prefix still lets the outer regexes run
    ("/exact", "exact"),
    ("/exactly", "exact-prefix"),
]

SERVER_CASES = [
    ("example.com", "exact"),
    ("WWW.Example.COM", "exact"),  # names compare case-insensitively
    ("example.com:8080", "exact"),  # the port is not part of the name
    ("www.example.com.", "exact"),  # nor is a trailing dot
    ("www.example.org", "tail"),  # exact beats trailing wildcard; trailing matches here
    ("a.example.com", "head-short"),
    ("x.api.example.com", "head-long"),  # the longest leading wildcard wins
    ("foo.regex.test", "regex"),
    ("dot.test", "dot"),  # ".dot.test" matches the name itself ...
    ("a.b.dot.test", "dot"),  # ... and every subdomain
    ("unknown.test", "default"),  # default_server, not the first server
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_text(port: int) -> str:
    servers = SERVERS.replace("{port}", str(port)).replace("{locations}", LOCATIONS)
    return "daemon off;\nmaster_process off;\nevents {}\nhttp {\n" + servers + "}\n"


@pytest.fixture(scope="module")
def port() -> int:
    return _free_port()


@pytest.fixture
def router(conf, port):
    text = _config_text(port).replace("master_process off;\n", "")
    cfg = conf.load(text)
    return Router(cfg.http)


def _answer(router, port, host, path):
    server = router.find_server(("127.0.0.1", port), host)
    if server.return_ is not None:
        return server.return_.text.raw
    location = router.find_location(server, normalize_uri(path))
    return location.return_.text.raw


@pytest.mark.parametrize(("path", "expected"), LOCATION_CASES)
def test_location_matching_order(router, port, path, expected):
    assert _answer(router, port, "locations.test", path) == expected


@pytest.mark.parametrize(("host", "expected"), SERVER_CASES)
def test_server_name_selection(router, port, host, expected):
    assert _answer(router, port, host, "/") == expected


def test_request_without_host_goes_to_the_default_server(router, port):
    assert _answer(router, port, None, "/") == "default"


def test_find_location_caches_but_stays_correct(router, port):
    server = router.find_server(("127.0.0.1", port), "locations.test")
    for _ in range(3):
        assert router.find_location(server, "/app/x.php").return_.text.raw == "nested-php"
        assert router.find_location(server, "/app/x.html").return_.text.raw == "app"


@pytest.fixture(scope="module")
def real_nginx_server(tmp_path_factory, port):
    import os
    import shutil

    nginx = "/usr/sbin/nginx"
    if not (os.path.exists(nginx) and shutil.which(nginx)):
        pytest.skip("real nginx not installed")
    root = tmp_path_factory.mktemp("nginx-routing")
    (root / "logs").mkdir()
    conf_path = root / "nginx.conf"
    conf_path.write_text(_config_text(port))
    proc = subprocess.Popen([nginx, "-p", f"{root}/", "-e", "stderr", "-c", str(conf_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"nginx did not start: {proc.stderr.read()!r}")
    yield port
    proc.terminate()
    proc.wait(timeout=5)


def _ask_nginx(port, host, path, status=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return (response.status, body) if status else body


def test_real_nginx_agrees_on_every_case(real_nginx_server, router):
    port = real_nginx_server
    for path, expected in LOCATION_CASES:
        assert _ask_nginx(port, "locations.test", path) == expected, path
        assert _answer(router, port, "locations.test", path) == expected, path
    for host, expected in SERVER_CASES:
        assert _ask_nginx(port, host, "/") == expected, host


NORMALIZE_CASES = [
        ("/", "/"), ("/a/b", "/a/b"), ("/a/b/", "/a/b/"), ("//a///b", "/a/b"),
        ("/a/./b", "/a/b"), ("/a/.", "/a/"), ("/a/b/../c", "/a/c"), ("/a/..", "/"),
        ("/a%20b", "/a b"), ("/%61pp/x", "/app/x"), ("/a%2Fb", "/a/b"),
        ("/a/%2e%2e/b", "/b"), ("/a?x=/../..", "/a"), ("/caf%C3%A9", "/café"),
]
INVALID_URIS = ["/..", "/a/../../b", "/%2e%2e/x", "/a%zz", "/a%2", "/a%", "/a%00b", "relative",
                ""]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE_CASES)
def test_normalize_uri(raw, expected):
    assert normalize_uri(raw) == expected


@pytest.mark.parametrize("raw", INVALID_URIS)
def test_normalize_uri_rejects_what_nginx_answers_400(raw):
    assert normalize_uri(raw) is None


def test_real_nginx_normalizes_uris_the_same_way(real_nginx_server):
    port = real_nginx_server
    for raw, expected in NORMALIZE_CASES:
        assert _ask_nginx(port, "uri.test", raw, status=True) == (200, expected), raw
    for raw in INVALID_URIS:
        if raw.startswith("/"):  # http.client cannot send the others
            assert _ask_nginx(port, "uri.test", raw, status=True)[0] == 400, raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ""), ("", ""), ("Example.COM", "example.com"), ("a.b:81", "a.b"),
     ("[::1]:8080", "[::1]"), ("x.y.", "x.y")],
)
def test_normalize_host(raw, expected):
    assert normalize_host(raw) == expected


def test_server_name_regex_accepts_pcre_named_groups(conf):
    cfg = conf.load('events {}\nhttp { server { listen 8300; server_name "~^(?<sub>[a-z]+)\\.t$";'
                    ' return 200 "re"; } server { listen 8300 default_server; } }\n')
    router = Router(cfg.http)
    # (The capturing server's `return` runs in its script, which sets $sub first.)
    assert router.find_server(("0.0.0.0", 8300), "abc.t") is cfg.http.servers[0]
    assert router.find_server(("0.0.0.0", 8300), "1.t") is cfg.http.servers[1]


def test_named_locations_are_found_by_name_only(conf):
    cfg = conf.load("events {}\nhttp { server { listen 8301;\n"
                    " location @fallback { return 503; }\n location /x { return 200; } } }\n")
    router = Router(cfg.http)
    server = cfg.http.servers[0]
    assert router.named_location(server, "@fallback").return_.code == 503
    assert router.find_location(server, "/@fallback") is None
    assert router.find_location(server, "/y") is None  # no location: server settings apply
