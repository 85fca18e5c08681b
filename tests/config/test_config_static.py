"""Static content, gzip, charset, main/events process directives: what is accepted, what is
refused and with which message (checked against the real `nginx -t` where nginx agrees), and
how the settings inherit."""

from __future__ import annotations

import pytest

from hotdeploy.errors import ConfigError

HEAD = "events {}\nhttp {\n"
# (id, http-body, message, line, real nginx reports the same)
ERRORS = [
    ("root-twice", "server {\n root /a;\n root /b;\n}", '"root" directive is duplicate', 5,
     True),
    ("alias-after-root", "server {\n location /x/ {\n  root /a;\n  alias /b/;\n }\n}",
     '"alias" directive is duplicate, "root" directive was specified earlier', 6, True),
    ("root-after-alias", "server {\n location /x/ {\n  alias /b/;\n  root /a;\n }\n}",
     '"root" directive is duplicate, "alias" directive was specified earlier', 6, True),
    ("alias-in-server", "server {\n alias /x/;\n}", '"alias" directive is not allowed here', 4,
     True),
    ("try-files-one-arg", "server {\n try_files $uri;\n}",
     'invalid number of arguments in "try_files" directive', 4, True),
    ("try-files-bad-code", "server {\n location / {\n  try_files $uri =abc;\n }\n}",
     'invalid code "=abc"', 5, True),
    ("index-empty", 'server {\n index "";\n}', 'index "" in "index" directive is invalid', 4,
     True),
    ("if-modified-since-value", "if_modified_since sometimes;", 'invalid value "sometimes"', 3,
     True),
    ("etag-flag", "etag maybe;",
     'invalid value "maybe" in "etag" directive, it must be "on" or "off"', 3, True),
    ("gzip-flag", "gzip yes;",
     'invalid value "yes" in "gzip" directive, it must be "on" or "off"', 3, True),
    ("gzip-comp-level", "gzip_comp_level 10;",
     '"gzip_comp_level" directive value must be between 1 and 9', 3, False),
    ("gzip-proxied-value", "gzip_proxied sometimes;", 'invalid value "sometimes"', 3, True),
    ("gzip-min-length", "gzip_min_length lots;", '"gzip_min_length" directive invalid value',
     3, True),
    ("ssl-protocols-value", "ssl_protocols TLSv9;", 'invalid value "TLSv9"', 3, True),
    ("autoindex-flag", "autoindex yes;",
     'invalid value "yes" in "autoindex" directive, it must be "on" or "off"', 3, True),
    ("autoindex-format", "autoindex_format yaml;", 'invalid value "yaml"', 3, True),
    ("expires-value", "expires xx;", '"expires" directive invalid value', 3, True),
    ("expires-ms", "expires 10ms;", '"expires" directive invalid value', 3, True),
    ("expires-modified-epoch", "expires modified epoch;", '"expires" directive invalid value',
     3, True),
    ("expires-daily-range", "expires @25h;",
     '"expires" directive daily time value must be less than 24 hours', 3, True),
    ("expires-daily-modified", "expires modified @1h;",
     '"expires" directive daily time cannot be used with "modified" parameter', 3, True),
    ("gzip-static-value", "gzip_static maybe;", 'invalid value "maybe"', 3, True),
    ("max-ranges-number", "max_ranges many;", '"max_ranges" directive invalid number', 3, True),
    ("autoindex-format-args", "autoindex_format html json;",
     'invalid number of arguments in "autoindex_format" directive', 3, True),
    ("server-tokens-value", "server_tokens loud;", 'invalid value "loud"', 3, True),
]


@pytest.mark.parametrize(("body", "message", "line"), [c[1:4] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_static_directive_errors(conf, body, message, line):
    with pytest.raises(ConfigError) as exc:
        conf.load(HEAD + body + "\n}\n")
    assert (exc.value.message, exc.value.line) == (message, line)


@pytest.mark.usefixtures("real_nginx")
@pytest.mark.parametrize(("body", "message", "line"), [c[1:4] for c in ERRORS if c[4]],
                         ids=[c[0] for c in ERRORS if c[4]])
def test_real_nginx_reports_the_same(conf, body, message, line):
    accepted, stderr = conf.nginx_t(HEAD + body + "\n}\n")
    assert not accepted
    assert f"{message} in {conf.root / 'real-nginx.conf'}:{line}" in stderr


ACCEPTED = """user nobody nogroup;
worker_processes auto;
worker_rlimit_nofile 4096;
events {
    worker_connections 512;
    multi_accept on;
    use epoll;
}
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    types_hash_bucket_size 64;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    types { text/html html; application/x-thing thing THING; }
    default_type application/octet-stream;
    gzip on;
    gzip_types text/css application/json;
    gzip_min_length 100;
    gzip_comp_level 5;
    gzip_vary on;
    gzip_proxied expired no-cache any;
    charset utf-8;
    charset_types text/css;
    server_tokens off;
    etag off;
    if_modified_since before;
    absolute_redirect off;
    port_in_redirect off;
    server_name_in_redirect on;
    log_not_found off;
    root /srv/www/;
    index index.html index.htm;
    server {
        listen 127.0.0.1:8080;
        autoindex off;
        try_files $uri /fallback.html;
        location / { try_files $uri $uri/ @app =404; }
        location /files/ { alias /srv/files/; etag on; gzip off; }
        location @app { return 204; }
    }
}
"""


def test_accepted_and_merged(conf):
    config = conf.load(ACCEPTED)
    assert config.user == ("nobody", "nogroup")
    assert config.worker_rlimit_nofile == 4096
    server = config.http.servers[0]
    st = server.settings.static
    assert st.root.raw == "/srv/www"  # trailing slash dropped, as nginx does
    assert [t.raw for t in st.index] == ["index.html", "index.htm"]
    assert st.types == {"html": "text/html", "thing": "application/x-thing"}
    assert st.default_type == "application/octet-stream"
    assert st.gzip.enabled and st.gzip.types == {"text/html", "text/css", "application/json"}
    assert (st.gzip.min_length, st.gzip.comp_level, st.gzip.vary) == (100, 5, True)
    assert st.gzip.proxied == {"expired", "no-cache", "any"}
    assert st.charset == "utf-8" and st.charset_types == {"text/css"}
    assert not st.etag and st.if_modified_since == "before"
    assert not st.absolute_redirect and not st.port_in_redirect
    assert st.server_name_in_redirect and not st.log_not_found
    assert [t.raw for t in st.try_files] == ["$uri", "/fallback.html"]
    root_loc, files, named = server.locations
    # try_files and alias are per location; the rest is inherited
    assert [t.raw for t in root_loc.settings.static.try_files] == ["$uri", "$uri/", "@app",
                                                                   "=404"]
    assert files.settings.static.try_files == ()
    assert files.settings.static.alias.raw == "/srv/files/"
    assert files.settings.static.root.raw == "/srv/www"
    assert files.settings.static.etag and not files.settings.static.gzip.enabled
    assert files.settings.static.gzip.comp_level == 5  # the other gzip settings inherited
    assert named.settings.static.alias is None


@pytest.mark.usefixtures("real_nginx")
def test_real_nginx_accepts_the_same(conf):
    accepted, stderr = conf.nginx_t(ACCEPTED)
    assert accepted, stderr


def test_load_module_is_refused_naming_the_module(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("load_module modules/ngx_http_lua_module.so;\nevents {}\n")
    assert exc.value.line == 1
    assert 'load_module "modules/ngx_http_lua_module.so"' in exc.value.message
    assert '"ngx_http_lua_module" cannot be loaded' in exc.value.message


@pytest.mark.parametrize(("text", "message", "line"), [
    ("events {\n use kqueue;\n}", 'invalid event type "kqueue"', 2),
    ("events {\n multi_accept maybe;\n}",
     'invalid value "maybe" in "multi_accept" directive, it must be "on" or "off"', 2),
    ("events {\n use epoll;\n use poll;\n}", '"use" directive is duplicate', 3),
    ("worker_rlimit_nofile many;\nevents {}", 'invalid number "many"', 1),
    ("user root;\nuser root;\nevents {}", '"user" directive is duplicate', 2),
    ("multi_accept on;\nevents {}", '"multi_accept" directive is not allowed here', 1),
])
def test_main_and_events_errors(conf, text, message, line):
    with pytest.raises(ConfigError) as exc:
        conf.load(text)
    assert (exc.value.message, exc.value.line) == (message, line)


def test_user_names_are_checked_as_root(conf):
    import os

    if os.geteuid() != 0:
        pytest.skip("nginx checks the user only when running as root")
    with pytest.raises(ConfigError) as exc:
        conf.load("user no-such-user-here;\nevents {}\n")
    assert exc.value.message == 'getpwnam("no-such-user-here") failed'


def test_types_block_may_include_a_file(conf):
    conf.write("types {\n text/x-a a;\n}\n", "mime.types")
    config = conf.load("events {}\nhttp {\n include mime.types;\n server { }\n}\n")
    assert config.http.servers[0].settings.static.types == {"a": "text/x-a"}
