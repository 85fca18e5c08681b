"""WriteBatch: the writes of one event-loop iteration go out together, after it, in order.

Real uvloop transports on loopback; the reading side is a plain non-blocking socket, so the
test can see that nothing was sent before the iteration ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from hotdeploy.proxy.write_batch import WriteBatch


class _Capture(asyncio.Protocol):
    def __init__(self, transports: list[asyncio.Transport]) -> None:
        self.transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transports.append(transport)  # type: ignore[arg-type]


async def _pairs(count: int) -> tuple[asyncio.Server, list[asyncio.Transport], list[socket.socket]]:
    """`count` server-side transports, each with the client socket that reads it."""
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    server = await loop.create_server(lambda: _Capture(transports), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    readers = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        readers.append(sock)
    for _ in range(100):
        if len(transports) == count:
            break
        await asyncio.sleep(0.01)
    assert len(transports) == count
    return server, transports, readers


async def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    for _ in range(200):
        with contextlib.suppress(BlockingIOError):
            data += sock.recv(65536)
        if len(data) >= size:
            return data
        await asyncio.sleep(0.005)
    return data


def _nothing_to_read(sock: socket.socket) -> bool:
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    return False


async def test_writes_leave_after_the_iteration_in_order_per_transport() -> None:
    server, (first, second), (read_first, read_second) = await _pairs(2)
    batch = WriteBatch(asyncio.get_running_loop())
    batch.write(first, b"one,")
    batch.write(second, b"alpha,")
    batch.write(first, b"two,")
    batch.write(second, b"beta")
    batch.write(first, b"three")
    # Still inside the same callback: nothing reached the sockets yet.
    assert _nothing_to_read(read_first) and _nothing_to_read(read_second)
    assert await _read(read_first, 13) == b"one,two,three"
    assert await _read(read_second, 10) == b"alpha,beta"
    assert not batch.transports and not batch.scheduled
    for sock in (read_first, read_second):
        sock.close()
    server.close()


async def test_flush_sends_at_once_and_a_closed_transport_is_skipped() -> None:
    server, (kept, closed), (read_kept, read_closed) = await _pairs(2)
    batch = WriteBatch(asyncio.get_running_loop())
    batch.write(closed, b"lost")
    batch.write(kept, b"kept")
    closed.close()  # closed after its write was batched: nothing is written to it
    batch.flush()  # what close_transport does before closing a client connection
    assert await _read(read_kept, 4) == b"kept"
    await asyncio.sleep(0.05)
    assert read_closed.recv(16) == b""  # EOF, no data
    read_kept.close()
    read_closed.close()
    server.close()


class _GoneTransport:
    """A transport whose handle is already released: write() raises, as uvloop's does."""

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")


async def test_a_failing_write_does_not_cost_the_others_theirs() -> None:
    server, (good,), (read_good,) = await _pairs(1)
    batch = WriteBatch(asyncio.get_running_loop())
    batch.write(_GoneTransport(), b"x")
    batch.write(good, b"still sent")
    assert await _read(read_good, 10) == b"still sent"
    read_good.close()
    server.close()
