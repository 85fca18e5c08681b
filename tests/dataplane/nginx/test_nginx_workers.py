"""Each nginx worker keeps a snapshot of the servers' state and re-reads it when the shared
version moves (hotdeploy_balancer.lua): a change made through one worker, or through the admin
API, must steer the very next request of every other worker. Two keep-alive connections held
by two different workers of a real nginx (found through /proc) check it. Loopback only."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from nginx_tools import needs_lua

from hotdeploy.dataplane.base import NewServer

pytestmark = [needs_lua, pytest.mark.timeout(60)]
UPS = "svc_web"


def get(sock: socket.socket) -> str:
    """One GET / on a kept-alive connection: the body (the backend's name) or the status."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    status = lines[0].split()[1]
    return body.decode().strip() if status == "200" else status


def workers_of(master: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def worker_holding(sock: socket.socket, workers: list[int], port: int) -> int | None:
    """The worker whose descriptor is the server side of this client socket."""
    client_port = sock.getsockname()[1]
    wanted = f"0100007F:{port:04X} 0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}" == wanted:
            inode = fields[9]
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def one_connection_per_worker(port: int, workers: list[int]) -> list[socket.socket]:
    """Keep-alive connections until two different workers hold one each."""
    held: dict[int, socket.socket] = {}
    spare = []
    for _ in range(64):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        get(sock)  # accepted and answered: the connection belongs to a worker now
        pid = worker_holding(sock, workers, port)
        if pid is not None and pid not in held:
            held[pid] = sock
        else:
            spare.append(sock)
        if len(held) == 2:
            break
    for sock in spare:
        sock.close()
    if len(held) < 2:
        for sock in held.values():
            sock.close()
        pytest.skip("the kernel gave every connection to one worker")
    return list(held.values())


async def test_every_worker_sees_admin_changes_and_failures_of_the_others(live, backends):
    engine, topo, _ = await live(max_fails=1, fail_timeout="30s")
    workers = workers_of(engine.pid)
    if len(workers) < 2:
        pytest.skip("worker_processes auto started one worker (one CPU)")
    a, b = backends("a", "b")
    ida, idb = [await engine.add(UPS, NewServer(s.address, max_fails=1, fail_timeout=30.0))
                for s in (a, b)]
    one, two = one_connection_per_worker(topo.listen[1], workers)
    try:
        for conn in (one, two):  # both workers have chosen among a and b (a snapshot each)
            assert {get(conn), get(conn)} == {"a", "b"}
        await engine.update(UPS, ida, down=True)  # through the admin server's worker
        for conn in (one, two):
            assert [get(conn) for _ in range(4)] == ["b"] * 4
        await engine.update(UPS, ida, down=False)
        for conn in (one, two):
            assert {get(conn), get(conn)} == {"a", "b"}
        b.kill()
        # One worker meets the refused connection: retried on a, b out for fail_timeout.
        assert [get(one) for _ in range(4)] == ["a"] * 4
        failed = next(s for s in await engine.servers(UPS) if s.id == idb)
        assert failed.state == "unavail" and failed.fails == 1
        # The other worker never tries b again: no second failure.
        assert [get(two) for _ in range(4)] == ["a"] * 4
        assert next(s for s in await engine.servers(UPS) if s.id == idb).fails == 1
    finally:
        one.close()
        two.close()
