"""Test harness for the data path: in-process backends and a balancer on real loopback sockets.

Backends are small asyncio HTTP/1.1 servers whose behaviour a test supplies as a function; the
balancer is built from real nginx configuration text through `load_config`, exactly as
`hotdeploy lb` builds it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from hotdeploy.config.loader import load_config
from hotdeploy.config.model import Listen
from hotdeploy.proxy.logs import ErrorLog
from hotdeploy.proxy.runtime import RuntimeHolder, build_runtime
from hotdeploy.proxy.server import ConnectionTracker, make_protocol_factory


@dataclass
class Seen:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


Reply = tuple[int, list[tuple[str, str]], bytes] | bytes | None
Handler = Callable[["Backend", Seen], Awaitable[Reply] | Reply]


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(":")
            headers.append((key.strip(), value.strip()))
    seen = Seen(method, target, version, headers, b"")
    length = seen.header("content-length")
    if length:
        seen.body = await reader.readexactly(int(length))
    return seen


@dataclass
class Backend:
    name: str
    host: str = "127.0.0.1"
    handler: Handler | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    server: asyncio.AbstractServer | None = None
    port: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> Backend:
        self.server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                seen = await _read_request(reader)
                if seen is None:
                    break
                self.requests.append(seen)
                reply = self.handler(self, seen) if self.handler else None
                if asyncio.iscoroutine(reply):
                    reply = await reply
                if reply is None:
                    reply = (200, [], self.name.encode())
                if isinstance(reply, bytes):
                    writer.write(reply)  # raw replies end the connection (close-delimited)
                    await writer.drain()
                    break
                status, headers, body = reply
                if status < 0:  # close without answering
                    break
                lines = [f"HTTP/1.1 {status} X"]
                lines += [f"{k}: {v}" for k, v in headers]
                if not any(k.lower() in ("content-length", "transfer-encoding")
                           for k, _ in headers):
                    lines.append(f"Content-Length: {len(body)}")
                keep = (seen.header("connection") or "").lower() != "close" and \
                    seen.version == "HTTP/1.1"
                if not keep:
                    lines.append("Connection: close")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def free_port(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def refused_port(host: str = "127.0.0.1") -> int:
    """A port on which nothing listens (connect() gets ECONNREFUSED)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Balancer:
    """`hotdeploy lb` in-process: load_config + build_runtime + one listening socket."""

    def __init__(self, tmp: Path, conf: str, **subst: object) -> None:
        self.tmp = tmp
        self.sock = free_port()
        self.port = self.sock.getsockname()[1]
        self.error_log_path = tmp / "error.log"
        self.access_log_path = tmp / "access.log"
        text = conf.replace("LISTEN", f"127.0.0.1:{self.port}")
        text = text.replace("ACCESS_LOG", str(self.access_log_path))
        for key, value in subst.items():
            text = text.replace(key, str(value))
        path = tmp / "nginx.conf"
        path.write_text(text)
        self.config = load_config(str(path), str(tmp) + "/")
        error_log = ErrorLog([(str(self.error_log_path), "info")])
        self.runtime = build_runtime(self.config, None, time.monotonic(), error_log=error_log)
        self.holder = RuntimeHolder(self.runtime)
        self.tracker = ConnectionTracker()
        self.server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Balancer:
        loop = asyncio.get_running_loop()
        listen = Listen(host="127.0.0.1", port=self.port)
        factory = make_protocol_factory(self.holder, listen, self.tracker)
        self.server = await loop.create_server(factory, sock=self.sock)
        self.runtime.start(loop)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.tracker.abort_all()
        self.runtime.stop()
        await asyncio.sleep(0)

    def error_log(self) -> str:
        return self.error_log_path.read_text() if self.error_log_path.exists() else ""

    def access_log(self) -> list[str]:
        if not self.access_log_path.exists():
            return []
        return self.access_log_path.read_text().splitlines()


async def raw_exchange(port: int, data: bytes, timeout: float = 3.0,
                       until_close: bool = True) -> bytes:
    """Send raw bytes, return everything read until the server closes (or timeout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except TimeoutError:
        if until_close:
            raise
    finally:
        writer.close()
    return b"".join(chunks)
