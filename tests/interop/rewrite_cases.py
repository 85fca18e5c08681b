"""The rewrite module and map, one configuration served by real nginx and by hotdeploy: the
locations below exercise each directive, the requests (CASES) each path through them.

`{port}` and `{backend}` are filled in by the test; everything else is plain nginx.
"""

from __future__ import annotations

# A chain of locations each rewriting to the next: /h1 makes 10 URI changes (nginx's limit,
# still served), /h0 makes 11 (500, "rewrite or internal redirection cycle").
_CHAIN = "\n".join(f"        location = /h{i} {{ rewrite ^ /h{i + 1} last; }}" for i in range(11))

CONFIG = """
error_log logs/error.log notice;
pid logs/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log off;
    map $http_x_k $mapped {{
        default d;
        Foo exact;
        \\~tilde literal;
        ~^re(\\d+)$ re$1;
        ~*^CI ci;
        ~^(?<word>[a-z]+)-named$ named-$word;
    }}
    map $http_host $by_host {{
        hostnames;
        default none;
        .example.com dot;
        *.w.org head;
        www.t.* tail;
        exact.org exact;
    }}
    map $uri $later {{ default $uri-mapped; }}
    upstream backend {{ server 127.0.0.1:{backend}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name ~^(?<sub>[a-z]+)\\.(\\w+)\\.sites$;
        location / {{ proxy_pass http://backend; proxy_set_header X-Site "$sub $1 $2"; }}
        location /ret {{ return 200 "site $sub $2\n"; }}
    }}
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name localhost;
        rewrite ^/srv/(.*)$ /s/$1 last;
        rewrite ^/sb/(.*)$ /sbp/$1 break;
        if ($http_x_block = yes) {{ return 403; }}
        if ($http_x_canonical = 'other') {{ return 301 https://localhost$request_uri; }}
        if ($http_user_agent ~* (bot|crawler)) {{ return 403 "no $1\n"; }}
        set $from_server srv;

        location / {{ return 200 "uri=$uri args=$args m=$mapped h=$by_host fs=$from_server\\n"; }}
        location /a {{ rewrite ^/a/(\\w+)$ /b/$1?x=1 last; }}
        location /b {{ return 200 "b uri=$uri args=$args req=$request_uri l=$later\\n"; }}
        location /noargs {{ rewrite ^ /b/dropped? last; }}
        location /noflag {{ rewrite ^/noflag(.*)$ /b$1; set $after yes; }}
        location /r {{ rewrite ^ http://example.com/z permanent; }}
        location /r2 {{ rewrite ^/r2/(.*) /target/$1 redirect; }}
        location /r3 {{ rewrite ^ https://example.com/q?a=1; }}
        location /r4 {{ rewrite ^ $scheme://$host/s? last; }}
        location /i {{
            set $v "$arg_q";
            if ($v = yes) {{ return 201 "yes $v\\n"; }}
            if ($v != no) {{ set $w not-no; }}
            if ($v ~ ^(?<n>\\d+)$) {{ return 202 "num $n $1 $w\\n"; }}
            if ($v ~* ^ABC) {{ return 200 "caseless $w\\n"; }}
            if ($v !~ ^z) {{ return 200 "not z $w\\n"; }}
            return 200 "no\\n";
        }}
        location /t {{ if ($arg_t) {{ return 200 "true\\n"; }} return 200 "false\\n"; }}
        location /brk {{ set $x 1; break; set $x 2; return 200 "never\\n"; }}
        location /loop {{ rewrite ^ /loop last; }}
{chain}
        location = /h11 {{ return 200 "end of chain\\n"; }}
        location ~ ^/cap/(\\d+)/(?<tail>.*)$ {{ return 200 "cap=$1 tail=$tail\\n"; }}
        location /p/ {{ rewrite ^/p/(.*)$ /up/$1 break; proxy_pass http://backend; }}
        location /pp/ {{ proxy_pass http://backend/base/; rewrite ^/pp/(.*)$ /changed/$1 break; }}
        location /pl/ {{ rewrite ^/pl/(.*)$ /plast/$1 last; }}
        location /plast/ {{ proxy_pass http://backend/pl-target/; }}
        location /pq/ {{ rewrite ^/pq/(.*)$ /q/$1?added=1 break; proxy_pass http://backend; }}
        location /sbp/ {{ proxy_pass http://backend/sbp-uri/; }}
        location /plain/ {{ proxy_pass http://backend; }}
        location /hdr {{
            if ($arg_h) {{ add_header X-If yes; }}
            add_header X-Loc loc;
            proxy_pass http://backend;
        }}
        location /ifpass {{
            if ($arg_other) {{ proxy_pass http://backend; }}
            return 200 "no proxy\\n";
        }}
        location /f {{ if (-f /etc/hostname) {{ return 200 "file\\n"; }} return 200 "nofile\\n"; }}
        location /d {{ if (!-d /nonexistent) {{ return 200 "nodir\\n"; }} return 200 "dir\\n"; }}
        location /e {{ if (-e /etc) {{ return 200 "exists\\n"; }} return 200 "missing\\n"; }}
        location /x {{ if (-x /bin/sh) {{ return 200 "exec\\n"; }} return 200 "noexec\\n"; }}
        location /enc/ {{ rewrite ^/enc/(.*)$ /dec/$1 break; proxy_pass http://backend; }}
        location /setargs {{ set $args "n=1"; proxy_pass http://backend; }}
        location /mp {{ proxy_pass http://backend; proxy_set_header X-Map $mapped; }}
        location /retvar {{ return 301 http://$host/moved$uri?$args; }}
        location /bare {{ return 404; }}
        location /uninit {{ return 200 "[$never]"; set $never 1; }}
        location /nowarn {{
            uninitialized_variable_warn off;
            return 200 "[$never2]";
            set $never2 1;
        }}
        location /qmark/ {{ rewrite ^/qmark/(.*)$ /z/$1 break; proxy_pass http://backend; }}
        location /argcap/ {{ rewrite ^/argcap/(.*)$ /q?v=$1 break; proxy_pass http://backend; }}
        location /quoted {{
            if ($http_x_q = "") {{ return 200 "empty\n"; }}
            if ($http_x_q = "b c") {{ return 200 "bc\n"; }}
            if ($http_x_q ~ "^(x|y)$") {{ return 200 "xy $1\n"; }}
            if ($http_x_q = close) {{ return 444; }}
            return 200 "other\n";
        }}
        location ~ ^/hcap/(?<part>\\w+)/(\\d+)$ {{
            proxy_pass http://backend;
            proxy_set_header X-Cap "$1 $2 $part";
            add_header X-If $2;
        }}
        location ~ ^/uw/\\w+$ {{ return 200 "word\n"; }}
        location /rlog/ {{ rewrite_log on; rewrite ^/rlog/(.*)$ /b/$1 last; }}
    }}
}}
"""


def config(port: int, backend_port: int) -> str:
    return CONFIG.format(port=port, backend=backend_port, chain=_CHAIN)


def get(target: str, host: str = "localhost", *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()


CASES: dict[str, bytes] = {
    "return_with_variables": get("/x?y=1"),
    "map_exact_caseless": get("/", "localhost", "X-K: fOO"),
    "map_escaped_tilde": get("/", "localhost", "X-K: ~tilde"),
    "map_regex_capture": get("/", "localhost", "X-K: re55"),
    "map_regex_caseless": get("/", "localhost", "X-K: cIx"),
    "map_named_capture": get("/", "localhost", "X-K: abc-named"),
    "map_default": get("/", "localhost", "X-K: none"),
    "map_host_dot_subdomain": get("/", "a.example.com"),
    "map_host_dot_itself": get("/", "example.com"),
    "map_host_head": get("/", "x.y.w.org"),
    "map_host_tail": get("/", "www.t.net"),
    "map_host_exact": get("/", "exact.org"),
    "map_host_trailing_dot": get("/", "exact.org."),
    "rewrite_last_with_args": get("/a/foo?q=2"),
    "rewrite_question_mark_drops_args": get("/noargs?q=2"),
    "rewrite_without_flag_continues": get("/noflag/z?k=1"),
    "server_level_rewrite": get("/srv/zz?k=1"),
    "server_level_if_return": get("/", "localhost", "X-Block: yes"),
    "server_if_single_quoted": get("/q?a=1", "localhost", "X-Canonical: other"),
    "server_if_unquoted_regex_parens": get("/", "localhost", "User-Agent: GoodBot/1"),
    "redirect_permanent_url": get("/r?k=v"),
    "redirect_flag_relative": get("/r2/abc?k=v"),
    "redirect_url_with_args": get("/r3?k=v"),
    "redirect_scheme": get("/r4?k=v"),
    "if_equal": get("/i?q=yes"),
    "if_regex_named_capture": get("/i?q=42"),
    "if_regex_caseless": get("/i?q=abcd"),
    "if_not_regex": get("/i?q=qq"),
    "if_fall_through": get("/i?q=zz"),
    "if_truthy": get("/t?t=1"),
    "if_zero_is_false": get("/t?t=0"),
    "if_empty_is_false": get("/t"),
    "break_stops_script": get("/brk"),
    "rewrite_cycle_500": get("/loop"),
    "ten_uri_changes_served": get("/h1"),
    "eleven_uri_changes_500": get("/h0"),
    "location_regex_captures": get("/cap/77/rest/of"),
    "break_passes_rewritten_uri": get("/p/a/b?k=1"),
    "break_ignores_proxy_pass_uri": get("/pp/x?k=1"),
    "last_into_proxy_pass_uri": get("/pl/y?k=2"),
    "break_with_new_args": get("/pq/z?k=3"),
    "unrewritten_uri_passes_raw": get("/plain/a%2Fb/../c?k=1"),
    "if_add_header_replaces": get("/hdr?h=1"),
    "no_if_add_header": get("/hdr"),
    "if_proxy_pass_taken": get("/ifpass?other=1"),
    "if_proxy_pass_not_taken": get("/ifpass"),
    "file_test_f": get("/f"),
    "file_test_not_d": get("/d"),
    "file_test_e": get("/e"),
    "file_test_x": get("/x"),
    "rewritten_uri_escaped": get("/enc/a%20b"),
    "set_args": get("/setargs?old=1"),
    "map_in_proxy_set_header": get("/mp", "localhost", "X-K: re7"),
    "return_url_with_variables": get("/retvar?a=b"),
    "return_bare_code": get("/bare"),
    "uninitialized_set_variable": get("/uninit"),
    "rewrite_log_location": get("/rlog/logged?k=1"),
    "server_name_captures_in_headers": get("/x", "blog.main.sites"),
    "server_name_captures_in_return": get("/ret", "shop.two.sites"),
    "pcre_word_is_ascii": get("/uw/%C3%A9"),
    "pcre_word_ascii_matches": get("/uw/abc_1"),
    "regex_location_captures_in_headers": get("/hcap/abc/42?k=1"),
    "if_quoted_empty": get("/quoted"),
    "if_quoted_with_space": get("/quoted", "localhost", "X-Q: b c"),
    "if_quoted_regex": get("/quoted", "localhost", "X-Q: y"),
    "if_return_444_closes": get("/quoted", "localhost", "X-Q: close"),
    "redirect_capture_of_escaped_uri": get("/r2/a%20b%26c?k=v"),
    "redirect_capture_plain_uri": get("/r2/a&b"),
    "args_capture_of_escaped_uri": get("/argcap/a%20b%26c"),
    "args_capture_with_plus": get("/argcap/a+b&c"),
    "args_capture_plain_uri": get("/argcap/a&b"),
    "decoded_question_mark_stays_in_path": get("/qmark/a%3Fb?k=1"),
    "server_break_ignores_proxy_pass_uri": get("/sb/x?k=1"),
}


# The worked example of docs/configuration.md ("The rewrite module and map"), as written there
# but for the ports.
EXAMPLE = """
error_log logs/error.log;
pid logs/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    map $http_x_api_key $tier {{
        default        free;
        ~^pro-(?<org>\\w+)$ pro-$org;
        key-internal   internal;
    }}
    upstream app {{ server 127.0.0.1:{backend}; }}
    server {{
        listen 127.0.0.1:{port};
        rewrite ^/old/(.*)$ /v2/$1 permanent;
        location /v2/ {{
            if ($tier = free) {{ add_header X-Tier free; }}
            rewrite ^/v2/(.*)$ /$1 break;
            proxy_pass http://app;
            proxy_set_header X-Tier $tier;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_http_version 1.1;
        }}
        location = /health {{ return 200 "ok $request_uri\\n"; }}
    }}
}}
"""


def example_config(port: int, backend_port: int) -> str:
    return EXAMPLE.format(port=port, backend=backend_port)


EXAMPLE_CASES: dict[str, bytes] = {
    "old_link_redirected": get("/old/a?x=1"),
    "v2_proxied_without_prefix": get("/v2/a?x=1"),
    "pro_key_mapped": get("/v2/b", "localhost", "X-Api-Key: pro-acme"),
    "internal_key": get("/v2/c", "localhost", "X-Api-Key: key-internal", "Upgrade: websocket"),
    "health": get("/health?probe=1"),
}
