"""The two configuration files of a benchmark run.

`proxy.conf` is the ONE nginx.conf that both proxies read with the same flags
(`nginx -c FILE -p DIR` and `hotdeploy lb -c FILE -p DIR`), so they do the same work.
`backends.conf` runs the two backends as one nginx with one worker answering from memory.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

BACKEND_BODY = "ok, hotdeploy bench backend\n"

# High enough that neither side closes a keep-alive connection during a run: with nginx's
# default of 1000, every wrk connection would be re-opened every 1000 requests and the
# figures would measure connection set-up instead of proxying.
KEEPALIVE_REQUESTS = 1_000_000

# Upstream `keepalive` must be at least the number of concurrent clients, or upstream
# connections churn (nginx with keepalive 32 at 64 clients lost 30-50% of its throughput).
UPSTREAM_KEEPALIVE = 256

# Room for 10,000 idle clients plus their upstream connections in one worker (nginx does not
# spread accepted connections evenly over its workers), under the fd limit run.py sets.
WORKER_CONNECTIONS = 16384

# The large response of the `get1m` mode: a static file of the backends, sent with sendfile(2).
LARGE_PATH = "/1m"
LARGE_SIZE = 2**20


@dataclass(frozen=True)
class Ports:
    proxy: int
    backend_a: int
    backend_b: int


def _main_and_http_head(purpose: str) -> str:
    """The part both generated files share: one worker, no daemon, logs under the prefix, and the
    opening of `http` with access logging off and long client keep-alive."""
    return f"""# Written by bench/run.py: {purpose}.
worker_processes 1;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log warn;

events {{
    worker_connections {WORKER_CONNECTIONS};
}}

http {{
    access_log off;
    keepalive_requests {KEEPALIVE_REQUESTS};
"""


def proxy_conf(ports: Ports, workers: int = 1) -> str:
    """nginx.conf for the proxy under test: upstream of both backends, keep-alive both ways;
    `workers`: worker_processes of both proxies (the backends keep one)."""
    head = _main_and_http_head("read by both `nginx` and `hotdeploy lb`")
    head = head.replace("worker_processes 1;", f"worker_processes {workers};")
    return head + f"""
    upstream backend {{
        server 127.0.0.1:{ports.backend_a};
        server 127.0.0.1:{ports.backend_b};
        keepalive {UPSTREAM_KEEPALIVE};
        keepalive_requests {KEEPALIVE_REQUESTS};
    }}

    server {{
        listen 127.0.0.1:{ports.proxy};

        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Room for the 16 KiB body of the `post16k` mode and its headers: a body that does
            # not fit is written to a temporary file (nginx's is outside the prefix).
            client_body_buffer_size 64k;
            # hotdeploy never spills a response to a temp file (it pauses the upstream instead);
            # 0 makes nginx do the same, so a 1 MiB response is streamed, not written to disk.
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""


def backends_conf(ports: Ports) -> str:
    """Two backends in one nginx worker: answering from memory costs a few microseconds,
    far less than proxying, so the backends are never the bottleneck being measured.
    `LARGE_PATH` is a static file under the prefix's html/ (see `write_backend_files`)."""
    servers = "\n".join(
        f"""    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            return 200 "{BACKEND_BODY.strip()}\\n";
        }}
        location = {LARGE_PATH} {{
            root html;
        }}
    }}"""
        for port in (ports.backend_a, ports.backend_b)
    )
    head = _main_and_http_head("the two benchmark backends")
    # Started as root, nginx's workers would run as `nobody` and could not read the large file
    # under the bench's private (0700) work directory: keep them as the user who runs the bench
    # (for any other user nginx only warns that `user` is ignored).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
    head = head.replace("worker_processes 1;", user + "worker_processes 1;")
    return head + f"""    default_type text/plain;
    sendfile on;

{servers}
}}
"""


def write_prefix(root: Path, name: str, text: str) -> tuple[Path, Path]:
    """Create prefix ROOT/NAME with logs/ (nginx needs it) and ROOT/NAME/nginx.conf."""
    prefix = root / name
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf, prefix


def write_backend_files(prefix: Path) -> None:
    """The static file behind `LARGE_PATH` in the backends' prefix."""
    html = prefix / "html"
    html.mkdir(parents=True, exist_ok=True)
    (html / LARGE_PATH.lstrip("/")).write_bytes(b"x" * LARGE_SIZE)
