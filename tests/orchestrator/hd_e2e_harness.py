"""Harness for the end-to-end deploy tests: a project on free loopback ports, the real CLI in
subprocesses, and a bounded keep-alive load generator that counts every failed request."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hotdeploy.orchestrator import client
from hotdeploy.orchestrator.state import ProjectPaths

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"
CLI = [sys.executable, "-m", "hotdeploy"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_project(tmp: Path, balancer: str = "active-active", deploy: str = "",
                 orders: int = 3, others: int = 1, engine: str = "builtin",
                 engine_extra: str = "") -> tuple[Path, int]:
    """A copy of examples/shop with a free listen port and smaller instance counts, routed by
    `engine` (`engine_extra`: more [balancer] keys, e.g. nginx_mode)."""
    root = tmp / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns(".hotdeploy", "__pycache__"))
    port = free_port()
    (root / "hotdeploy.toml").write_text(f"""
[project]
name = "shop"

[balancer]
listen = "127.0.0.1:{port}"
strategy = "{balancer}"
engine = "{engine}"
{engine_extra}
max_fails = 3
fail_timeout = "30s"
retry_non_idempotent = true  # the example apps' POSTs change nothing: safe to retry
health_check = {{ uri = "/health", interval = "500ms", fails = 1, passes = 1 }}

[services.orders]
app = "orders.api:app"
route = "/orders"
instances = {orders}
version = "1.0.0"

[services.payments]
app = "payments.api:app"
instances = {others}
version = "1.0.0"

[units.backoffice]
artifacts = {{ invoices = "invoices.api:app", reports = "reports.api:app" }}
instances = {others}
version = "1.0.0"

[deploy]
drain_timeout = "5s"
health_timeout = "3s"
stop_grace = "3s"
{deploy}
""")
    return root / "hotdeploy.toml", port


def cli(file: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run([*CLI, *args, "--file", str(file)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def status(file: Path) -> dict:
    """The control process's status, over its socket (what `status --json` prints)."""
    return client.request(ProjectPaths.for_file(file), "status", timeout=10)


def service(file: Path, name: str) -> dict:
    return next(s for s in status(file)["services"] if s["name"] == name)


def versions(file: Path, name: str) -> list[str]:
    return sorted(i["version"] for i in service(file, name)["instances"])


def pid_of(instance: dict) -> int:
    """A local instance's process id (the local runtime reports it in the handle's details)."""
    return int(instance["details"]["pid"])


def pids(file: Path, name: str) -> set[int]:
    return {pid_of(i) for i in service(file, name)["instances"]}


@dataclass
class Load:
    """Steady keep-alive GET and POST traffic (bounded rate, loopback only) that records every
    answer; a failure is a connection error or a 5xx."""

    base: str
    path: str = "/orders"
    clients: int = 2
    pause: float = 0.004  # per client between requests: at most a few hundred requests/s
    limit: float = 120  # seconds: a hard bound whatever happens
    results: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for index in range(self.clients):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    @property
    def total(self) -> int:
        return sum(self.results.values())

    def _run(self, index: int) -> None:
        deadline = time.monotonic() + self.limit
        with httpx.Client(base_url=self.base, timeout=10.0, trust_env=False) as http:
            n = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                n += 1
                method = "GET" if n % 2 else "POST"
                try:
                    resp = http.request(method, self.path,
                                        content=b"x" * 64 if method == "POST" else None)
                    outcome = str(resp.status_code)
                    self.versions[resp.headers.get("x-version", "?")] += 1
                    if resp.status_code >= 500:
                        self.failures.append(f"{outcome} {resp.headers.get('x-version')} "
                                             f"{method} {resp.text[:80]}")
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                    self.failures.append(f"{outcome}: {method} {exc}")
                self.results[outcome] += 1
                time.sleep(self.pause)


@pytest.fixture
def shop(tmp_path):
    """`shop(**make_project kwargs)` -> (project file, balancer URL) of a running project;
    everything it started is stopped afterwards."""
    projects = []

    def start(**kwargs):
        file, port = make_project(tmp_path, **kwargs)
        projects.append(file)
        result = cli(file, "up", "--detach")
        assert result.returncode == 0, result.stdout + result.stderr
        return file, f"http://127.0.0.1:{port}"

    yield start
    for file in projects:
        cli(file, "down", timeout=60)
