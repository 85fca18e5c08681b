"""The accepting side of a `listen ... ssl` socket, as nginx's ngx_http_ssl_handshake does it.

nginx does not start TLS at accept: it waits for the client's first byte and peeks at it. A
TLS handshake record (0x16) or an SSLv2-style hello (high bit set) starts the handshake;
anything else is read as plain HTTP, and the request is answered with the 400 page "The plain
HTTP request was sent to HTTPS port" (its internal code 497, which `error_page 497` can
catch). The same peek here, then the socket goes to uvloop with or without TLS.

The context is chosen per connection from the current configuration generation: after a
reload (SIGHUP) new connections handshake with the new certificates, connections already
open keep theirs, and the listening socket is never closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from typing import Any

from hotdeploy import defaults as d

ListenKey = tuple[str, int]

TLS_HANDSHAKE_RECORD = 0x16
ACCEPT_BATCH = d.TLS_ACCEPT_BATCH


def speaks_tls(first_byte: int) -> bool:
    """nginx's test of the first byte: a TLS record, or an SSLv2-compatible ClientHello."""
    return first_byte == TLS_HANDSHAKE_RECORD or bool(first_byte & 0x80)


class TlsListener:
    """Accepts on one listening socket; `close()` stops accepting (the socket itself belongs
    to lb.listeners.ListenerSet, which keeps it across reloads)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 factory: Callable[[], Any], holder: Any, socket_key: ListenKey) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        self.holder = holder
        self.socket_key = socket_key
        self.pending: dict[int, tuple[socket.socket, asyncio.TimerHandle]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # nginx: "accept() failed (24: Too many open files)"; try again next time.
                self._log("alert", f"accept() failed ({exc.errno}: {exc.strerror})")
                return
            conn.setblocking(False)
            fd = conn.fileno()
            # nginx waits client_header_timeout (of the default server) for the first byte.
            timeout = self._default_server().client_header_timeout
            timer = self.loop.call_later(timeout, self._expire, fd)
            self.pending[fd] = (conn, timer)
            self.loop.add_reader(fd, self._first_byte, fd)

    def _default_server(self) -> Any:
        return self.holder.current.default_server(self.socket_key)

    def _expire(self, fd: int) -> None:
        entry = self.pending.pop(fd, None)
        if entry is not None:
            self.loop.remove_reader(fd)
            entry[0].close()

    def _first_byte(self, fd: int) -> None:
        entry = self.pending.get(fd)
        if entry is None:
            return
        conn, timer = entry
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # spurious wake-up: keep waiting
        except OSError:
            first = b""
        del self.pending[fd]
        self.loop.remove_reader(fd)
        timer.cancel()
        if not first:
            conn.close()  # closed (or reset) before sending anything: nothing to answer
            return
        ctx = None
        if speaks_tls(first[0]):
            try:
                local = conn.getsockname()[:2]
            except OSError:
                conn.close()
                return
            tls = self.holder.current.config.tls
            # None when a reload took `ssl` off this address: read as plain HTTP then.
            ctx = tls.for_connection((local[0], local[1]), self.socket_key) if tls else None
        task = self.loop.create_task(self._hand_over(conn, ctx))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _hand_over(self, conn: socket.socket, ctx: ssl.SSLContext | None) -> None:
        factory = self.factory

        def protocol() -> Any:
            proto = factory()
            proto.tls_port = True  # a plain-HTTP request on it is answered 497 -> 400
            return proto

        timeout = self._default_server().client_header_timeout
        peer = _peer(conn)
        try:
            if ctx is None:
                await self.loop.connect_accepted_socket(protocol, conn)
            else:
                await self.loop.connect_accepted_socket(protocol, conn, ssl=ctx,
                                                        ssl_handshake_timeout=timeout)
        except (TimeoutError, OSError) as exc:
            # nginx logs failed handshakes at "info" (client errors, not server ones).
            reason = (f"SSL: {exc.reason.lower().replace('_', ' ')}"
                      if isinstance(exc, ssl.SSLError) and exc.reason else str(exc))
            self._log("info", f"SSL_do_handshake() failed ({reason}) while SSL handshaking, "
                              f"client: {peer}")
            conn.close()

    def _log(self, level: str, message: str) -> None:
        self.holder.current.error_log.log(level, message)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ValueError, OSError):  # the socket was closed first
            self.loop.remove_reader(self.sock.fileno())
        for fd, (conn, timer) in list(self.pending.items()):
            timer.cancel()
            self.loop.remove_reader(fd)
            conn.close()
        self.pending.clear()

    async def wait_closed(self) -> None:
        """asyncio.Server's counterpart (the handshakes under way finish on their own)."""


def _peer(conn: socket.socket) -> str:
    try:
        return str(conn.getpeername()[0])
    except OSError:
        return "-"
