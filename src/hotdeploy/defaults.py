"""Every default value, named once, shared by the config model, the CLI and the docs.

nginx's defaults come from its documentation (module reference pages); NGINX Plus defaults from
the ngx_http_upstream_hc_module and ngx_http_api_module pages. Times are seconds (float),
sizes are bytes (int).
"""

from __future__ import annotations

# --- main / events -------------------------------------------------------------------------
DEFAULT_CONF_PATH = "conf/nginx.conf"  # relative to the prefix, as nginx's -c default
DEFAULT_PREFIX = "/usr/local/hotdeploy/"  # nginx: --prefix=/usr/local/nginx/
DEFAULT_PID_PATH = "logs/nginx.pid"  # nginx: relative to the prefix
DEFAULT_ERROR_LOG_PATH = "logs/error.log"
DEFAULT_ACCESS_LOG_PATH = "logs/access.log"
DEFAULT_ERROR_LOG_LEVEL = "error"
DEFAULT_DAEMON = True
DEFAULT_WORKER_PROCESSES = 1
DEFAULT_WORKER_CONNECTIONS = 512

# --- listen ---------------------------------------------------------------------------------
# nginx listens on *:80 when run as root and *:8000 otherwise when a server has no `listen`.
DEFAULT_LISTEN_PORT_ROOT = 80
DEFAULT_LISTEN_PORT_USER = 8000
DEFAULT_BACKLOG = 511

# --- upstream server parameters ---------------------------------------------------------------
DEFAULT_WEIGHT = 1
DEFAULT_MAX_FAILS = 1
DEFAULT_FAIL_TIMEOUT = 10.0
DEFAULT_MAX_CONNS = 0  # 0 = no limit
DEFAULT_SLOW_START = 0.0
DEFAULT_UPSTREAM_PORT = 80

# --- upstream keepalive ---------------------------------------------------------------------
DEFAULT_UPSTREAM_KEEPALIVE = 0  # no cache unless `keepalive N` is given
DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS = 1000
DEFAULT_UPSTREAM_KEEPALIVE_TIME = 3600.0
DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT = 60.0
CONSISTENT_HASH_POINTS_PER_WEIGHT = 160

# --- client side (http / server / location) ---------------------------------------------------
DEFAULT_CLIENT_MAX_BODY_SIZE = 1024 * 1024
DEFAULT_CLIENT_HEADER_TIMEOUT = 60.0
DEFAULT_CLIENT_BODY_TIMEOUT = 60.0
DEFAULT_SEND_TIMEOUT = 60.0
DEFAULT_KEEPALIVE_TIMEOUT = 75.0
DEFAULT_KEEPALIVE_REQUESTS = 1000
DEFAULT_KEEPALIVE_TIME = 3600.0
DEFAULT_KEEPALIVE_DISABLE = ("msie6",)
DEFAULT_CLIENT_HEADER_BUFFER_SIZE = 1024
DEFAULT_LARGE_CLIENT_HEADER_BUFFERS = (4, 8 * 1024)
DEFAULT_CLIENT_BODY_BUFFER_SIZE = 16 * 1024
DEFAULT_REAL_IP_HEADER = "X-Real-IP"

# --- proxy ------------------------------------------------------------------------------------
DEFAULT_PROXY_HTTP_VERSION = "1.0"
DEFAULT_PROXY_CONNECT_TIMEOUT = 60.0
DEFAULT_PROXY_READ_TIMEOUT = 60.0
DEFAULT_PROXY_SEND_TIMEOUT = 60.0
DEFAULT_PROXY_NEXT_UPSTREAM = ("error", "timeout")
DEFAULT_PROXY_NEXT_UPSTREAM_TRIES = 0  # 0 = no limit
DEFAULT_PROXY_NEXT_UPSTREAM_TIMEOUT = 0.0  # 0 = no limit
DEFAULT_PROXY_BUFFER_SIZE = 8 * 1024
# Response bytes held for a slow client before the upstream is paused (proxy_buffers 8 8k
# plus proxy_busy_buffers: nginx would spill to a temp file beyond this; we apply back-pressure).
DEFAULT_PROXY_BUFFERED_LIMIT = 64 * 1024
# proxy_set_header defaults that nginx applies unless overridden.
DEFAULT_PROXY_SET_HEADERS = (("Host", "$proxy_host"), ("Connection", "close"))
# Response headers nginx's proxy module hides by default.
DEFAULT_PROXY_HIDE_HEADERS = ("date", "server", "x-pad", "x-accel-expires", "x-accel-redirect",
                              "x-accel-limit-rate", "x-accel-buffering", "x-accel-charset")

# --- access log -------------------------------------------------------------------------------
COMBINED_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)

# --- NGINX Plus active health checks -----------------------------------------------------------
DEFAULT_HEALTH_CHECK_INTERVAL = 5.0
DEFAULT_HEALTH_CHECK_JITTER = 0.0
DEFAULT_HEALTH_CHECK_FAILS = 1
DEFAULT_HEALTH_CHECK_PASSES = 1
DEFAULT_HEALTH_CHECK_URI = "/"
HEALTH_CHECK_BODY_LIMIT = 256 * 1024  # match `body` tests read at most this much

# --- NGINX Plus API --------------------------------------------------------------------------------
API_VERSION = 9
API_VERSIONS = tuple(range(1, API_VERSION + 1))

# --- graceful shutdown ----------------------------------------------------------------------------
DEFAULT_QUIT_TIMEOUT = 30.0  # SIGQUIT: how long in-flight requests may take before we exit anyway
