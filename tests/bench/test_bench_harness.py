"""The benchmark's own machinery: its nginx.conf is valid for both proxies, its wrk figures are
read correctly, and it leaves no process behind."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_idle  # noqa: E402
from bench_conf import (  # noqa: E402
    LARGE_PATH,
    LARGE_SIZE,
    Ports,
    backends_conf,
    proxy_conf,
    write_backend_files,
    write_prefix,
)
from bench_idle import SOURCE_ADDRESSES, idle_memory  # noqa: E402
from bench_modes import POST16K, parse_modes  # noqa: E402
from bench_procs import (  # noqa: E402
    Children,
    free_port,
    process_tree,
    pss_bytes,
    rss_bytes,
    wait_http_ready,
)
from bench_report import HOTDEPLOY, Run, ratios  # noqa: E402
from bench_report import NGINX as NGINX_TARGET  # noqa: E402
from bench_wrk import WrkResult, parse_output, run_wrk, write_script  # noqa: E402

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


def _wrk_result(rps: float, p99_ms: float) -> WrkResult:
    return WrkResult(requests=int(rps), seconds=1.0, rps=rps, p50_ms=1.0, p90_ms=1.0,
                     p99_ms=p99_ms, max_ms=p99_ms, errors=0)


def test_ratios_give_the_median_and_spread_of_per_round_ratios():
    runs = []
    for rnd, (hd_rps, ng_rps, hd_cpu) in enumerate(
            [(80, 100, 30.0), (50, 100, 40.0), (90, 100, 20.0)], start=1):
        runs.append(Run("get", HOTDEPLOY, 64, rnd, _wrk_result(hd_rps, 2.0), hd_cpu))
        runs.append(Run("get", NGINX_TARGET, 64, rnd, _wrk_result(ng_rps, 1.0), 20.0))
    ratio = ratios(runs, 64)
    assert ratio is not None
    assert ratio["rps"] == pytest.approx(0.8)
    assert ratio["spread"]["rps"] == pytest.approx([0.5, 0.9])
    assert ratio["cpu_us"] == pytest.approx(1.5)
    assert ratio["spread"]["cpu_us"] == pytest.approx([1.0, 2.0])
    assert ratio["p99_ms"] == 2.0
    assert ratio["rounds"] == 3


def test_parse_modes_keeps_the_report_order_and_refuses_unknown_names():
    assert parse_modes("idle,get1m, get") == ["get", "get1m", "idle"]
    assert parse_modes("workers2") == ["workers"]
    with pytest.raises(ValueError, match="unknown mode"):
        parse_modes("get,nope")


def test_pss_of_a_process_tree_is_at_most_its_rss():
    pss = pss_bytes(os.getpid())
    assert pss is not None
    assert 0 < pss <= rss_bytes(os.getpid())


@needs_tools
def test_backends_answer_post_bodies_and_the_large_file(tmp_path):
    ports = _ports()
    conf, prefix = write_prefix(tmp_path, "backends", backends_conf(ports))
    write_backend_files(prefix)
    children = Children(tmp_path)
    backends = children.start("backends", [NGINX, "-c", str(conf), "-p", f"{prefix}/"])
    try:
        wait_http_ready(backends, ports.backend_a)
        url = f"http://127.0.0.1:{ports.backend_a}"
        large = run_wrk(children, write_script(tmp_path, "large"), ports.backend_a, 2, 1,
                        core=None, url=url + LARGE_PATH)
        assert large.errors == 0
        assert large.requests > 0
        assert large.bytes >= large.requests * LARGE_SIZE
        post = write_script(tmp_path, "post", POST16K.lua_prelude)
        assert 'wrk.method = "POST"' in post.read_text()
        posted = run_wrk(children, post, ports.backend_a, 2, 1, core=None, url=url + "/")
        assert posted.errors == 0
        assert posted.requests > 0
    finally:
        children.stop_all()


@needs_tools
def test_idle_memory_samples_each_stage_from_many_source_addresses(tmp_path):
    ports = _ports()
    conf, prefix = write_prefix(tmp_path, "backends", backends_conf(ports))
    children = Children(tmp_path)
    backends = children.start("backends", [NGINX, "-c", str(conf), "-p", f"{prefix}/"])
    try:
        wait_http_ready(backends, ports.backend_a)
        seen: set[str] = set()
        original = bench_idle._open_stage

        async def spying_stage(port, first, last, writers):
            await original(port, first, last, writers)
            seen.update(w.get_extra_info("sockname")[0] for w in writers)

        bench_idle._open_stage = spying_stage
        try:
            mem = idle_memory(backends.pid, ports.backend_a, 1100, processes=2, settle=0.1)
        finally:
            bench_idle._open_stage = original
    finally:
        children.stop_all()
    assert [s.connections for s in mem.samples] == [0, 1000, 1100]
    assert all(s.pss_mb is not None and 0 < s.pss_mb <= s.rss_mb for s in mem.samples)
    assert mem.idle.rss_mb > mem.fresh.rss_mb  # nginx holds 1,100 connections' state
    assert seen == set(SOURCE_ADDRESSES)
