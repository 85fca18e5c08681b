"""`python bench/run.py` end to end, with nginx in hotdeploy's slot (the hidden --proxy-cmd) so
that the harness is tested apart from the balancer: it produces the figures it promises and
leaves no process behind, also when it is stopped half-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(not Path(NGINX).exists() or shutil.which("wrk") is None,
                                reason="needs nginx and wrk (installed by .ci/run)")


def _bench_cmd(workdir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(RUN), "--quick", "--connections", "8", "--idle", "20",
            "--workdir", str(workdir), "--proxy-cmd", f"{NGINX} -c {{conf}} -p {{prefix}}",
            *extra]


def _processes_using(path: Path) -> list[str]:
    """Command lines of live processes (other than this test) that mention `path`: the bench
    and everything it starts name its work directory; nginx workers inherit a master's group,
    which `Children.stop` sweeps, so a leaked worker shows up through its master."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        if cmdline.parent.name == str(os.getpid()):
            continue
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in args:
            found.append(args)
    return found


def test_quick_reports_every_mode_and_memory(tmp_path):
    """--quick alone runs every mode (what --all runs), with tiny durations."""
    out = tmp_path / "result.json"
    done = subprocess.run(_bench_cmd(tmp_path / "work", "--json", str(out)),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert list(data["modes"]) == ["get", "post16k", "get1m", "workers"]
    for name, mode in data["modes"].items():
        by_target = mode["throughput"]["8"]
        for target in ("backend (direct)", "hotdeploy", "nginx"):
            assert by_target[target]["rps"] > 0, (name, target)
            assert by_target[target]["errors"] == 0, (name, target)
            assert by_target[target]["cpu_us"] > 0, (name, target)
        # The same proxy in both slots: the ratio is near 1 (wide bounds: the machine is shared).
        ratio = mode["ratios"]["8"]
        assert 0.3 < ratio["rps"] < 3, name
        assert ratio["rounds"] == 1
        low, high = ratio["spread"]["cpu_us"]
        assert low <= ratio["cpu_us"] <= high
    get = data["modes"]["get"]
    assert get["throughput"]["8"]["python floor"]["rps"] > 0
    assert data["modes"]["post16k"]["throughput"]["8"]["python floor"] is None
    # The 1 MiB answers really crossed the proxy: at least 1 MiB per request read by wrk.
    large = data["modes"]["get1m"]["throughput"]["8"]["hotdeploy"]
    assert large["mib_s"] >= large["rps"]
    # One round per proxy and mode, of the modes asked for.
    assert {(r["mode"], r["target"]) for r in data["runs"]} >= {
        ("workers", "hotdeploy"), ("workers", "nginx"), ("post16k", "nginx")}
    for workers, processes in (("1", 2), ("2", 3)):  # nginx in both slots: master + workers
        for proxy in ("hotdeploy", "nginx"):
            mem = data["memory"][workers][proxy]
            assert mem["processes"] == processes
            assert [s["connections"] for s in mem["samples"]] == [0, 20]
            assert 0 < mem["pss_idle_mb"] <= mem["rss_idle_mb"]
    for title in ("16 KiB body", "1 MiB answer", "worker_processes 2", "PSS"):
        assert title in done.stdout
    assert "hotdeploy*" in done.stdout  # another proxy's figures are never shown as ours
    assert _processes_using(tmp_path) == []


def test_mode_flag_runs_only_that_mode(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run(_bench_cmd(tmp_path / "work", "--mode", "post16k", "--rounds", "2",
                                     "--json", str(out)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert list(data["modes"]) == ["post16k"]
    assert data["memory"] == {}
    ratio = data["modes"]["post16k"]["ratios"]["8"]
    assert ratio["rounds"] == 2
    assert ratio["spread"]["rps"][0] <= ratio["rps"] <= ratio["spread"]["rps"][1]
    assert f"({ratio['spread']['rps'][0]:.2f}.." in done.stdout  # the spread is printed


def test_unknown_mode_is_refused():
    done = subprocess.run([sys.executable, str(RUN), "--mode", "get,bogus"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "unknown mode(s) bogus" in done.stderr


def test_sigterm_half_way_stops_every_process(tmp_path):
    work = tmp_path / "work"
    proc = subprocess.Popen(_bench_cmd(work, "--duration", "5"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _processes_using(work):
            time.sleep(0.1)
        assert _processes_using(work), "the bench never started its backends"
        time.sleep(1.0)  # inside a wrk run
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # the test failed early: still let the bench clean up
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert _processes_using(work) == []
