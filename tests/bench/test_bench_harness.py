"""The benchmark's own machinery: its nginx.conf is valid for both proxies, its wrk figures are
read correctly, and it leaves no process behind."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from bench_conf import Ports, backends_conf, proxy_conf, write_prefix  # noqa: E402
from bench_procs import Children, free_port, process_tree, wait_http_ready  # noqa: E402
from bench_wrk import parse_output, run_wrk, write_script  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_tools = pytest.mark.skipif(not Path(NGINX).exists() or shutil.which("wrk") is None,
                                 reason="needs nginx and wrk (installed by .ci/run)")


def _ports() -> Ports:
    return Ports(free_port(), free_port(), free_port())


@needs_tools
def test_proxy_conf_is_accepted_by_nginx(tmp_path):
    conf, prefix = write_prefix(tmp_path, "proxy", proxy_conf(_ports()))
    done = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", f"{prefix}/"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_proxy_conf_is_accepted_by_hotdeploy_lb(tmp_path):
    if importlib.util.find_spec("hotdeploy.config.loader") is None:
        pytest.skip("hotdeploy lb's configuration loader is not built yet")
    conf, prefix = write_prefix(tmp_path, "proxy", proxy_conf(_ports()))
    done = subprocess.run([sys.executable, "-m", "hotdeploy", "lb", "-t", "-c", str(conf),
                           "-p", f"{prefix}/"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_parse_output_reads_the_lua_summary_line():
    stdout = ("Running 1s test @ http://127.0.0.1:1/\n"
              'BENCH_JSON {"requests":5000,"duration_us":2000000,"bytes":1,"connect":0,'
              '"read":1,"write":0,"status":2,"timeout":0,"p50_us":1500,"p90_us":2000,'
              '"p99_us":4000,"max_us":9000}\n')
    result = parse_output(stdout)
    assert result.rps == 2500
    assert (result.p50_ms, result.p99_ms) == (1.5, 4.0)
    assert result.errors == 3


@needs_tools
def test_wrk_run_against_real_backends_and_cleanup(tmp_path):
    ports = _ports()
    conf, prefix = write_prefix(tmp_path, "backends", backends_conf(ports))
    children = Children(tmp_path)
    backends = children.start("backends", [NGINX, "-c", str(conf), "-p", f"{prefix}/"])
    try:
        wait_http_ready(backends, ports.backend_a)
        wait_http_ready(backends, ports.backend_b)
        tree = process_tree(backends.pid)
        assert len(tree) >= 2  # master and its worker
        result = run_wrk(children, write_script(tmp_path), ports.backend_b, 8, 1, core=None)
        assert result.requests > 100
        assert result.errors == 0
        assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    finally:
        children.stop_all()
    # Every process of the group (the worker too) is gone.
    assert all(not Path(f"/proc/{pid}").exists() for pid in tree)
    assert children.started == []
