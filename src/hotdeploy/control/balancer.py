"""The balancer as a process of its own: generate its configuration, start `hotdeploy lb`
detached from the control process, find it again after a control restart, stop it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotdeploy.control import nginxconf
from hotdeploy.control.lbclient import LbClient
from hotdeploy.control.state import ProjectPaths
from hotdeploy.errors import ControlError
from hotdeploy.project.model import Project
from hotdeploy.runtimes.local import is_alive, stop_pid

LB_START_TIMEOUT = 15.0


def write_config(project: Project, paths: ProjectPaths, admin_port: int) -> bool:
    """Write .hotdeploy/nginx.conf (and empty state files); False when it was up to date."""
    lb_paths = nginxconf.LbPaths(str(paths.state_dir))
    (paths.state_dir / "lb").mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    text = nginxconf.render(project, lb_paths, admin_port, str(paths.project_file))
    for name in project.deployables():
        state = lb_paths.upstream_state(nginxconf.upstream_name(project, name))
        if not os.path.exists(state):
            Path(state).touch()  # an empty state file: no servers yet
    if paths.nginx_conf.exists() and paths.nginx_conf.read_text(encoding="utf-8") == text:
        return False
    tmp = paths.nginx_conf.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, paths.nginx_conf)
    return True


def reload(pid: int) -> None:
    """SIGHUP: the balancer re-reads its configuration without dropping a request; servers
    live in the state files, so they survive it."""
    os.kill(pid, signal.SIGHUP)


def lb_command(paths: ProjectPaths) -> list[str]:
    return [sys.executable, "-c", "from hotdeploy.cli import main; main()", "lb",
            "-p", f"{paths.state_dir}/", "-c", str(paths.nginx_conf), "-g", "daemon off;"]


def check_config(paths: ProjectPaths) -> None:
    result = subprocess.run([*lb_command(paths)[:-2], "-t"], capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        raise ControlError(f"the generated {paths.nginx_conf} is refused by the balancer:\n"
                           f"{result.stderr.strip() or result.stdout.strip()}")


def start(paths: ProjectPaths) -> int:
    with open(paths.lb_log, "ab") as log:
        proc = subprocess.Popen(
            lb_command(paths), cwd=paths.state_dir, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    proc.returncode = 0  # tracked by pid from now on (see runtimes.local)
    return proc.pid


async def wait_ready(lb: LbClient, pid: int, paths: ProjectPaths) -> None:
    deadline = time.monotonic() + LB_START_TIMEOUT
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise ControlError(f"the balancer exited at start; see {paths.lb_log}:\n"
                               f"{_tail(paths.lb_log)}")
        if await lb.ping():
            return
        await asyncio.sleep(0.1)
    raise ControlError(f"the balancer's API did not answer within {LB_START_TIMEOUT:g}s; "
                       f"see {paths.lb_log}")


async def stop(pid: int, grace: float = 10.0) -> None:
    """SIGTERM-then-SIGKILL; the balancer finishes in-flight requests on SIGQUIT only, but
    at `down` the instances behind it are already gone."""
    await stop_pid(pid, grace)


def _tail(path: os.PathLike[str] | str, lines: int = 10) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""
