"""`hotdeploy lb` speaks nginx's command line: -t, -T, -v, -s, pid file, daemon, exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from lbtools import (
    SEED_CONFIGS,
    free_port,
    get,
    lb_command,
    run_lb,
    seed_config,
    start_backend,
    wait_listening,
)


@pytest.mark.parametrize("name", ["active-active.conf", "active-active-health.conf",
                                  "active-passive.conf"])
def test_seed_configs_pass_t_exactly_as_written(name: str, tmp_path: Path) -> None:
    conf = SEED_CONFIGS / name
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        f"hotdeploy: the configuration file {conf} syntax is ok",
        f"hotdeploy: configuration file {conf} test is successful",
    ]


def test_t_reports_unknown_directive_with_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n    frobnicate on;\n}\n")
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f'hotdeploy: [emerg] unknown directive "frobnicate" in {conf}:3',
        f"hotdeploy: configuration file {conf} test failed",
    ]


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "upstreams.conf").write_text("upstream backend {\n  server 127.0.0.1 bogus=1;\n}\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  include upstreams.conf;\n"
                    "  server { location / { proxy_pass http://backend; } }\n}\n")
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 1
    assert f'invalid parameter "bogus=1" in {tmp_path / "upstreams.conf"}:2' in result.stderr


def test_T_dumps_every_file_read(tmp_path: Path) -> None:
    conf = SEED_CONFIGS / "active-passive.conf"
    result = run_lb("-T", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# configuration file {conf}:\n")
    assert "server 127.0.0.2 max_fails=3 fail_timeout=30s backup;" in result.stdout


def test_v_prints_version_on_stderr() -> None:
    result = run_lb("-v")
    assert result.returncode == 0
    assert result.stderr.startswith("hotdeploy version: hotdeploy/")


def test_capital_v_also_says_whether_the_request_path_is_compiled() -> None:
    from hotdeploy.proxy.compiled import COMPILED_MODULES, compiled_modules

    result = run_lb("-V")
    assert result.returncode == 0
    compiled = len(compiled_modules())
    expected = (f"request path: compiled with mypyc ({compiled} of {len(COMPILED_MODULES)} "
                "modules)" if compiled else "request path: interpreted")
    assert expected in result.stderr.splitlines()


def test_bind_failure_is_reported_and_exits_1(tmp_path: Path) -> None:
    with __import__("socket").socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = tmp_path / "nginx.conf"
        conf.write_text(seed_config("active-active.conf", f"127.0.0.1:{port}",
                                    ["127.0.0.1:1", "127.0.0.1:2"]))
        result = run_lb("-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;")
    assert result.returncode == 1
    assert f"bind() to 127.0.0.1:{port} failed (98: Address already in use)" in result.stderr


def test_daemon_writes_pid_file_and_s_quit_stops_it(tmp_path: Path) -> None:
    backend = start_backend("a")
    pid_file = tmp_path / "logs" / "nginx.pid"
    try:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(seed_config("active-active.conf", f"127.0.0.1:{port}",
                                    [backend.address, "127.0.0.1:1"]))
        (tmp_path / "logs").mkdir()
        # daemon on is nginx's default: the command returns once the balancer is detached.
        started = subprocess.run(lb_command("-p", str(tmp_path), "-c", str(conf)),
                                 capture_output=True, text=True, timeout=30)
        assert started.returncode == 0, started.stderr
        wait_listening("127.0.0.1", port)
        # As with nginx, the detached process writes its pid file just after it detaches.
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        status, _headers, body = get(port)
        assert status == 200 and body == b"a\n"
        stopped = run_lb("-p", str(tmp_path), "-c", str(conf), "-s", "quit")
        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("daemon did not exit on -s quit")
        assert not pid_file.exists()
    finally:
        backend.kill()
        # A failed assertion must not leave a detached balancer behind.
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_s_without_running_instance_says_which_pid_file(tmp_path: Path) -> None:
    conf = SEED_CONFIGS / "active-active.conf"
    result = run_lb("-p", str(tmp_path), "-c", str(conf), "-s", "reload")
    assert result.returncode == 1
    pid_path = tmp_path / "logs" / "nginx.pid"
    assert f'open() "{pid_path}" failed (2: No such file or directory)' in result.stderr
