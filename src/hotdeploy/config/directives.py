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
ANY_CONTEXT = frozenset({MAIN, EVENTS, HTTP, SERVER, LOCATION, UPSTREAM, MATCH})
_HSL = frozenset({HTTP, SERVER, LOCATION})
_HS = frozenset({HTTP, SERVER})
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
    "error_log": (_s({MAIN}, 1, 2),),
    "worker_processes": (_s({MAIN}, 1, 1),),
    "worker_cpu_affinity": (_s({MAIN}, 1, MANY),),
    "events": (_b({MAIN}, 0, 0, EVENTS),),
    "worker_connections": (_s({EVENTS}, 1, 1),),
    "include": (_s(ANY_CONTEXT, 1, 1),),
    "http": (_b({MAIN}, 0, 0, HTTP),),
    # --- http core -------------------------------------------------------------------------
    "server": (_b({HTTP}, 0, 0, SERVER), _s({UPSTREAM}, 1, MANY)),
    "listen": (_s({SERVER}, 1, MANY),),
    "server_name": (_s({SERVER}, 1, MANY),),
    "location": (_b({SERVER, LOCATION}, 1, 2, LOCATION),),
    "return": (_s({SERVER, LOCATION}, 1, 2),),
    "add_header": (_s(_HSL, 2, 3),),
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
    # --- proxy -------------------------------------------------------------------------------
    "proxy_pass": (_s({LOCATION}, 1, 1),),
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
