"""The master -> worker control channel of `worker_processes N`: one SOCK_SEQPACKET socket pair
per worker. A message is a JSON object, with the listening sockets attached (SCM_RIGHTS) when it
is a reload, so a worker serves addresses bound after it was forked without binding them
itself. End of file on the channel means the master is gone: the worker shuts down gracefully.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from hotdeploy.lb.listeners import ListenKey

MAX_MESSAGE = 1 << 16
MAX_FDS = 512


def channel() -> tuple[socket.socket, socket.socket]:
    """(master end, worker end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send_reload(sock: socket.socket, sockets: dict[ListenKey, socket.socket]) -> None:
    keys = list(sockets)
    message = json.dumps({"cmd": "reload", "listens": keys}).encode()
    socket.send_fds(sock, [message], [sockets[key].fileno() for key in keys])


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, dict[ListenKey, socket.socket]]:
    """One message and the sockets that came with it; (None, {}) when the master is gone."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    if not data:
        for fd in fds:
            socket.socket(fileno=fd).close()
        return None, {}
    message = json.loads(data)
    received = {}
    for key, fd in zip(message.get("listens", []), fds, strict=False):
        listener = socket.socket(fileno=fd)
        listener.setblocking(False)
        received[(key[0], int(key[1]))] = listener
    return message, received
