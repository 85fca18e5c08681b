"""proxy_redirect, proxy_cookie_*, proxy_ignore_headers and the proxy buffer directives: the
model, inheritance, and nginx's error texts (compared with the real `nginx -t`)."""

from __future__ import annotations

import pytest

from hotdeploy.errors import ConfigError

HEAD = "events {}\nhttp {\n"


def test_rules_in_the_model_and_array_inheritance(conf):
    cfg = conf.load(HEAD + """
        proxy_redirect http://a/ /b/; proxy_cookie_path ~^/x(.*)$ /y$1;
        server { location /i { proxy_pass http://127.0.0.1:9; }
                 location /o { proxy_pass http://127.0.0.1:9; proxy_redirect off; }
                 location /d { proxy_pass http://127.0.0.1:9; proxy_buffers 4 8k;
                               proxy_busy_buffers_size 16k; proxy_max_temp_file_size 0;
                               proxy_ignore_headers X-Accel-Buffering expires; } }
    }""")
    inherited, off, tuned = (loc.settings.proxy for loc in cfg.http.servers[0].locations)
    assert [r.kind for r in inherited.redirects] == ["prefix"]
    assert inherited.redirects[0].pattern.raw == "http://a/"
    assert inherited.cookie_paths[0].pieces == ("/y", 1, "")
    assert off.redirects == ()
    assert (tuned.buffers, tuned.busy_buffers_size, tuned.max_temp_file_size) == (
        (4, 8192), 16384, 0)
    assert tuned.ignore_headers == frozenset({"x-accel-buffering", "expires"})


def test_default_when_never_written(conf):
    cfg = conf.load(HEAD + "server { location / { proxy_pass http://127.0.0.1:9/u/; } }\n}")
    assert cfg.http.servers[0].locations[0].settings.proxy.redirects is None


ERRORS = [
    ("proxy_redirect foo;", 'invalid parameter "foo"', 3),
    ("proxy_cookie_domain foo;", 'invalid parameter "foo"', 3),
    ("proxy_ignore_headers X-Accel-Redirect Foo;", 'invalid value "Foo"', 3),
    ("proxy_buffers x 4k;", '"proxy_buffers" directive invalid value', 3),
    ("proxy_buffers 1 4k;\nserver {\n}", 'there must be at least 2 "proxy_buffers"', 6),
    ("proxy_busy_buffers_size 2k;\nserver {\n}",
     '"proxy_busy_buffers_size" must be equal to or greater than the maximum of the value of '
     '"proxy_buffer_size" and one of the "proxy_buffers"', 6),
    ("proxy_buffers 8 4k; proxy_busy_buffers_size 64k;\nserver {\n}",
     '"proxy_busy_buffers_size" must be less than the size of all "proxy_buffers" minus one '
     "buffer", 6),
    ("proxy_max_temp_file_size 1k;\nserver {\n}",
     '"proxy_max_temp_file_size" must be equal to zero to disable temporary files usage or '
     'must be equal to or greater than the maximum of the value of "proxy_buffer_size" and '
     'one of the "proxy_buffers"', 6),
    ("open_log_file_cache inactive=20s;", '"open_log_file_cache" must have "max" parameter', 3),
    ("open_log_file_cache max=0;", '"open_log_file_cache" must have "max" parameter', 3),
    ("open_log_file_cache foo=1;", 'invalid "open_log_file_cache" parameter "foo=1"', 3),
    ("lingering_close maybe;", 'invalid value "maybe"', 3),
    ("server {\n location / { merge_slashes off; }\n}",
     '"merge_slashes" directive is not allowed here', 4),
]


@pytest.mark.parametrize(("body", "message", "line"), ERRORS)
def test_errors_name_the_line(conf, body, message, line):
    with pytest.raises(ConfigError) as info:
        conf.load(HEAD + body + "\n}\n")
    assert (info.value.message, info.value.line) == (message, line)


@pytest.mark.usefixtures("real_nginx")
@pytest.mark.parametrize(("body", "message", "line"), ERRORS)
def test_errors_are_nginx_errors(conf, body, message, line):
    accepted, stderr = conf.nginx_t(HEAD + body + "\n}\n")
    assert not accepted
    assert f"{message} in {conf.root / 'real-nginx.conf'}:{line}" in stderr


ACCEPTED = """
    proxy_buffer_size 16k; proxy_buffers 8 16k; proxy_busy_buffers_size 32k;
    proxy_max_temp_file_size 0; proxy_ignore_headers X-Accel-Redirect Cache-Control;
    open_log_file_cache max=100 inactive=20s min_uses=2 valid=1m;
    access_log logs/a.log combined if=$arg_log;
    lingering_close always; lingering_time 10s; lingering_timeout 1s;
    reset_timedout_connection on; merge_slashes off;
    server { location / { proxy_pass http://127.0.0.1:9/u/; proxy_redirect default;
                          proxy_redirect ~^http://x/(.*)$ /$1; proxy_cookie_domain off;
                          proxy_cookie_path /u/ /; } }
"""


def test_accepted_by_both(conf, real_nginx):
    assert conf.load(HEAD + ACCEPTED + "}\n").http is not None
    accepted, stderr = conf.nginx_t(HEAD + ACCEPTED + "}\n")
    assert accepted, stderr
