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
# limit_req_status / limit_conn_status and their log levels (nginx's defaults).
DEFAULT_LIMIT_STATUS = 503
DEFAULT_LIMIT_LOG_LEVEL = "error"
DEFAULT_DAEMON = True
DEFAULT_WORKER_PROCESSES = 1
DEFAULT_WORKER_CONNECTIONS = 512
# worker_processes N: how often a worker publishes its upstream state to the shared table and
# reads the others' (the longest a failure or a connection in one worker goes unseen by another)
ZONE_SYNC_INTERVAL = 0.02
# worker_processes N: a worker that dies is started again, but not more often than this
WORKER_RESPAWN_DELAY = 0.1

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
DEFAULT_RESOLVER_TIMEOUT = 30.0  # resolver_timeout (ngx_http_core_module)
DEFAULT_UPSTREAM_TLS_PORT = 443  # `proxy_pass https://host` without a port
# Connections accepted per readiness event of a `listen ... ssl` socket (nginx accepts one per
# event without multi_accept; a small batch keeps a burst of handshakes from starving others).
TLS_ACCEPT_BATCH = 16

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
# lingering_time / lingering_timeout: nginx reads (and drops) what a client still sends after
# a response that closes the connection, so that its RST does not destroy that response.
DEFAULT_LINGERING_TIME = 30.0
DEFAULT_LINGERING_TIMEOUT = 5.0
DEFAULT_KEEPALIVE_REQUESTS = 1000
DEFAULT_KEEPALIVE_TIME = 3600.0
DEFAULT_KEEPALIVE_DISABLE = ("msie6",)
DEFAULT_CLIENT_HEADER_BUFFER_SIZE = 1024
DEFAULT_LARGE_CLIENT_HEADER_BUFFERS = (4, 8 * 1024)
DEFAULT_CLIENT_BODY_BUFFER_SIZE = 16 * 1024
# client_body_temp_path default: `client_body_temp` under the prefix (nginx's build default).
DEFAULT_CLIENT_BODY_TEMP_PATH = "client_body_temp"
DEFAULT_REAL_IP_HEADER = "X-Real-IP"

# --- proxy ------------------------------------------------------------------------------------
DEFAULT_PROXY_CONNECT_TIMEOUT = 60.0
DEFAULT_PROXY_READ_TIMEOUT = 60.0
DEFAULT_PROXY_SEND_TIMEOUT = 60.0
DEFAULT_PROXY_NEXT_UPSTREAM = ("error", "timeout")
DEFAULT_PROXY_NEXT_UPSTREAM_TRIES = 0  # 0 = no limit
DEFAULT_PROXY_NEXT_UPSTREAM_TIMEOUT = 0.0  # 0 = no limit
DEFAULT_PROXY_BUFFER_SIZE = 8 * 1024
# nginx's default `proxy_buffers 8 4k` (one memory page each): only used to reproduce its
# check that proxy_buffer_size is at most 14k ("proxy_busy_buffers_size" must be less ...).
DEFAULT_PROXY_BUFFERS_NUMBER = 8
DEFAULT_PROXY_BUFFERS_SIZE = 4 * 1024
# Response bytes held for a slow client before the upstream is paused (proxy_buffers 8 8k
# plus proxy_busy_buffers: nginx would spill to a temp file beyond this; we apply back-pressure).
DEFAULT_PROXY_BUFFERED_LIMIT = 64 * 1024
# nginx's default proxy_busy_buffers_size is twice proxy_buffer_size.
PROXY_BUSY_BUFFERS_FACTOR = 2
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

# --- NGINX Plus API ------------------------------------------------------------------------
API_VERSION = 9
API_VERSIONS = tuple(range(1, API_VERSION + 1))

# --- Prometheus metrics (hotdeploy `metrics;` location) -------------------------------------------
# Upper bounds (seconds) of the upstream response time histogram; +Inf is implied.
UPSTREAM_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                            5.0, 10.0)

# --- graceful shutdown ----------------------------------------------------------------------------
DEFAULT_QUIT_TIMEOUT = 30.0  # SIGQUIT: how long in-flight requests may take before we exit anyway

# --- control plane: hotdeploy.toml (issue 4) -----------------------------------------------
PROJECT_FILE = "hotdeploy.toml"
PROJECT_STATE_DIR = ".hotdeploy"  # beside the project file: state, sockets, logs, nginx.conf
PROJECT_LISTEN = "127.0.0.1:8080"
PROJECT_ADMIN_LISTEN = "127.0.0.1:0"  # 0 = a free loopback port chosen at `up`
PROJECT_HEALTH_URI = "/health"
PROJECT_HEALTH_INTERVAL = 1.0  # faster than NGINX Plus's 5s so deploys are not gated for long
PROJECT_MAX_FAILS = 3  # the seed's configurations
PROJECT_FAIL_TIMEOUT = 30.0
PROJECT_UPSTREAM_KEEPALIVE = 64  # >= concurrent clients, or upstream connections churn
DEPLOY_DRAIN_TIMEOUT = 30.0
DEPLOY_HEALTH_TIMEOUT = 60.0
BLUE_GREEN_KEEP = 60.0  # the old colour stays running (idle) this long so rollback is instant
CANARY_STEPS = (10, 50, 100)
CANARY_PAUSE = 10.0
CANARY_MAX_ERROR_INCREASE = 0.05  # 5 percentage points of 5xx above the baseline
CANARY_MAX_LATENCY_RATIO = 2.0
CANARY_MIN_REQUESTS = 20  # fewer canary requests than this in a step: no latency verdict
INSTANCE_STOP_GRACE = 10.0  # SIGTERM, then SIGKILL after this
RESTART_BACKOFF_BASE = 0.5
RESTART_BACKOFF_MAX = 30.0
RESTART_MAX = 5  # crashes within RESTART_WINDOW before an instance is reported, not restarted
RESTART_WINDOW = 60.0
CONTROL_SOCKET = "control.sock"
RELEASES_DIR = "releases"  # under the state directory: releases/<service>/<version>/
# Never part of a release, whatever `exclude` says: hotdeploy's own state (it holds the release
# store itself), version control, and bytecode caches (rebuilt by the interpreter).
RELEASE_ALWAYS_EXCLUDED = (".hotdeploy/", ".git/", "__pycache__/")
DEPLOY_KEEP_RELEASES = 5  # per service; the current and previous releases are never pruned
RELEASE_DIGEST_CHARS = 12  # a release without --version is named by this much of its digest

WATCH_DEBOUNCE = 0.5  # `up --watch`: quiet time after the last change before a release is built
CONTROL_POLL_INTERVAL = 0.25  # supervisor: how often instance liveness is checked

# --- autoscaling in the control process (`autoscale = {...}`, orchestrator.autoscale) ----------
# Requests in flight per instance to aim at. Knative's default is 100 for any container; a
# Python integration service saturates far earlier, so hotdeploy aims lower.
AUTOSCALE_INFLIGHT = 10
AUTOSCALE_CPU = 80  # Kubernetes only: percent of the CPU request (the HPA's target)
AUTOSCALE_WINDOW = 30.0  # seconds of samples averaged before a step up
# The load must stay low this long before a step down: Kubernetes' default scale-down
# stabilization window, so both platforms shed instances at the same pace.
AUTOSCALE_COOLDOWN = 300.0
# "Low" is below this share of the target: one instance fewer then stays at or under the
# target for any count >= 2 (n * t/2 spread over n - 1 is at most t), so it cannot flap.
AUTOSCALE_LOW_FRACTION = 0.5
AUTOSCALE_SAMPLE_INTERVAL = 0.5  # seconds between two reads of the balancer's in-flight counts

# --- the docker runtime -------------------------------------------------------------------
DOCKER_BASE_IMAGE = "python:3.11-slim"  # [runtime] base_image: needs python3 >= 3.11
DOCKER_SOCKET = "unix:///var/run/docker.sock"  # when neither docker_host nor $DOCKER_HOST
DOCKER_CONTAINER_PORT = 8000  # what an instance listens on inside its own network (bridge)
DOCKER_USER = "10001:10001"  # instances run as this unprivileged uid:gid
DOCKER_BUILD_LOG_LINES = 15  # lines of a failed image build quoted in the error

# --- balancer (hotdeploy's own choices) ----------------------------------------------------------
# NGINX Plus `slow_start`: a recovering server's weight ramps linearly from 0 to nominal; we
# start the ramp at this fraction of the nominal weight so the server gets a minimal share
# (and a first request that proves it works) from the moment it is back.
SLOW_START_MIN_FRACTION = 0.05
# When no server of an upstream is eligible, old nginx (and NGINX-SEMANTICS.md) resets every
# server's failure counter ("mark them as live for quick recovery") so the next request tries
# again at once. nginx 1.22.1, observed here, no longer does: it answers "no live upstreams" until
# fail_timeout has passed. True = the quick-recovery rule (PeerGroup.reset_on_no_live).
NO_LIVE_UPSTREAMS_RESETS_FAILS = True

# --- data path internals (hotdeploy.proxy) --------------------------------------------------------
PROXY_PIPELINE_LIMIT = 16  # pipelined requests parsed ahead of the one answered; then stop reading
PROXY_UPGRADE_BUFFER_LIMIT = 64 * 1024  # early tunnel bytes held until the upstream answers 101
UPSTREAM_POOL_SWEEP_INTERVAL = 1.0  # seconds between closing idle upstream connections / log flush
ROUTE_SERVER_CACHE_SIZE = 1024  # (listen, Host) -> virtual server lookups remembered
# Routing answers (listen, Host, path) -> location plan cached per configuration generation.
ROUTE_PLAN_CACHE_SIZE = 4096
DRAIN_POLL_INTERVAL = 0.05  # seconds between checks while waiting for in-flight requests
