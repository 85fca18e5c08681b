"""limit_req_zone / limit_req / limit_conn_zone / limit_conn: the model they produce, nginx's
inheritance, and nginx's error texts (each compared with the real `nginx -t`)."""

from __future__ import annotations

import pytest

from hotdeploy.config.limits import NODELAY
from hotdeploy.config.model import LimitConn, LimitReq
from hotdeploy.errors import ConfigError

HEAD = "events {}\nhttp {\n"
ZONES = ("limit_req_zone $binary_remote_addr zone=one:10m rate=30r/m;\n"
         "limit_conn_zone $server_name zone=c:1m;\n")


def test_zones_rates_and_limits_in_the_model(conf):
    cfg = conf.load(HEAD + ZONES + """
        limit_req_zone $http_x_key zone=two:64k rate=5r/s;
        server { limit_req zone=one burst=5 nodelay; limit_req zone=two burst=3 delay=1;
                 limit_conn c 3; location / { } }
    }""")
    zones = cfg.http.limit_zones
    assert (zones["one"].kind, zones["one"].rate, zones["one"].size) == ("req", 500, 10 << 20)
    assert zones["two"].rate == 5000 and zones["two"].key.raw == "$http_x_key"
    assert zones["c"].kind == "conn"
    limits = cfg.http.servers[0].locations[0].settings.limits
    assert limits.reqs == (LimitReq("one", 5000, NODELAY), LimitReq("two", 3000, 1000))
    assert limits.conns == (LimitConn("c", 3),)
    assert (limits.req_status, limits.req_log_level, limits.req_dry_run) == (503, "error", False)


def test_limit_arrays_inherit_only_when_a_level_has_none(conf):
    cfg = conf.load(HEAD + ZONES + """
        limit_req_zone $uri zone=two:64k rate=1r/s;
        limit_req zone=one; limit_req_status 429; limit_conn_log_level info;
        server { location /a { } location /b { limit_req zone=two; limit_conn_dry_run on; } }
    }""")
    a, b = (loc.settings.limits for loc in cfg.http.servers[0].locations)
    assert [r.zone for r in a.reqs] == ["one"]
    assert [r.zone for r in b.reqs] == ["two"]
    assert a.req_status == b.req_status == 429
    assert a.conn_log_level == b.conn_log_level == "info"
    assert (a.conn_dry_run, b.conn_dry_run) == (False, True)


def test_zone_referenced_before_its_declaration_is_fine(conf):
    cfg = conf.load(HEAD + "server { limit_conn c 1; }\nlimit_conn_zone $uri zone=c:1m;\n}")
    assert cfg.http.servers[0].settings.limits.conns == (LimitConn("c", 1),)


ERRORS = [
    ("limit_req_zone $binary_remote_addr zone=one:10k rate=1r/s;",
     'zone "zone=one:10k" is too small'),
    ("limit_req_zone $binary_remote_addr zone=one:10m rate=1x/s;", 'invalid rate "rate=1x/s"'),
    ("limit_req_zone $binary_remote_addr zone=one:10m rate=0r/s;", 'invalid rate "rate=0r/s"'),
    ("limit_req_zone $binary_remote_addr zone=one rate=1r/s;", 'invalid zone size "zone=one"'),
    ("limit_req_zone $binary_remote_addr zone=one:10m;",
     'invalid number of arguments in "limit_req_zone" directive'),
    ("limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;\n"
     "limit_req_zone $remote_addr zone=one:10m rate=1r/s;",
     'limit_req_zone "one" is already bound to key "$binary_remote_addr"'),
    (ZONES + "server { limit_req zone=one; limit_req zone=one; }",
     '"limit_req" directive is duplicate'),
    (ZONES + "server { limit_req zone=one burst=0; }", 'invalid burst value "burst=0"'),
    (ZONES + "server { limit_req zone=one delay=x; }", 'invalid delay value "delay=x"'),
    (ZONES + "server { limit_req burst=3; }", '"limit_req" must have "zone" parameter'),
    (ZONES + "server { limit_req zone=one foo; }", 'invalid parameter "foo"'),
    ("limit_req_status 600;", "value must be between 400 and 599"),
    ("limit_req_status abc;", '"limit_req_status" directive invalid number'),
    ("limit_req_log_level debug;", 'invalid value "debug"'),
    ("limit_conn_dry_run maybe;",
     'invalid value "maybe" in "limit_conn_dry_run" directive, it must be "on" or "off"'),
    ("limit_conn_zone $binary_remote_addr zone=one:10m;\n"
     "limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;",
     'the shared memory zone "one" is already declared for a different use'),
    (ZONES + "server { limit_conn c 0; }", 'invalid number of connections "0"'),
    (ZONES + "server { limit_conn c 70000; }", "connection limit must be less 65536"),
    (ZONES + "server { limit_conn c 1; limit_conn c 2; }", '"limit_conn" directive is duplicate'),
    (ZONES + "server { limit_req zone=c; }",
     'the shared memory zone "c" is already declared for a different use'),
    ("limit_conn_zone $binary_remote_addr zone=one:10m;\n"
     "limit_conn_zone $binary_remote_addr zone=one:20m;",
     'the size 20971520 of shared memory zone "one" conflicts with already declared size '
     "10485760"),
    ("server { limit_req_zone $uri zone=one:10m rate=1r/s; }",
     '"limit_req_zone" directive is not allowed here'),
]


@pytest.mark.parametrize(("body", "message"), ERRORS)
def test_errors_name_the_line(conf, body, message):
    with pytest.raises(ConfigError) as info:
        conf.load(HEAD + body + "\n}\n")
    assert info.value.message == message
    assert info.value.line is not None


@pytest.mark.usefixtures("real_nginx")
@pytest.mark.parametrize(("body", "message"), ERRORS)
def test_errors_are_nginx_errors(conf, body, message):
    accepted, stderr = conf.nginx_t(HEAD + body + "\n}\n")
    assert not accepted
    assert message in stderr


def test_undeclared_zone_is_nginx_zero_size_zone(conf, real_nginx):
    text = HEAD + "server { limit_req zone=nope; }\n}\n"
    with pytest.raises(ConfigError) as info:
        conf.load(text)
    assert str(info.value) == 'zero size shared memory zone "nope"'
    accepted, stderr = conf.nginx_t(text)
    assert not accepted and 'zero size shared memory zone "nope"' in stderr
