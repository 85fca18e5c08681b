"""http -> server -> location merging, as nginx merges its configuration levels."""

import pytest

from hotdeploy.errors import ConfigError

CONFIG = """
events {}
http {
    add_header X-Http h;
    proxy_set_header X-Real-IP $remote_addr;
    client_max_body_size 2m;
    proxy_read_timeout 30s;
    allow 10.0.0.0/8;
    deny all;
    keepalive_timeout 10s 8s;
    upstream b { server 127.0.0.1:9000; }
    server {
        listen 127.0.0.1:8080;
        add_header X-Server s;
        proxy_connect_timeout 5s;
        location /inherits/ { proxy_pass http://b; }
        location /own/ {
            add_header X-Loc l always;
            proxy_set_header Host $host;
            client_max_body_size 0;
            allow 127.0.0.1;
            access_log off;
            proxy_pass http://b;
            location /own/nested/ { proxy_read_timeout 1s; }
        }
        location /drop-host/ { proxy_set_header Host ""; proxy_pass http://b; }
        location /hide/ { proxy_hide_header X-Secret; proxy_pass_header Server; }
    }
}
"""


@pytest.fixture
def locations(conf):
    server = conf.load(CONFIG).http.servers[0]
    return {loc.path: loc for loc in server.locations}, server


def _headers(loc):
    return [(n, t.raw) for n, t in loc.settings.proxy.set_headers]


def test_arrays_inherit_only_when_the_level_has_none(locations):
    locs, server = locations
    assert [h.name for h in server.settings.add_headers] == ["X-Server"]
    assert [h.name for h in locs["/inherits/"].settings.add_headers] == ["X-Server"]
    own = locs["/own/"].settings.add_headers
    assert [(h.name, h.always) for h in own] == [("X-Loc", True)]
    rules = locs["/own/"].settings.access_rules
    assert [(r.allow, str(r.network)) for r in rules] == [(True, "127.0.0.1/32")]
    assert [r.allow for r in locs["/inherits/"].settings.access_rules] == [True, False]


def test_proxy_set_header_merges_nginx_defaults(locations):
    locs, _ = locations
    assert _headers(locs["/inherits/"]) == [
        ("X-Real-IP", "$remote_addr"), ("Host", "$proxy_host"), ("Connection", "close")
    ]
    # A level with its own proxy_set_header drops the parent's list (not the defaults).
    assert _headers(locs["/own/"]) == [("Host", "$host"), ("Connection", "close")]
    # An empty value removes the header altogether, default included.
    assert _headers(locs["/drop-host/"]) == [("Connection", "close")]


def test_scalars_inherit_field_by_field(locations):
    locs, _ = locations
    inherits = locs["/inherits/"].settings
    assert inherits.client_max_body_size == 2 * 1024 * 1024
    assert inherits.proxy.read_timeout == 30.0
    assert inherits.proxy.connect_timeout == 5.0
    assert (inherits.keepalive_timeout, inherits.keepalive_header_timeout) == (10.0, 8.0)
    own = locs["/own/"].settings
    assert own.client_max_body_size == 0
    nested = locs["/own/"].locations[0].settings
    assert nested.proxy.read_timeout == 1.0
    assert nested.client_max_body_size == 0  # from its parent location
    assert [h.name for h in nested.add_headers] == ["X-Loc"]


def test_access_log_off_is_not_inherited_from_above(locations):
    locs, _ = locations
    assert locs["/own/"].settings.access_logs == ()
    assert locs["/own/"].locations[0].settings.access_logs == ()
    assert len(locs["/inherits/"].settings.access_logs) == 1


def test_proxy_pass_is_not_inherited_by_nested_locations(locations):
    locs, _ = locations
    assert locs["/own/"].proxy_pass.upstream == "b"
    assert locs["/own/"].locations[0].proxy_pass is None


def test_hide_and_pass_headers(locations):
    locs, _ = locations
    hidden = locs["/hide/"].settings.proxy.hide_headers
    assert "x-secret" in hidden and "date" in hidden and "server" not in hidden
    assert "server" in locs["/inherits/"].settings.proxy.hide_headers


def test_literal_proxy_pass_creates_one_implicit_upstream(conf):
    cfg = conf.load("""events {}
http { server { listen 8080;
  location /a/ { proxy_pass http://127.0.0.1:9001/x/; }
  location /b/ { proxy_pass http://127.0.0.1:9001; }
  location /c/ { proxy_pass http://127.0.0.1; }
  location /d/ { proxy_pass http://127.0.0.1:80; }
} }""")
    assert set(cfg.http.upstreams) == {"127.0.0.1:9001", "127.0.0.1:80"}
    (spec,) = cfg.http.upstreams["127.0.0.1:9001"].servers
    assert (spec.address, spec.max_fails, spec.fail_timeout) == ("127.0.0.1:9001", 1, 10.0)
    a, b, c, d = cfg.http.servers[0].locations
    assert (a.proxy_pass.upstream, a.proxy_pass.uri, a.proxy_pass.proxy_host) == (
        "127.0.0.1:9001", "/x/", "127.0.0.1:9001")
    assert b.proxy_pass.uri is None
    assert (c.proxy_pass.upstream, c.proxy_pass.proxy_host) == ("127.0.0.1:80", "127.0.0.1")
    # $proxy_host omits the default port even when it is written; $proxy_port has it.
    assert (d.proxy_pass.upstream, d.proxy_pass.proxy_host) == ("127.0.0.1:80", "127.0.0.1")
    assert (a.proxy_pass.port, d.proxy_pass.port) == (9001, 80)


def test_upstream_may_be_defined_after_the_proxy_pass_that_names_it(conf):
    cfg = conf.load("""events {}
http { server { listen 8080; location / { proxy_pass http://late; } }
  upstream late { server 127.0.0.1:9002; } }""")
    assert cfg.http.servers[0].locations[0].proxy_pass.upstream == "late"
    assert set(cfg.http.upstreams) == {"late"}


def test_upstream_parameters_and_methods(conf):
    cfg = conf.load("""events {}
http {
  upstream h { hash $request_uri consistent; server 127.0.0.1:1 weight=3 max_conns=7 down; }
  upstream r { random two least_conn; server 127.0.0.1:2 max_fails=0; }
  upstream o { server 127.0.0.1:3 slow_start=30s; server 127.0.0.1:4 backup;
               backup_mode ordered; keepalive 32; keepalive_timeout 5s; zone o 64k; }
}""")
    h, r, o = (cfg.http.upstreams[n] for n in "hro")
    assert (h.method, h.hash_consistent, h.hash_key.raw) == ("hash", True, "$request_uri")
    assert (h.servers[0].weight, h.servers[0].max_conns, h.servers[0].down) == (3, 7, True)
    assert (r.method, r.random_two, r.servers[0].max_fails) == ("random", True, 0)
    assert (o.backup_mode, o.keepalive, o.keepalive_timeout, o.zone) == ("ordered", 32, 5.0, "o")
    assert o.servers[0].slow_start == 30.0 and o.servers[1].backup


def test_state_file_supplies_the_servers(conf):
    conf.write("server 127.0.0.1:7001 weight=2;\nserver 127.0.0.1:7002 backup;\n", "b.state")
    cfg = conf.load("events {}\nhttp { upstream b { zone b 64k; state b.state; } }\n")
    b = cfg.http.upstreams["b"]
    assert b.state_file == str(conf.root / "b.state")
    assert [(s.address, s.weight, s.backup) for s in b.servers] == [
        ("127.0.0.1:7001", 2, False), ("127.0.0.1:7002", 1, True)]


def test_state_file_not_yet_created_gives_an_empty_group(conf):
    cfg = conf.load("events {}\nhttp { upstream b { state logs/none.state; } }\n")
    assert cfg.http.upstreams["b"].servers == ()


def test_match_block_tests(conf):
    cfg = conf.load("""events {}
http { match ok {
  status ! 500-599 404;
  header Content-Type ~ "json$";
  header X-Up = yes;
  header X-Flag;
  header ! X-Bad;
  body !~ "maintenance";
} }""")
    m = cfg.http.matches["ok"]
    assert (m.status[0].negate, m.status[0].ranges) == (True, ((500, 599), (404, 404)))
    assert [(h.name, h.op) for h in m.headers] == [
        ("content-type", "~"), ("x-up", "="), ("x-flag", "present"), ("x-bad", "absent")]
    assert m.headers[0].pattern.search("application/json")
    assert m.body[0].negate and m.body[0].pattern.search("in maintenance")


def test_hostname_upstream_gives_one_server_per_address(conf):
    cfg = conf.load("events {}\nhttp { upstream b { server localhost:7003; } }\n")
    addresses = [s.address for s in cfg.http.upstreams["b"].servers]
    assert "127.0.0.1:7003" in addresses
    assert len(addresses) == len(set(addresses))
    assert all(s.name == "localhost:7003" for s in cfg.http.upstreams["b"].servers)


def test_unknown_variable_in_hash_key(conf):
    with pytest.raises(ConfigError, match='unknown "nope" variable'):
        conf.load("events {}\nhttp { upstream b { hash $nope; server 127.0.0.1; } }\n")


@pytest.mark.usefixtures("real_nginx")
def test_real_nginx_accepts_the_inheritance_config_too(conf):
    accepted, stderr = conf.nginx_t(CONFIG)
    assert accepted, stderr
