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


def test_quick_run_reports_both_proxies_and_ratios(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run(_bench_cmd(tmp_path / "work", "--json", str(out)),
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    by_target = data["throughput"]["8"]
    for target in ("backend (direct)", "hotdeploy", "nginx", "python floor"):
        assert by_target[target]["rps"] > 0
        assert by_target[target]["errors"] == 0
    assert data["floor_ratios"]["8"]["rps"] > 0
    assert by_target["hotdeploy"]["cpu_us"] > 0
    # The same proxy in both slots: the ratio is near 1 (wide bounds: the machine is shared).
    assert 0.3 < data["ratios"]["8"]["rps"] < 3
    assert data["memory"]["nginx"]["connections"] == 20
    assert data["memory"]["hotdeploy"]["rss_idle_mb"] > 0
    assert "hotdeploy*" in done.stdout  # another proxy's figures are never shown as ours
    assert _processes_using(tmp_path) == []


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
