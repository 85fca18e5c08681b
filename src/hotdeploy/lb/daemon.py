"""`daemon on`: detach from the terminal the way nginx does (fork, setsid, stdio to /dev/null).

Listening sockets are bound *before* this runs, so a port in use is reported on the terminal
that started the balancer rather than lost in a log.
"""

from __future__ import annotations

import os


def daemonize() -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    # A second fork so the daemon can never reacquire a controlling terminal.
    if os.fork() > 0:
        os._exit(0)
    os.umask(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
