"""Listening sockets, bound once and kept across reloads.

A reload must never refuse a connection, so sockets whose address is still configured are
reused as they are (the kernel keeps queueing connections while the configuration is switched);
only new addresses are bound and only vanished ones closed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from typing import Any

from hotdeploy.config.addresses import key_text
from hotdeploy.config.model import Listen, MainConfig
from hotdeploy.errors import HotdeployError

ListenKey = tuple[str, int]


def configured_listens(config: MainConfig) -> dict[ListenKey, Listen]:
    """The sockets to bind, one per address:port. As nginx does without `bind`, a wildcard
    `*:port` covers the specific addresses of that port: one socket, and each connection is
    routed by its local address (so `listen 80;` beside `listen 127.0.0.1:80;` binds once)."""
    if config.http is None:
        return {}
    from hotdeploy.config.routing import Router

    return {listen.key: listen for listen in Router(config.http).listen_sockets()}


def bind(listen: Listen, reuseport: bool = False) -> socket.socket:
    """`reuseport`: one socket per worker on the same address (worker_processes N), so the
    kernel spreads connections over the workers by hash (docs/workers.md says why)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(listen.ipv6only))
        sock.bind((listen.host, listen.port))
        sock.listen(listen.backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        # nginx: bind() to 0.0.0.0:80 failed (98: Address already in use)
        raise HotdeployError(
            f"bind() to {key_text(listen.host, listen.port)} failed "
            f"({exc.errno}: {exc.strerror})"
        ) from exc
    return sock


async def serve_listener(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                         factory: Callable[[], Any], holder: Any, key: ListenKey) -> Any:
    """Start accepting on a bound socket: asyncio's server for plain HTTP; for `listen ...
    ssl`, nginx's peek-then-handshake acceptor (hotdeploy.tls.accept). Either has close()."""
    tls = holder.current.config.tls
    if tls is not None and key in tls.front:
        from hotdeploy.tls.accept import TlsListener

        return TlsListener(loop, sock, factory, holder, key)
    return await loop.create_server(factory, sock=sock)


class ListenerSet:
    """The bound sockets by address; `update` binds new ones and returns the ones to close."""

    def __init__(self, reuseport: bool = False) -> None:
        self.sockets: dict[ListenKey, socket.socket] = {}
        self.reuseport = reuseport

    def update(self, wanted: Iterable[Listen]) -> tuple[list[Listen], list[ListenKey]]:
        wanted_by_key = {listen.key: listen for listen in wanted}
        added: list[Listen] = []
        try:
            for key, listen in wanted_by_key.items():
                if key not in self.sockets:
                    self.sockets[key] = bind(listen, self.reuseport)
                    added.append(listen)
        except HotdeployError:
            # All or nothing: a reload that cannot bind keeps the old set intact.
            for listen in added:
                self.sockets.pop(listen.key).close()
            raise
        removed = [key for key in self.sockets if key not in wanted_by_key]
        return added, removed

    def adopt(self, given: dict[ListenKey, socket.socket]) -> tuple[list[ListenKey],
                                                                    list[ListenKey]]:
        """A worker's reload: the master bound the sockets and sent them all; keep the ones
        already held (closing the duplicates), take the new ones, return (added, removed)."""
        added: list[ListenKey] = []
        for key, sock in given.items():
            if key in self.sockets:
                sock.close()
            else:
                self.sockets[key] = sock
                added.append(key)
        removed = [key for key in self.sockets if key not in given]
        return added, removed

    def close(self, key: ListenKey) -> None:
        sock = self.sockets.pop(key, None)
        if sock is not None:
            sock.close()

    def close_all(self) -> None:
        for key in list(self.sockets):
            self.close(key)
