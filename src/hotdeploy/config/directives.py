"""Which directives hotdeploy accepts, where, and with how many arguments.

This mirrors what nginx checks in ngx_conf_handler before any directive handler runs:
the context (`"x" directive is not allowed here`), block vs simple directive, and the
argument count (`invalid number of arguments in "x" directive`). A name missing here is
`unknown directive "x"`, even when nginx knows it: hotdeploy never silently ignores a
directive whose effect it does not implement.
"""

from __future__ import annotations

from dataclasses import dataclass

MAIN, EVENTS, HTTP, SERVER, LOCATION, UPSTREAM, MATCH = (
    "main", "events", "http", "server", "location", "upstream", "match",
)
# `if` blocks in a server / in a location (nginx's NGX_HTTP_SIF_CONF / NGX_HTTP_LIF_CONF), and
# the inside of `map`, whose lines are its own key/value pairs rather than directives.
SIF, LIF, MAP = "if in server", "if in location", "map"
# Contexts whose lines are read as words, not looked up in DIRECTIVES (`include` still works).
RAW_CONTEXTS = frozenset({MAP})
# Inside `types { ... }` every line is `mime/type ext...;`: any name, one or more arguments
# (the reader checks them with TYPES_ENTRY instead of this table).
TYPES = "types"
ANY_CONTEXT = frozenset({MAIN, EVENTS, HTTP, SERVER, LOCATION, UPSTREAM, MATCH, SIF, LIF, MAP})
_HSL = frozenset({HTTP, SERVER, LOCATION})
_HS = frozenset({HTTP, SERVER})
_REWRITE = frozenset({SERVER, SIF, LOCATION, LIF})  # where the rewrite module's directives go
MANY = 1 << 16  # "1MORE" / "2MORE": no upper bound


@dataclass(frozen=True, slots=True)
class DirectiveSpec:
    contexts: frozenset[str]
    min_args: int
    max_args: int
    block: bool = False
    # The context a block directive opens (None for simple directives).
    opens: str | None = None


def _s(contexts: frozenset[str] | set[str], lo: int, hi: int) -> DirectiveSpec:
    return DirectiveSpec(frozenset(contexts), lo, hi)


def _b(contexts: set[str], lo: int, hi: int, opens: str) -> DirectiveSpec:
    return DirectiveSpec(frozenset(contexts), lo, hi, block=True, opens=opens)


_TEMP_PATH = _s(_HSL, 1, 4)  # client_body_temp_path is used; the others are accepted

# name -> the specs of every module that defines it (nginx's `server` exists twice: the http
# core block and the upstream server line; the first whose context matches wins).
DIRECTIVES: dict[str, tuple[DirectiveSpec, ...]] = {
    # --- main / events ---------------------------------------------------------------------
    "daemon": (_s({MAIN}, 1, 1),),
    "pid": (_s({MAIN}, 1, 1),),
    "error_log": (_s({MAIN, HTTP, SERVER, LOCATION}, 1, 2),),
    "worker_processes": (_s({MAIN}, 1, 1),),
    "worker_cpu_affinity": (_s({MAIN}, 1, MANY),),
    "events": (_b({MAIN}, 0, 0, EVENTS),),
    "worker_connections": (_s({EVENTS}, 1, 1),),
    "include": (_s(ANY_CONTEXT, 1, 1),),
    "http": (_b({MAIN}, 0, 0, HTTP),),
    "user": (_s({MAIN}, 1, 2),),
    "worker_rlimit_nofile": (_s({MAIN}, 1, 1),),
    "load_module": (_s({MAIN}, 1, 1),),
    "multi_accept": (_s({EVENTS}, 1, 1),),
    "use": (_s({EVENTS}, 1, 1),),
    # --- http core -------------------------------------------------------------------------
    "server": (_b({HTTP}, 0, 0, SERVER), _s({UPSTREAM}, 1, MANY)),
    "listen": (_s({SERVER}, 1, MANY),),
    "server_name": (_s({SERVER}, 1, MANY),),
    "location": (_b({SERVER, LOCATION}, 1, 2, LOCATION),),
    "add_header": (_s(_HSL | {LIF}, 2, 3),),
    "expires": (_s(_HSL | {LIF}, 1, 2),),
    "internal": (_s({LOCATION}, 0, 0),),
    "error_page": (_s(_HSL, 2, MANY),),
    "access_log": (_s(_HSL, 1, MANY),),
    "log_format": (_s({HTTP}, 2, MANY),),
    "keepalive_timeout": (_s(_HSL, 1, 2), _s({UPSTREAM}, 1, 1)),
    "keepalive_requests": (_s(_HSL, 1, 1), _s({UPSTREAM}, 1, 1)),
    "keepalive_time": (_s(_HSL, 1, 1), _s({UPSTREAM}, 1, 1)),
    "keepalive_disable": (_s(_HSL, 1, 2),),
    "client_max_body_size": (_s(_HSL, 1, 1),),
    "client_header_timeout": (_s(_HS, 1, 1),),
    "client_body_timeout": (_s(_HSL, 1, 1),),
    "send_timeout": (_s(_HSL, 1, 1),),
    "large_client_header_buffers": (_s(_HS, 2, 2),),
    "client_header_buffer_size": (_s(_HS, 1, 1),),
    "underscores_in_headers": (_s(_HS, 1, 1),),
    "ignore_invalid_headers": (_s(_HS, 1, 1),),
    "client_body_buffer_size": (_s(_HSL, 1, 1),),
    "set_real_ip_from": (_s(_HSL, 1, 1),),
    "real_ip_header": (_s(_HSL, 1, 1),),
    "real_ip_recursive": (_s(_HSL, 1, 1),),
    "allow": (_s(_HSL, 1, 1),),
    "deny": (_s(_HSL, 1, 1),),
    "client_body_temp_path": (_TEMP_PATH,),
    "proxy_temp_path": (_TEMP_PATH,),
    "fastcgi_temp_path": (_TEMP_PATH,),
    "uwsgi_temp_path": (_TEMP_PATH,),
    "scgi_temp_path": (_TEMP_PATH,),
    # --- static content, gzip, charset, and settings without effect (config/static.py) -----
    "root": (_s(_HSL, 1, 1),),
    "alias": (_s({LOCATION}, 1, 1),),
    "index": (_s(_HSL, 1, MANY),),
    "autoindex": (_s(_HSL, 1, 1),),
    "autoindex_exact_size": (_s(_HSL, 1, 1),),
    "autoindex_format": (_s(_HSL, 1, 1),),
    "autoindex_localtime": (_s(_HSL, 1, 1),),
    "gzip_static": (_s(_HSL, 1, 1),),
    "max_ranges": (_s(_HSL, 1, 1),),
    "gzip_disable": (_s(_HSL, 1, MANY),),
    "gzip_http_version": (_s(_HSL, 1, 1),),
    "try_files": (_s({SERVER, LOCATION}, 2, MANY),),
    "types": (_b(set(_HSL), 0, 0, TYPES),),
    "default_type": (_s(_HSL, 1, 1),),
    "etag": (_s(_HSL, 1, 1),),
    "if_modified_since": (_s(_HSL, 1, 1),),
    "server_tokens": (_s(_HSL, 1, 1),),
    "charset": (_s(_HSL, 1, 1),),
    "charset_types": (_s(_HSL, 1, MANY),),
    "absolute_redirect": (_s(_HSL, 1, 1),),
    "port_in_redirect": (_s(_HSL, 1, 1),),
    "server_name_in_redirect": (_s(_HSL, 1, 1),),
    "log_not_found": (_s(_HSL, 1, 1),),
    "gzip": (_s(_HSL, 1, 1),),
    "gzip_types": (_s(_HSL, 1, MANY),),
    "gzip_min_length": (_s(_HSL, 1, 1),),
    "gzip_comp_level": (_s(_HSL, 1, 1),),
    "gzip_vary": (_s(_HSL, 1, 1),),
    "gzip_proxied": (_s(_HSL, 1, MANY),),
    "sendfile": (_s(_HSL, 1, 1),),
    "tcp_nopush": (_s(_HSL, 1, 1),),
    "types_hash_max_size": (_s(_HSL, 1, 1),),
    "types_hash_bucket_size": (_s(_HSL, 1, 1),),
    # --- proxy -------------------------------------------------------------------------------
    "proxy_pass": (_s({LOCATION, LIF}, 1, 1),),
    "resolver": (_s(_HSL, 1, MANY),),
    "resolver_timeout": (_s(_HSL, 1, 1),),
    "proxy_set_header": (_s(_HSL, 2, 2),),
    "proxy_http_version": (_s(_HSL, 1, 1),),
    "proxy_pass_request_headers": (_s(_HSL, 1, 1),),
    "proxy_pass_request_body": (_s(_HSL, 1, 1),),
    "proxy_connect_timeout": (_s(_HSL, 1, 1),),
    "proxy_read_timeout": (_s(_HSL, 1, 1),),
    "proxy_send_timeout": (_s(_HSL, 1, 1),),
    "proxy_next_upstream": (_s(_HSL, 1, MANY),),
    "proxy_next_upstream_tries": (_s(_HSL, 1, 1),),
    "proxy_next_upstream_timeout": (_s(_HSL, 1, 1),),
    "proxy_intercept_errors": (_s(_HSL, 1, 1),),
    "proxy_buffering": (_s(_HSL, 1, 1),),
    "proxy_request_buffering": (_s(_HSL, 1, 1),),
    "proxy_hide_header": (_s(_HSL, 1, 1),),
    "proxy_pass_header": (_s(_HSL, 1, 1),),
    "proxy_buffer_size": (_s(_HSL, 1, 1),),
    # --- rewrite, map ------------------------------------------------------------------------
    "rewrite": (_s(_REWRITE, 2, 3),),
    "return": (_s(_REWRITE, 1, 2),),
    "set": (_s(_REWRITE, 2, 2),),
    "break": (_s(_REWRITE, 0, 0),),
    "if": (_b({SERVER, SIF}, 1, MANY, SIF), _b({LOCATION, LIF}, 1, MANY, LIF)),
    "rewrite_log": (_s(_HSL | {SIF, LIF}, 1, 1),),
    "uninitialized_variable_warn": (_s(_HSL | {SIF, LIF}, 1, 1),),
    "map": (_b({HTTP}, 2, 2, MAP),),
    # --- TLS: ngx_http_ssl_module, proxy_ssl_* (config/tls.py) --------------------------------
    **{name: (_s(_HS, 1, MANY if name == "ssl_protocols" else 1),)
       for name in ("ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers",
                    "ssl_prefer_server_ciphers", "ssl_session_timeout", "ssl_session_tickets")},
    "ssl_session_cache": (_s(_HS, 1, 2),),
    **{name: (_s(_HSL, 1, MANY if name == "proxy_ssl_protocols" else 1),)
       for name in ("proxy_ssl_server_name", "proxy_ssl_name", "proxy_ssl_verify",
                    "proxy_ssl_verify_depth", "proxy_ssl_trusted_certificate",
                    "proxy_ssl_protocols", "proxy_ssl_ciphers", "proxy_ssl_session_reuse")},
    # --- response header rewrites, buffers (config/proxy_rewrites.py) ------------------------
    "proxy_redirect": (_s(_HSL, 1, 2),),
    "proxy_cookie_domain": (_s(_HSL, 1, 2),),
    "proxy_cookie_path": (_s(_HSL, 1, 2),),
    "proxy_ignore_headers": (_s(_HSL, 1, MANY),),
    "proxy_buffers": (_s(_HSL, 2, 2),),
    "proxy_busy_buffers_size": (_s(_HSL, 1, 1),),
    "proxy_max_temp_file_size": (_s(_HSL, 1, 1),),
    # --- limit_req, limit_conn (config/limits.py) ----------------------------------------------
    "limit_req_zone": (_s({HTTP}, 3, 4),),  # 4: NGINX Plus `sync`
    "limit_req": (_s(_HSL, 1, 3),),
    "limit_req_status": (_s(_HSL, 1, 1),),
    "limit_req_log_level": (_s(_HSL, 1, 1),),
    "limit_req_dry_run": (_s(_HSL, 1, 1),),
    "limit_conn_zone": (_s({HTTP}, 2, 2),),
    "limit_conn": (_s(_HSL, 2, 2),),
    "limit_conn_status": (_s(_HSL, 1, 1),),
    "limit_conn_log_level": (_s(_HSL, 1, 1),),
    "limit_conn_dry_run": (_s(_HSL, 1, 1),),
    "stub_status": (_s({LOCATION}, 0, 1),),  # nginx: server too; hotdeploy: location only
    # --- how connections end, paths (config/connection_handling.py) --------------------------
    "lingering_close": (_s(_HSL, 1, 1),),
    "lingering_time": (_s(_HSL, 1, 1),),
    "lingering_timeout": (_s(_HSL, 1, 1),),
    "reset_timedout_connection": (_s(_HSL, 1, 1),),
    "merge_slashes": (_s(_HS, 1, 1),),
    "open_log_file_cache": (_s(_HSL, 1, 4),),
    # --- upstream ----------------------------------------------------------------------------
    "upstream": (_b({HTTP}, 1, 1, UPSTREAM),),
    "least_conn": (_s({UPSTREAM}, 0, 0),),
    "ip_hash": (_s({UPSTREAM}, 0, 0),),
    "hash": (_s({UPSTREAM}, 1, 2),),
    "random": (_s({UPSTREAM}, 0, 2),),
    "zone": (_s({UPSTREAM}, 1, 2),),
    "keepalive": (_s({UPSTREAM}, 1, 1),),
    "state": (_s({UPSTREAM}, 1, 1),),  # NGINX Plus
    "backup_mode": (_s({UPSTREAM}, 1, 1),),  # hotdeploy extension
    # --- NGINX Plus: active health checks, api; hotdeploy: metrics ----------------------------
    "health_check": (_s({LOCATION}, 0, MANY),),
    "match": (_b({HTTP}, 1, 1, MATCH),),
    "status": (_s({MATCH}, 1, MANY),),
    "header": (_s({MATCH}, 1, 3),),
    "body": (_s({MATCH}, 2, 2),),
    "api": (_s({LOCATION}, 0, 1),),
    "metrics": (_s({LOCATION}, 0, 0),),
}

TYPES_ENTRY = _s({TYPES}, 1, MANY)
