"""The built-in balancer as a process of its own: write its configuration, check it, start
`hotdeploy lb` detached from the control process, reload it, stop it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotdeploy.dataplane.builtin.api import LbClient
from hotdeploy.dataplane.builtin.config import LbPaths, render
from hotdeploy.errors import ControlError
from hotdeploy.fileio import write_if_changed
from hotdeploy.project.topology import Topology
from hotdeploy.runtimes.process import is_alive, log_tail, stop_pid

LB_START_TIMEOUT = 15.0


class LbFiles(LbPaths):
    """Where the balancer's files live under the project's state directory."""

    @property
    def conf(self) -> Path:
        return Path(self.state_dir) / "nginx.conf"

    @property
    def log(self) -> Path:
        return Path(self.state_dir) / "logs" / "lb.log"


def write_config(topology: Topology, files: LbFiles, admin_port: int, source: str) -> bool:
    """Write nginx.conf (and empty state files); False when it was up to date."""
    (Path(files.state_dir) / "lb").mkdir(parents=True, exist_ok=True)
    files.log.parent.mkdir(parents=True, exist_ok=True)
    for spec in topology.upstreams:
        state = Path(files.upstream_state(spec.name))
        if not state.exists():
            state.touch()  # an empty state file: no servers yet
    # /metrics beside the API: the control process's balancer can be scraped by Prometheus.
    return write_if_changed(files.conf, render(topology, files, admin_port, source,
                                               metrics=True))


def lb_command(files: LbFiles) -> list[str]:
    return [sys.executable, "-c", "from hotdeploy.cli import main; main()", "lb",
            "-p", f"{files.state_dir}/", "-c", str(files.conf), "-g", "daemon off;"]


def check_config(files: LbFiles) -> None:
    result = subprocess.run([*lb_command(files)[:-2], "-t"], capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        raise ControlError(f"the generated {files.conf} is refused by the balancer:\n"
                           f"{result.stderr.strip() or result.stdout.strip()}")


def start(files: LbFiles) -> int:
    with open(files.log, "ab") as log:
        proc = subprocess.Popen(
            lb_command(files), cwd=files.state_dir, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    proc.returncode = 0  # tracked by pid from now on (see runtimes.process)
    return proc.pid


def reload(pid: int) -> None:
    """SIGHUP: the balancer re-reads its configuration without dropping a request; servers
    live in the state files, so they survive it."""
    os.kill(pid, signal.SIGHUP)


async def wait_ready(api: LbClient, pid: int, files: LbFiles) -> None:
    deadline = time.monotonic() + LB_START_TIMEOUT
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise ControlError(f"the balancer exited at start; see {files.log}:\n"
                               f"{log_tail(files.log)}")
        if await api.ping():
            return
        await asyncio.sleep(0.1)
    raise ControlError(f"the balancer's API did not answer within {LB_START_TIMEOUT:g}s; "
                       f"see {files.log}")


async def stop(pid: int, grace: float) -> None:
    """SIGTERM-then-SIGKILL; at `down` the instances behind it are already gone."""
    await stop_pid(pid, grace)
