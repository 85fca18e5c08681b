"""Every class of configuration error, with nginx's text and the right file:line.

Cases marked `nginx=True` use only directives nginx OSS knows: the real nginx must reject
the same text with the same message at the same line (checked when /usr/sbin/nginx exists).
"""

import pytest

from hotdeploy.errors import ConfigError

HEAD = "events {}\nhttp {\n"
# (id, http-body lines, expected message, line, real nginx agrees)
CASES = [
    ("resolver-valid", "resolver 127.0.0.1 valid=x;", "invalid parameter: valid=x", 3, True),
    ("resolver-port", "resolver 127.0.0.1:abc;", 'invalid port in resolver "127.0.0.1:abc"', 3,
     True),
    ("resolver-ipv6", "resolver 127.0.0.1 ipv6=maybe;", "invalid parameter: ipv6=maybe", 3, True),
    ("resolver-duplicate", "resolver 127.0.0.1;\nresolver 127.0.0.2;",
     '"resolver" directive is duplicate', 4, True),
    ("resolver-args", "resolver;", 'invalid number of arguments in "resolver" directive', 3,
     True),
    ("resolver-timeout", "resolver_timeout 1x;", '"resolver_timeout" directive invalid value', 3,
     True),
    ("resolver-both-off", "resolver 127.0.0.1 ipv4=off ipv6=off;",
     '"ipv4" and "ipv6" cannot both be "off"', 3, False),  # nginx 1.23.1+ has ipv4=
    ("unknown", "server {\n listen 8080;\n foo bar;\n}", 'unknown directive "foo"', 5, True),
    ("known-to-nginx-but-unsupported", "ssi on;", 'unknown directive "ssi"', 3, False),
    ("not-allowed", "listen 80;", '"listen" directive is not allowed here', 3, True),
    ("arg-count", "server {\n listen;\n}", 'invalid number of arguments in "listen" directive',
     4, True),
    ("add_header-args", "add_header X;", 'invalid number of arguments in "add_header" directive',
     3, True),
    ("not-terminated", "server {\n listen 80 {}\n}", 'directive "listen" is not terminated by ";"',
     4, True),
    ("no-opening", "server {\n location / ;\n}", 'directive "location" has no opening "{"', 4,
     True),
    ("extra-brace", "}\n}", 'unexpected "}"', 4, True),
    ("duplicate-scalar", "proxy_read_timeout 1s;\nproxy_read_timeout 2s;",
     '"proxy_read_timeout" directive is duplicate', 4, True),
    ("time-invalid", "proxy_read_timeout 1x;", '"proxy_read_timeout" directive invalid value', 3,
     True),
    ("size-invalid", "client_max_body_size 1x;", '"client_max_body_size" directive invalid value',
     3, True),
    ("number-invalid", "keepalive_requests x;", '"keepalive_requests" directive invalid number',
     3, True),
    ("flag-invalid", "proxy_buffering maybe;",
     'invalid value "maybe" in "proxy_buffering" directive, it must be "on" or "off"', 3, True),
    ("next-upstream", "proxy_next_upstream error foo;", 'invalid value "foo"', 3, True),
    ("http-version", "proxy_http_version 2.0;", 'invalid value "2.0"', 3, True),
    ("keepalive-disable", "keepalive_disable foo;", 'invalid value "foo"', 3, True),
    ("server-param", "upstream b {\n server 127.0.0.1 foo;\n}", 'invalid parameter "foo"', 4,
     True),
    ("weight-zero", "upstream b {\n server 127.0.0.1 weight=0;\n}",
     'invalid parameter "weight=0"', 4, True),
    ("max-fails-bad", "upstream b {\n server 127.0.0.1 max_fails=x;\n}",
     'invalid parameter "max_fails=x"', 4, True),
    ("backup-with-hash", "upstream b {\n ip_hash;\n server 127.0.0.1 backup;\n}",
     'balancing method does not support parameter "backup"', 5, True),
    ("host-not-found", "upstream b {\n server nohost.invalid;\n}",
     'host not found in upstream "nohost.invalid"', 4, True),
    ("invalid-port", "upstream b {\n server 127.0.0.1:0;\n}",
     'invalid port in upstream "127.0.0.1:0"', 4, True),
    ("invalid-host", "upstream b {\n server http://127.0.0.1;\n}",
     'invalid host in upstream "http://127.0.0.1"', 4, True),
    ("empty-upstream", "upstream b {\n}", "no servers are inside upstream", 4, True),
    ("duplicate-upstream", "upstream b { server 127.0.0.1; }\nupstream b { server 127.0.0.1; }",
     'duplicate upstream "b"', 4, True),
    ("keepalive-zero", "upstream b {\n server 127.0.0.1;\n keepalive 0;\n}",
     'invalid value "0" in "keepalive" directive', 5, True),
    ("hash-param", "upstream b {\n server 127.0.0.1;\n hash $remote_addr maybe;\n}",
     'invalid parameter "maybe"', 5, True),
    ("random-param", "upstream b {\n server 127.0.0.1;\n random three;\n}",
     'invalid parameter "three"', 5, True),
    ("zone-small", "upstream b {\n zone z 1;\n server 127.0.0.1;\n}", 'zone "z" is too small', 4,
     True),
    ("backup-mode", "upstream b {\n server 127.0.0.1;\n backup_mode first;\n}",
     'invalid value "first" in "backup_mode" directive', 5, False),
    ("proxy-pass-unresolvable", "server {\n location / {\n  proxy_pass http://nohost.invalid;\n"
     " }\n}", 'host not found in upstream "nohost.invalid"', 5, True),
    ("proxy-pass-upstream-port", "upstream b { server 127.0.0.1; }\nserver {\n location / {\n"
     "  proxy_pass http://b:8080;\n }\n}", 'upstream "b" may not have port 8080', 6, True),
    ("proxy-pass-prefix", "server {\n location / {\n  proxy_pass 127.0.0.1;\n }\n}",
     "invalid URL prefix", 5, True),
    ("proxy-pass-port", "server {\n location / {\n  proxy_pass http://127.0.0.1:0;\n }\n}",
     'invalid port in upstream "127.0.0.1:0"', 5, True),
    ("proxy-pass-duplicate", "server {\n location / {\n  proxy_pass http://127.0.0.1;\n"
     "  proxy_pass http://127.0.0.1;\n }\n}", '"proxy_pass" directive is duplicate', 6, True),
    ("proxy-pass-uri-in-regex", "server {\n location ~ /x {\n  proxy_pass http://127.0.0.1/y;\n"
     " }\n}", '"proxy_pass" cannot have URI part in location given by regular expression, or '
     'inside named location, or inside "if" statement, or inside "limit_except" block', 5, True),
    ("listen-dup", "server {\n listen 8080;\n listen 8080;\n}", "a duplicate listen 0.0.0.0:8080",
     5, True),
    ("default-server-dup", "server {\n listen 8080 default_server;\n}\nserver {\n"
     " listen 8080 default_server;\n}", "a duplicate default server for 0.0.0.0:8080", 7, True),
    ("listen-options-dup", "server { listen 8080 backlog=10; }\nserver { listen 8080 backlog=5; }",
     "duplicate listen options for 0.0.0.0:8080", 4, True),
    ("error-page-499", "server {\n error_page 499 /x;\n}", 'invalid value "499"', 4, True),
    ("backlog", "server {\n listen 8080 backlog=x;\n}", 'invalid backlog "backlog=x"', 4, True),
    ("listen-ipv6-host", "server {\n listen [::1:8080;\n}",
     'invalid host in "[::1:8080" of the "listen" directive', 4, True),
    ("zone-size", "upstream b {\n server 127.0.0.1;\n zone z 1x;\n}", 'invalid zone size "1x"', 5,
     True),
    ("log-format-dup", "log_format a x;\nlog_format a y;", 'duplicate "log_format" name "a"', 4,
     True),
    ("backup-after-hash", "upstream b {\n server 127.0.0.1;\n hash $remote_addr;\n"
     " server 127.0.0.2 backup;\n}", 'balancing method does not support parameter "backup"', 6,
     True),
    ("add-header-param", "add_header X y never;", 'invalid parameter "never"', 3, True),
    ("access-log-param", "access_log logs/a.log combined foo=1;", 'invalid parameter "foo=1"', 3,
     True),
    ("listen-param", "server {\n listen 8080 foo;\n}", 'invalid parameter "foo"', 4, True),
    ("listen-port", "server {\n listen 0;\n}", 'invalid port in "0" of the "listen" directive', 4,
     True),
    ("listen-host", "server {\n listen nohost.invalid:80;\n}",
     'host not found in "nohost.invalid:80" of the "listen" directive', 4, True),
    ("exact-nesting", "server {\n location = /a {\n  location /a/b {}\n }\n}",
     'location "/a/b" cannot be inside the exact location "/a"', 5, True),
    ("outside", "server {\n location /a {\n  location /b {}\n }\n}",
     'location "/b" is outside location "/a"', 5, True),
    ("named-nested", "server {\n location /a {\n  location @b {}\n }\n}",
     'named location "@b" can be on the server level only', 5, True),
    ("duplicate-location", "server {\n location /a {}\n location /a {}\n}",
     'duplicate location "/a"', 5, True),
    ("modifier", "server {\n location ~~ /a {}\n}", 'invalid location modifier "~~"', 4, True),
    ("return-code", "server {\n return 99999;\n}", 'invalid return code "99999"', 4, True),
    ("error-page-range", "server {\n error_page 200 /x;\n}",
     'value "200" must be between 300 and 599', 4, True),
    ("error-page-override", "server {\n error_page 404 =abc /x;\n}", 'invalid value "=abc"', 4,
     True),
    ("log-format", "access_log logs/a.log nope;", 'unknown log format "nope"', 3, True),
    ("allow-cidr", "server {\n allow 1.2.3.4/40;\n}", 'invalid parameter "1.2.3.4/40"', 4, True),
    # Checked when the levels are merged: nginx names the line that closes `http`.
    ("proxy-buffer-size", "proxy_buffer_size 16k;\nserver {\n}",
     '"proxy_busy_buffers_size" must be less than the size of all "proxy_buffers" minus one '
     'buffer', 6, True),
    ("large-buffers", "large_client_header_buffers 0 8k;",
     '"large_client_header_buffers" directive invalid value', 3, True),
    ("health-check-param", "upstream b { server 127.0.0.1; }\nserver {\n location / {\n"
     "  proxy_pass http://b;\n  health_check interval=x;\n }\n}",
     'invalid parameter "interval=x"', 7, False),
    ("health-check-no-proxy", "server {\n location / {\n  health_check;\n }\n}",
     '"health_check" requires "proxy_pass" to an upstream group', 5, False),
    ("health-check-match", "upstream b { server 127.0.0.1; }\nserver {\n location / {\n"
     "  proxy_pass http://b;\n  health_check match=nope;\n }\n}", 'match "nope" not found', 7,
     False),
    ("match-status", "match m {\n status 200-99;\n}", 'invalid status "200-99"', 4, False),
    ("api-param", "server {\n location /api {\n  api write=yes;\n }\n}",
     'invalid parameter "write=yes"', 5, False),
    ("state-with-server", "upstream b {\n state /tmp/b.state;\n server 127.0.0.1;\n}",
     '"server" directive is not allowed with "state"', 5, False),
]


@pytest.mark.parametrize(("body", "message", "line"),
                         [c[1:4] for c in CASES], ids=[c[0] for c in CASES])
def test_error_message_and_location(conf, body, message, line):
    text = HEAD + body + "\n}\n"
    with pytest.raises(ConfigError) as exc:
        conf.load(text)
    err = exc.value
    assert (err.message, err.line) == (message, line)
    assert err.file == str(conf.root / "nginx.conf")
    assert str(err) == f"{message} in {conf.root / 'nginx.conf'}:{line}"


@pytest.mark.usefixtures("real_nginx")
@pytest.mark.parametrize(("body", "message", "line"),
                         [c[1:4] for c in CASES if c[4]], ids=[c[0] for c in CASES if c[4]])
def test_real_nginx_reports_the_same_error(conf, body, message, line):
    accepted, stderr = conf.nginx_t(HEAD + body + "\n}\n")
    assert not accepted
    assert f"{message} in {conf.root / 'real-nginx.conf'}:{line}" in stderr


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("events {}\nhttp {\n server {\n", 'unexpected end of file, expecting "}"', 4),
        ("events {}\nhttp {\n server {\n}}\n}\n", 'unexpected "}"', 5),
        ("events {}\ndaemon off", 'unexpected end of file, expecting ";" or "}"', 2),
        ("events {}\n;", 'unexpected ";"', 2),
        ("daemon maybe;\nevents {}",
         'invalid value "maybe" in "daemon" directive, it must be "on" or "off"', 1),
        ("events {}\nevents {}", '"events" directive is duplicate', 2),
        ("events {\n worker_connections x;\n}", 'invalid number "x"', 2),
        ("worker_processes foo;\nevents {}", '"worker_processes" directive invalid value', 1),
        ("error_log logs/e.log nope;\nevents {}", 'invalid log level "nope"', 1),
    ],
)
def test_main_context_and_syntax_errors(conf, text, message, line):
    with pytest.raises(ConfigError) as exc:
        conf.load(text)
    assert (exc.value.message, exc.value.line) == (message, line)


def test_missing_events_is_an_error_without_location(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("http {}\n")
    assert str(exc.value) == 'no "events" section in configuration'


def test_error_inside_an_include_names_the_included_file(conf):
    conf.write("server {\n listen 8080;\n\n bogus 1;\n}\n", "sites/a.conf")
    with pytest.raises(ConfigError) as exc:
        conf.load("events {}\nhttp {\n include sites/*.conf;\n}\n")
    assert str(exc.value) == f'unknown directive "bogus" in {conf.root / "sites/a.conf"}:4'


def test_missing_include_file_reads_like_nginx(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("events {}\nhttp {\n include nope.conf;\n}\n")
    path = conf.root / "nope.conf"
    assert str(exc.value) == (
        f'open() "{path}" failed (2: No such file or directory) in {conf.root / "nginx.conf"}:3'
    )


def test_unknown_variable_in_a_directive_names_its_line(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("events {}\nhttp {\n server {\n  add_header X $nope;\n }\n}\n")
    assert (exc.value.message, exc.value.line) == ('unknown "nope" variable', 4)


def test_globals_errors_say_command_line(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("events {}\n", globals_="foo on;")
    assert str(exc.value) == 'unknown directive "foo" in command line'


def test_directive_in_globals_and_file_is_duplicate_at_the_file_line(conf):
    with pytest.raises(ConfigError) as exc:
        conf.load("events {}\ndaemon on;\n", globals_="daemon off;")
    assert str(exc.value) == f'"daemon" directive is duplicate in {conf.root / "nginx.conf"}:2'
