"""Tools for end-to-end tests of `hotdeploy lb`: real backend processes, a real balancer
process, and a bounded steady load that counts every failed request."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED_CONFIGS = HERE.parent / "data" / "seed_configs"
BACKEND_SCRIPT = HERE / "backend_server.py"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Backend:
    name: str
    host: str
    port: int
    process: subprocess.Popen[str]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def start_backend(name: str, host: str = "127.0.0.1", port: int = 0,
                  env: dict[str, str] | None = None) -> Backend:
    process = subprocess.Popen(
        [sys.executable, str(BACKEND_SCRIPT), name, host, str(port)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("ready "):
        process.kill()
        raise RuntimeError(f"backend {name} did not start: {line!r}")
    return Backend(name, host, int(line.split()[1]), process)


def seed_config(name: str, listen: str, servers: list[str], extra_http: str = "",
                fail_timeout: str | None = None) -> str:
    """A seed configuration with only its addresses substituted (ports are not free at 80).

    `servers` replaces, in order, the `server 127.0.0.x` addresses; `listen` is added or replaces
    `listen 80`. Everything else stays as the seed wrote it.
    """
    text = (SEED_CONFIGS / name).read_text()
    for index, address in enumerate(servers, start=1):
        text = text.replace(f"server 127.0.0.{index} ", f"server {address} ", 1)
    if "listen 80;" in text:
        text = text.replace("listen 80;", f"listen {listen};")
    else:
        text = text.replace("server {", f"server {{\n      listen {listen};", 1)
    if fail_timeout is not None:
        text = text.replace("fail_timeout=30s", f"fail_timeout={fail_timeout}")
    if extra_http:
        text = text.replace("http {", "http {\n" + extra_http, 1)
    return text


@dataclass
class Balancer:
    conf: Path
    prefix: Path
    process: subprocess.Popen[str]
    port: int

    @property
    def pid_path(self) -> Path:
        return self.prefix / "logs" / "nginx.pid"

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""


def lb_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hotdeploy", "lb", *args]


def run_lb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lb_command(*args), capture_output=True, text=True, cwd=cwd, timeout=60)


def start_balancer(tmp: Path, config_text: str, port: int) -> Balancer:
    prefix = tmp
    (prefix / "logs").mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(config_text)
    process = subprocess.Popen(
        lb_command("-p", str(prefix), "-c", str(conf), "-g", "daemon off;"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    balancer = Balancer(conf, prefix, process, port)
    wait_listening("127.0.0.1", port, process)
    return balancer


def wait_listening(host: str, port: int, process: subprocess.Popen[str] | None = None,
                   timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(f"balancer exited {process.returncode}: {err or out}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{host}:{port} not listening after {timeout}s")


def get(port: int, path: str = "/", method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class LoadResult:
    ok: int = 0
    failed: int = 0
    by_backend: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class SteadyLoad:
    """Keep-alive load from a few client threads (GET and POST alternating), loopback only,
    bounded by `max_requests` and `max_seconds`. A failure is an exception or a 5xx answer."""

    def __init__(self, port: int, workers: int = 4, max_requests: int = 20000,
                 max_seconds: float = 60.0, path: str = "/", post: bool = True) -> None:
        self.port = port
        self.workers = workers
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.path = path
        self.post = post
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sent = 0

    def __enter__(self) -> SteadyLoad:
        self._deadline = time.monotonic() + self.max_seconds
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _take(self) -> bool:
        with self._lock:
            if self._sent >= self.max_requests or time.monotonic() > self._deadline:
                return False
            self._sent += 1
            return True

    def _record(self, ok: bool, backend: str | None, error: str | None) -> None:
        with self._lock:
            if ok:
                self.result.ok += 1
                if backend:
                    self.result.by_backend[backend] = self.result.by_backend.get(backend, 0) + 1
            else:
                self.result.failed += 1
                if error and len(self.result.errors) < 20:
                    self.result.errors.append(error)

    def _work(self, index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        count = 0
        while not self._stop.is_set() and self._take():
            count += 1
            method = "POST" if self.post and count % 2 else "GET"
            body = b"payload-%d" % count if method == "POST" else None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request(method, self.path, body=body)
                response = conn.getresponse()
                response.read()
                if response.status >= 500:
                    self._record(False, None, f"{method} -> {response.status}")
                else:
                    self._record(True, response.getheader("X-Backend"), None)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                self._record(False, None, f"{method} -> {type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.002)
        if conn is not None:
            conn.close()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.result.ok + self.result.failed >= count:
                    return
            time.sleep(0.01)


def strip_comments(text: str) -> str:
    return re.sub(r"#.*", "", text)


def children_of(pid: int) -> set[int]:
    """The processes `pid` forked (a master's workers), from /proc."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(child) for child in text.split()}


def wait_children(pid: int, count: int, timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = children_of(pid)
        if len(children) == count:
            return children
        time.sleep(0.05)
    raise AssertionError(f"master {pid} has {children_of(pid)} workers, wanted {count}")
