"""`-t` errors of the rewrite module and map, compared with real nginx: each configuration is
checked by `nginx -t` and by hotdeploy's loader; the message and the line must be the same.

nginx reports an unknown variable once the whole configuration is read, without file:line;
hotdeploy names the directive's line: only the message is compared for those.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import wire_harness as w

from hotdeploy.config.loader import load_config
from hotdeploy.errors import ConfigError

pytestmark = pytest.mark.skipif(not Path(w.NGINX).exists(),
                                reason=f"needs real nginx at {w.NGINX} (apt install nginx-light)")

# (http-level text, server-level text); the server block starts on line 6.
CASES: dict[str, tuple[str, str]] = {
    "rewrite_bad_regex": ("", "rewrite ^(a /x;"),
    "rewrite_unmatched_paren": ("", "rewrite a) /x;"),
    "rewrite_bad_quantifier": ("", 'rewrite "*a" /x;'),
    "rewrite_unterminated_class": ("", "rewrite [a /x;"),
    "rewrite_unknown_flag": ("", "rewrite ^a /x foo;"),
    "rewrite_empty_replacement": ("", 'rewrite ^a "";'),
    "rewrite_too_many_args": ("", "rewrite ^a /x last more;"),
    "rewrite_at_http_level": ("rewrite ^a /x;", ""),
    "set_without_dollar": ("", "set x /x;"),
    "set_builtin_variable": ("", "set $uri /x;"),
    "set_one_arg": ("", "set $x;"),
    "if_unclosed_paren": ("", "if ($a { }"),
    "if_missing_operand": ("", "if ( $uri ~ ) { }"),
    "if_unknown_file_test": ("", "if (-q /x) { }"),
    "if_unknown_operator": ("", "if ($uri >= b) { }"),
    "if_not_a_variable": ("", "if (a = b) { }"),
    "if_too_many_words": ("", "if ($uri = b c) { }"),
    "if_without_parens": ("", "if $uri { }"),
    "if_bad_regex": ("", 'if ($uri ~ "(") { }'),
    "if_unknown_variable": ("", "if ($nope) { }"),
    "if_not_allowed_directive": ("", "location / { if ($uri) { proxy_set_header a b; } }"),
    "if_no_location_inside": ("", "location / { if ($uri) { location /y { } } }"),
    "if_proxy_pass_uri_part": ("", "location / { if ($uri) { proxy_pass http://127.0.0.1/y; } }"),
    "if_in_server_no_proxy_pass": ("", "if ($uri) { proxy_pass http://127.0.0.1; }"),
    "break_with_argument": ("", "break x;"),
    "return_bad_code": ("", "return abc;"),
    "return_code_too_big": ("", "return 1000;"),
    "rewrite_log_bad_value": ("", "rewrite_log maybe;"),
    "rewrite_log_duplicate": ("", "rewrite_log on; rewrite_log off;"),
    "map_bad_target": ("map $uri m { }", ""),
    "map_builtin_target": ("map $uri $host { default 1; }", ""),
    "map_three_words": ("map $uri $m { a b c; }", ""),
    "map_one_word": ("map $uri $m { a; }", ""),
    "map_duplicate_default": ("map $uri $m { default 1; default 2; }", ""),
    "map_conflicting_key": ("map $uri $m { a 1; a 2; }", ""),
    "map_conflicting_dot_form": ("map $uri $m { hostnames; .a.com 1; a.com 2; }", ""),
    "map_bad_wildcard": ("map $uri $m { hostnames; a.*.b 1; }", ""),
    "map_block_inside": ("map $uri $m { a { } }", ""),
    "map_bad_regex": ("map $uri $m { ~^(x 1; }", ""),
    "map_in_server": ("", "map $uri $m { }"),
    "map_unknown_variable_in_value": ("map $uri $m { default $nope; }", ""),
}

_NGINX_ERROR = re.compile(r"\[emerg\] (.*?)(?: in (\S+):(\d+))?$")


def _config(http: str, server: str) -> str:
    return ("events {}\n"
            "http {\n"
            "    access_log off;\n"
            f"    {http}\n"
            "    server { listen 127.0.0.1:1;\n"
            f"        {server}\n"
            "    }\n"
            "}\n")


def _nginx_error(conf: Path, prefix: Path) -> tuple[str, int | None]:
    done = subprocess.run([w.NGINX, "-t", "-p", f"{prefix}/", "-c", str(conf),
                           "-e", str(prefix / "error.log"), "-g", f"pid {prefix}/nginx.pid;"],
                          capture_output=True, text=True, timeout=30)
    first = done.stderr.splitlines()[0]
    found = _NGINX_ERROR.search(first)
    assert found, first
    return found.group(1), int(found.group(3)) if found.group(3) else None


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_error_as_nginx(tmp_path, case):
    conf = tmp_path / "nginx.conf"
    conf.write_text(_config(*CASES[case]))
    message, line = _nginx_error(conf, tmp_path)
    with pytest.raises(ConfigError) as exc:
        load_config(str(conf), str(tmp_path))
    assert exc.value.message == message
    if line is not None:
        assert (exc.value.file, exc.value.line) == (str(conf), line)
