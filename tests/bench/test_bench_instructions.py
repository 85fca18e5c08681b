"""`python bench/instructions.py` end to end: both proxies are counted under callgrind and
strace on the bench's backends, and the figures are printed per request."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "instructions.py"
TOOLS = ("nginx", "wrk", "valgrind", "callgrind_control", "strace")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)} (installed by .ci/run)")

ROW = re.compile(r"^\s+(nginx|hotdeploy)\s+([\d,]+) instructions \(([\d.]+)x nginx\)\s+"
                 r"([\d.]+) syscalls", re.M)


def test_counts_instructions_and_syscalls_per_request_of_both_proxies():
    done = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "2", "--connections", "2"],
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m.group(1): m for m in ROW.finditer(done.stdout)}
    assert set(rows) == {"nginx", "hotdeploy"}, done.stdout
    for name, row in rows.items():
        instructions = int(row.group(2).replace(",", ""))
        # A proxied keep-alive request is thousands of instructions and at least a read and a
        # write on each side: a figure outside that means the counting is broken.
        assert 2_000 < instructions < 2_000_000, (name, done.stdout)
        assert float(row.group(4)) >= 3.5, (name, done.stdout)
    assert rows["nginx"].group(3) == "1.00"
