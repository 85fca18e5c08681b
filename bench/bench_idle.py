"""Memory of a proxy holding many idle keep-alive client connections.

Each connection sends one request and reads the whole answer, so the proxy has really served
it (and has filled its upstream keep-alive pool) before the connection goes idle.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass

from bench_procs import BenchError, rss_bytes

OPEN_CONCURRENCY = 100  # connects in flight at once: stays under the listen backlog (511)
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


@dataclass(frozen=True)
class IdleMemory:
    connections: int
    rss_before_mb: float
    rss_idle_mb: float

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


async def _open_one(port: int, gate: asyncio.Semaphore) -> asyncio.StreamWriter:
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            raise BenchError(f"idle connection got {head[:40]!r}")
        length = _content_length(head)
        await asyncio.wait_for(reader.readexactly(length), 10)
        return writer


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise BenchError("the benchmark backend answers with Content-Length; this answer had none")


async def _measure(pid: int, port: int, count: int, settle: float) -> IdleMemory:
    before = rss_bytes(pid)
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    results = await asyncio.gather(*(_open_one(port, gate) for _ in range(count)),
                                   return_exceptions=True)
    writers = [r for r in results if isinstance(r, asyncio.StreamWriter)]
    try:
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise BenchError(f"{len(failures)} of {count} idle connections failed: {failures[0]!r}")
        await asyncio.sleep(settle)  # let the proxy finish any lazy per-connection work
        idle = rss_bytes(pid)
    finally:
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return IdleMemory(count, before / 2**20, idle / 2**20)


def idle_memory(pid: int, port: int, count: int, settle: float = 1.0) -> IdleMemory:
    """RSS of the process tree under `pid` before and while `count` idle clients are open."""
    return asyncio.run(_measure(pid, port, count, settle))
