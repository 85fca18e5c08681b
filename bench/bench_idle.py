"""Memory of a proxy holding many idle keep-alive client connections.

Each connection sends one request and reads the whole answer, so the proxy has really served
it (and has filled its upstream keep-alive pool) before the connection goes idle. Connections
are opened in stages (say 1,000, then up to 10,000) and the proxy's memory is read after each
stage, all connections of the earlier stages still open.

Memory is read two ways over the proxy's process tree (master and workers): RSS summed over the
processes, which counts a page shared by forked workers once per process, and PSS summed
(/proc/PID/smaps_rollup), which divides each shared page among the processes sharing it, so
the sum is what the tree really takes.

Source addresses: every connection to 127.0.0.1:PORT needs its own local port, and one source
address has about 28,000 ephemeral ports, fewer while the previous stage's closed connections
wait in TIME_WAIT; so connections are spread over SOURCE_ADDRESSES loopback addresses
(127.0.0.0/8 is all on `lo`), and the port is only picked at connect() time
(IP_BIND_ADDRESS_NO_PORT) so that the kernel can reuse it towards other destinations.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import asdict, dataclass

from bench_procs import BenchError, pss_bytes, rss_bytes

OPEN_CONCURRENCY = 100  # connects in flight at once: stays under the listen backlog (511)
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
SOURCE_ADDRESSES = tuple(f"127.0.0.{host}" for host in range(2, 18))
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux value
MB = 2**20


@dataclass(frozen=True)
class MemorySample:
    connections: int  # idle clients open when the sample was taken
    rss_mb: float
    pss_mb: float | None  # None: the kernel has no smaps_rollup


@dataclass(frozen=True)
class IdleMemory:
    workers: int
    processes: int  # in the proxy's tree: a master and its workers
    samples: tuple[MemorySample, ...]  # the first with 0 connections: the fresh proxy

    def at(self, connections: int) -> MemorySample | None:
        return next((s for s in self.samples if s.connections == connections), None)

    @property
    def fresh(self) -> MemorySample:
        return self.samples[0]

    @property
    def idle(self) -> MemorySample:
        return self.samples[-1]

    def to_json(self) -> dict[str, object]:
        return {"workers": self.workers, "processes": self.processes,
                "connections": self.idle.connections,
                "rss_before_mb": self.fresh.rss_mb, "rss_idle_mb": self.idle.rss_mb,
                "pss_before_mb": self.fresh.pss_mb, "pss_idle_mb": self.idle.pss_mb,
                "samples": [asdict(s) for s in self.samples]}


def sample(pid: int, connections: int) -> MemorySample:
    pss = pss_bytes(pid)
    return MemorySample(connections, rss_bytes(pid) / MB, None if pss is None else pss / MB)


async def _open_one(index: int, port: int, gate: asyncio.Semaphore) -> asyncio.StreamWriter:
    async with gate:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((SOURCE_ADDRESSES[index % len(SOURCE_ADDRESSES)], 0))
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock)
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


async def _open_stage(port: int, first: int, last: int,
                      writers: list[asyncio.StreamWriter]) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    results = await asyncio.gather(*(_open_one(i, port, gate) for i in range(first, last)),
                                   return_exceptions=True)
    writers.extend(r for r in results if isinstance(r, asyncio.StreamWriter))
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise BenchError(f"{len(failures)} of {last - first} idle connections failed: "
                         f"{failures[0]!r}")


async def _measure(pid: int, port: int, stages: list[int], settle: float,
                   workers: int, processes: int) -> IdleMemory:
    samples = [sample(pid, 0)]
    writers: list[asyncio.StreamWriter] = []
    try:
        opened = 0
        for count in stages:
            await _open_stage(port, opened, count, writers)
            opened = count
            await asyncio.sleep(settle)  # let the proxy finish any lazy per-connection work
            samples.append(sample(pid, count))
    finally:
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return IdleMemory(workers, processes, tuple(samples))


def idle_stages(count: int, first_stage: int = 1000) -> list[int]:
    """The connection counts to sample at: `first_stage` (issue 2's figure) on the way to
    `count`, or `count` alone when it is not larger."""
    return [first_stage, count] if count > first_stage else [count]


def idle_memory(pid: int, port: int, count: int, workers: int = 1, processes: int = 1,
                settle: float = 1.0) -> IdleMemory:
    """Memory of the process tree under `pid` fresh and while idle clients are open, sampled
    at each of `idle_stages(count)`."""
    return asyncio.run(_measure(pid, port, idle_stages(count), settle, workers, processes))
