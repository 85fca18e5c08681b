"""The rewrite module and map as the configuration front-end models them, and the pure
evaluation of their scripts (proxy.rewrite) on a request double. What nginx does with the same
configurations over the network is compared in tests/interop/test_rewrite_vs_nginx.py."""

from __future__ import annotations

import pytest

from hotdeploy.config.loader import load_config
from hotdeploy.config.model import HttpConfig, ServerConfig
from hotdeploy.config.routing import Router
from hotdeploy.config.script import If, Rewrite, script_locations
from hotdeploy.proxy import rewrite as rw
from hotdeploy.proxy.request import Request


def _http(tmp_path, body: str, http: str = "") -> HttpConfig:
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"events {{}}\nhttp {{\n access_log off;\n {http}\n"
                    f" server {{ listen 127.0.0.1:8080;\n {body}\n }}\n}}\n")
    config = load_config(str(conf), str(tmp_path))
    assert config.http is not None
    return config.http


class _Runtime:
    def __init__(self, http: HttpConfig) -> None:
        self.maps = http.maps


def _request(http: HttpConfig, target: str, host: str = "") -> Request:
    req = Request("127.0.0.1", 5000, "127.0.0.1", 8080, 1, 1, 0.0)
    path, _, req.args = target.partition("?")
    req.path = req.raw_uri = path
    req.raw_uri = target
    req.host = host
    req.runtime = _Runtime(http)
    return req


def _run(http: HttpConfig, target: str, host: str = "") -> tuple[Request, rw.Outcome]:
    server = http.servers[0]
    router = Router(http)
    req = _request(http, target, host)
    req.server = server
    return req, rw.process(req, server, router.find_location, None)


def test_a_lone_return_keeps_the_plain_path(tmp_path):
    http = _http(tmp_path, "return 204; location / { return 200 x; }")
    server = http.servers[0]
    assert server.rewrites is None and server.return_ is not None
    assert server.locations[0].rewrites is None and server.locations[0].return_ is not None


def test_a_config_without_rewrite_directives_has_no_script(tmp_path):
    http = _http(tmp_path, "location / { proxy_pass http://127.0.0.1:9; }")
    assert http.servers[0].rewrites is None and http.servers[0].locations[0].rewrites is None
    assert http.maps == {}


def test_regex_location_return_reading_captures_takes_the_script(tmp_path):
    http = _http(tmp_path, 'location ~ ^/u/(\\d+)$ { return 200 "$1"; }')
    location = http.servers[0].locations[0]
    assert location.rewrites is not None and location.return_ is None
    req, out = _run(http, "/u/42")
    assert out.ret is not None and out.ret.code == 200 and out.ret.text.render(req) == "42"


def test_replacement_splits_at_its_first_literal_question_mark(tmp_path):
    http = _http(tmp_path, "location / { rewrite ^/(.*)$ /n/$1?a=$1&b last; }")
    op = http.servers[0].locations[0].rewrites.ops[0]
    assert isinstance(op, Rewrite) and op.args is not None and op.add_args
    assert op.uri.raw == "/n/$1" and op.args.raw == "a=$1&b"


def test_last_searches_again_and_counts_changes(tmp_path):
    http = _http(tmp_path, "location /a { rewrite ^/a(.*)$ /b$1 last; }\n"
                           "location /b { rewrite ^/b(.*)$ /c$1; set $x 1; }\n"
                           "location /c { return 200 c; }")
    req, out = _run(http, "/a/z?k=1")
    assert req.path == "/c/z" and req.args == "k=1" and req.vars == {"x": "1"}
    assert out.ret is None and out.location.path == "/c"  # its lone return answers
    assert req.uri_rewritten == rw.URI_CHANGED


def test_eleventh_uri_change_is_the_cycle_error(tmp_path):
    chain = "\n".join(f"location = /h{i} {{ rewrite ^ /h{i + 1} last; }}" for i in range(11))
    http = _http(tmp_path, chain + "\nlocation = /h11 { return 200 end; }")
    assert _run(http, "/h1")[1].status == 0
    assert _run(http, "/h0")[1].status == 500


def test_break_marks_the_uri_for_the_upstream_request(tmp_path):
    http = _http(tmp_path, "location / { rewrite ^ /x break; proxy_pass http://127.0.0.1:9/y/; }")
    req, out = _run(http, "/a?q=1")
    assert out.location is http.servers[0].locations[0] and out.ret is None
    assert (req.path, req.args, req.uri_rewritten) == ("/x", "q=1", rw.URI_CHANGED_BREAK)


def test_if_in_location_switches_to_its_implicit_location(tmp_path):
    http = _http(tmp_path, "location / { proxy_pass http://127.0.0.1:9;\n"
                           " if ($arg_h) { add_header X-If 1; } set $after 1; }")
    location = http.servers[0].locations[0]
    implicit = script_locations(location.rewrites)
    assert len(implicit) == 1 and implicit[0].proxy_pass == location.proxy_pass
    assert [h.name for h in implicit[0].settings.add_headers] == ["X-If"]
    req, out = _run(http, "/?h=1")
    assert out.location is implicit[0] and req.vars == {"after": "1"}  # later ops still ran
    _, out = _run(http, "/")
    assert out.location is location


def test_if_in_server_has_no_location(tmp_path):
    http = _http(tmp_path, "if ($arg_a) { set $s 1; } location / { return 200 ok; }")
    op = http.servers[0].rewrites.ops[0]
    assert isinstance(op, If) and op.location is None


@pytest.mark.parametrize(("value", "truth"), [("", False), ("0", False), ("00", True),
                                              ("1", True), ("no", True)])
def test_variable_truth(tmp_path, value, truth):
    http = _http(tmp_path, "location / { if ($arg_v) { return 200 yes; } return 200 no; }")
    req, out = _run(http, f"/?v={value}")
    assert out.ret.text.render(req) == ("yes" if truth else "no")


def test_file_tests(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    root = str(tmp_path)
    http = _http(tmp_path, "location / {\n"
                           f" if (-f {root}/$arg_p) {{ return 200 f; }}\n"
                           f" if (-d {root}/$arg_p) {{ return 200 d; }}\n"
                           f" if (!-e {root}/$arg_p) {{ return 200 none; }}\n"
                           " return 200 other; }")
    for name, expected in (("f", "f"), ("d", "d"), ("missing", "none")):
        req, out = _run(http, f"/?p={name}")
        assert out.ret.text.render(req) == expected


def test_named_captures_and_numbered_captures_of_the_last_match(tmp_path):
    http = _http(tmp_path, "location / { if ($uri ~ ^/(?<first>\\w+)/(\\w+)) {"
                           ' return 200 "$first $1 $2 $3"; } }')
    req, out = _run(http, "/one/two")
    assert out.ret.text.render(req) == "one one two "


MAP = """map $arg_k $m {
    hostnames;
    default dflt;
    example.com exact;
    .dot.com dot;
    *.star.com star;
    *.deep.star.com deeper;
    www.tail.* tail;
    ~^www\\.(?<rest>.+)$ regex-$rest;
    ~*^CASE(\\d)$ case$1;
}"""


@pytest.mark.parametrize(("key", "expected"), [
    ("example.com", "exact"), ("EXAMPLE.com", "exact"), ("example.com.", "exact"),
    ("dot.com", "dot"), ("a.dot.com", "dot"), ("a.star.com", "star"),
    ("x.deep.star.com", "deeper"), ("star.com", "dflt"), ("www.tail.org", "tail"),
    ("www.other.net", "regex-other.net"), ("case7", "case7"), ("nothing", "dflt"),
])
def test_map_priority(tmp_path, key, expected):
    http = _http(tmp_path, 'location / { return 200 "$m"; }', MAP)
    req = _request(http, f"/?k={key}")
    assert req.variable("m") == expected


def test_map_is_cached_per_request_unless_volatile(tmp_path):
    http = _http(tmp_path, "location / { return 200 x; }",
                 "map $uri $cached { default $uri; }\n map $uri $live { volatile; default $uri; }")
    req = _request(http, "/first")
    assert (req.variable("cached"), req.variable("live")) == ("/first", "/first")
    req.path = "/second"
    assert (req.variable("cached"), req.variable("live")) == ("/first", "/second")


def test_variables_declared_later_in_the_file_are_known(tmp_path):
    http = _http(tmp_path, 'location / { proxy_pass http://127.0.0.1:9; '
                           'proxy_set_header X-A "$late_map $late_set"; set $late_set 1; }',
                 "map $uri $late_map { default 1; }")
    assert http.servers[0].locations[0].rewrites is not None
    _http(tmp_path, 'location / { return 200 "$m2"; }', "map $uri $m2 { default 1; }")


def test_server_script_runs_before_location_search(tmp_path):
    http: HttpConfig = _http(tmp_path, "rewrite ^/old/(.*)$ /new/$1;\n"
                                       "location /new/ { return 200 new; }\n"
                                       "location /old/ { return 200 old; }")
    server: ServerConfig = http.servers[0]
    req, out = _run(http, "/old/x")
    assert out.location.path == "/new/" and req.path == "/new/x" and server.rewrites is not None


def test_map_include_reads_its_lines_from_a_file(tmp_path):
    (tmp_path / "keys.map").write_text("alpha 1;\n~^b(\\d)$ b$1;\n")
    http = _http(tmp_path, "location / { return 200 x; }",
                 "map $arg_k $inc { default none; include keys.map; }")
    assert _request(http, "/?k=alpha").variable("inc") == "1"
    assert _request(http, "/?k=b7").variable("inc") == "b7"
    assert _request(http, "/?k=zz").variable("inc") == "none"
