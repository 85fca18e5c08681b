"""How evenly N uvloop worker processes share connections: one listening socket inherited by
all (what `hotdeploy lb` does) against one SO_REUSEPORT socket per worker.

    python bench/accept_spread.py [--workers 2] [--seconds 3] [--connections 32]

Each worker answers a fixed 200 and counts the connections it accepted and the requests it
served; wrk runs on loopback twice per mode, with keep-alive and with `Connection: close` (a
new connection per request). Prints, per run, requests/s and each worker's share. Loopback
only, bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import time

import uvloop

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Counting(asyncio.Protocol):
    counts = [0, 0]  # connections, requests

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        Counting.counts[0] += 1

    def data_received(self, data: bytes) -> None:
        requests = data.count(b"\r\n\r\n")
        Counting.counts[1] += requests
        close = b"Connection: close" in data or b"connection: close" in data
        self.transport.write((CLOSE_RESPONSE if close else RESPONSE) * requests)  # type: ignore[attr-defined]
        if close:
            self.transport.close()


def _listener(port: int, reuseport: bool) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(511)
    sock.setblocking(False)
    return sock


def _worker(sock: socket.socket, report: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Counting, sock=sock)
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        await stop
        server.close()
        os.write(report, f"{Counting.counts[0]} {Counting.counts[1]}\n".encode())

    uvloop.run(main())


def run(workers: int, reuseport: bool, close: bool, seconds: int, connections: int) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = None if reuseport else _listener(port, False)
    pids, reads = [], []
    for _ in range(workers):
        sock = _listener(port, True) if reuseport else shared
        assert sock is not None
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                _worker(sock, write_end)
            finally:
                os._exit(0)
        os.close(write_end)
        if reuseport:
            sock.close()
        pids.append(pid)
        reads.append(read_end)
    time.sleep(0.3)
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s",
               f"http://127.0.0.1:{port}/"]
    if close:
        command[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    shares = []
    for pid, read_end in zip(pids, reads, strict=True):
        os.waitpid(pid, 0)
        with os.fdopen(read_end) as fh:
            conns, requests = (int(x) for x in fh.read().split())
        shares.append((conns, requests))
    if shared is not None:
        shared.close()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = sum(r for _, r in shares) or 1
    split = " / ".join(f"{100 * r / total:.0f}%" for _, r in shares)
    conns = " / ".join(str(c) for c, _ in shares)
    mode = "SO_REUSEPORT" if reuseport else "shared socket"
    kind = "new connection per request" if close else f"{connections} keep-alive connections"
    return (f"{mode:13} {kind:30} {float(rps.group(1)) if rps else 0:9.0f} req/s  "
            f"requests per worker {split}  connections {conns}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    for close in (False, True):
        for reuseport in (False, True):
            print(run(args.workers, reuseport, close, args.seconds, args.connections), flush=True)


if __name__ == "__main__":
    main()
