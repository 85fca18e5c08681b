"""`hotdeploy lb -s SIGNAL`: nginx's signal names mapped to the signals the balancer handles."""

from __future__ import annotations

import os
import signal

from hotdeploy.errors import HotdeployError
from hotdeploy.lb.pidfile import read_pid

# nginx: stop = fast shutdown, quit = graceful shutdown, reload = re-read the configuration,
# reopen = reopen log files.
SIGNALS: dict[str, signal.Signals] = {
    "stop": signal.SIGTERM,
    "quit": signal.SIGQUIT,
    "reload": signal.SIGHUP,
    "reopen": signal.SIGUSR1,
}


def send_signal(name: str, pid_path: str) -> int:
    """Signal the running instance; returns its pid."""
    if name not in SIGNALS:
        raise HotdeployError(f'invalid option: "-s {name}"')
    pid = read_pid(pid_path)
    try:
        os.kill(pid, SIGNALS[name])
    except OSError as exc:
        raise HotdeployError(f"kill({pid}, {SIGNALS[name].value}) failed ({exc.errno}: "
                             f"{exc.strerror})") from exc
    return pid
