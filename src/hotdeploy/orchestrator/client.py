"""The CLI side of the control socket (blocking; one request per connection)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from hotdeploy.errors import ControlError, error_class
from hotdeploy.orchestrator.state import ProjectPaths

CONNECT_TIMEOUT = 2.0
SPAWN_TIMEOUT = 15.0


def request(paths: ProjectPaths, cmd: str, args: BaseModel | None = None,
            on_event: Callable[[str], None] | None = None, timeout: float | None = None) -> Any:
    """Send one command, pass progress events to `on_event`, return the result or raise the
    error the control process reported (the same class, so the same exit code)."""
    payload = {"cmd": cmd, "args": args.model_dump(mode="json") if args else {}}
    sock = _connect(paths)
    sock.settimeout(timeout)
    try:
        sock.sendall(json.dumps(payload).encode() + b"\n")
        stream = sock.makefile("r", encoding="utf-8")
        for line in stream:
            message = json.loads(line)
            if "event" in message:
                if on_event is not None:
                    on_event(message["event"])
                continue
            if message.get("ok"):
                return message.get("result")
            raise error_class(message.get("kind", ""))(message.get("error", "unknown error"))
    finally:
        sock.close()
    raise ControlError("the control process closed the connection without an answer")


def _connect(paths: ProjectPaths) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(str(paths.socket))
    except OSError as exc:
        sock.close()
        raise ControlError(f"no control process for {paths.project_file} "
                           f"(start it with `hotdeploy up`): {exc.strerror or exc}") from None
    return sock


def is_running(paths: ProjectPaths) -> bool:
    try:
        request(paths, "ping", timeout=CONNECT_TIMEOUT)
    except ControlError:
        return False
    return True


def spawn(paths: ProjectPaths) -> int:
    """Start the control process detached (own session, output to its log file) and wait
    until its socket answers."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(paths.control_log, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotdeploy.orchestrator.daemon", str(paths.project_file)],
            cwd=paths.base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + SPAWN_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ControlError(f"the control process exited ({proc.returncode}); see "
                               f"{paths.control_log}")
        if is_running(paths):
            proc.returncode = 0  # it lives on after this command exits; do not reap it here
            return proc.pid
        time.sleep(0.05)
    raise ControlError(f"the control process did not answer within {SPAWN_TIMEOUT:g}s; see "
                       f"{paths.control_log}")
