"""Real nginx and `hotdeploy lb` side by side on one configuration of the test's own (the
`{port}` and `{backend}` fields filled for each), each proxying to a backend of its own.

The backend is a small threaded HTTP/1.0-style server: it answers every request after an
optional delay (`/slow/<ms>`), with headers chosen by the test (`headers=`), and records the
request heads it received. Everything binds to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import wire_harness as w

NGINX = w.NGINX
IO_TIMEOUT = 5.0


class Backend:
    """Answers `HTTP/1.1 200` (or what `respond(head, own port)` returns) and closes."""

    def __init__(self, respond: Callable[[bytes, int], bytes] | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.respond = respond or default_response
        self.heads: list[bytes] = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0]
            with self.lock:
                self.heads.append(head)
            path = head.split(b" ", 2)[1].decode("latin-1")
            slow = re.search(r"/slow/(\d+)", path)
            if slow:
                time.sleep(int(slow.group(1)) / 1000)
            conn.sendall(self.respond(head, self.port))
        except OSError:
            return
        finally:
            conn.close()


def default_response(head: bytes, port: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


@dataclass
class Proxy:
    name: str
    port: int
    backend: Backend
    process: subprocess.Popen[bytes]
    prefix: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        w.Proxy.stop(self)  # type: ignore[arg-type]


def start(kind: str, tmp: Path, conf: str, respond: Callable[[bytes, int], bytes] | None = None,
          ) -> Proxy:
    """Start `nginx` or `hotdeploy` with `conf` (fields {port}, {port2}, {backend},
    {prefix}); the second port is `proxy.extra["port2"]`."""
    backend = Backend(respond)
    port, port2 = w.free_port(), w.free_port()
    prefix = tmp / kind
    (prefix / "logs").mkdir(parents=True)
    path = prefix / "nginx.conf"
    path.write_text(conf.replace("{port}", str(port)).replace("{port2}", str(port2))
                    .replace("{backend}", str(backend.port)).replace("{prefix}", str(prefix)))
    if kind == "nginx":
        cmd = [NGINX, "-p", f"{prefix}/", "-c", str(path), "-e", str(prefix / "logs/error.log"),
               "-g", "daemon off; master_process off;"]
    else:
        cmd = [sys.executable, "-m", "hotdeploy", "lb", "-p", str(prefix), "-c", str(path),
               "-g", "daemon off;"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    try:
        w._wait_listening(proc, port, prefix)
    except Exception:
        proc.kill()
        proc.wait(5)
        backend.stop()
        raise
    return Proxy(kind, port, backend, proc, prefix, {"port2": port2})


def pair(tmp: Path, conf: str, respond: Callable[[bytes, int], bytes] | None = None,
         ) -> tuple[Proxy, Proxy]:
    nginx = start("nginx", tmp, conf, respond)
    try:
        return nginx, start("hotdeploy", tmp, conf, respond)
    except Exception:
        nginx.stop()
        raise


def get(port: int, path: str = "/", headers: str = "") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a new connection: (status, headers lower-cased, body)."""
    raw = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
           f"Connection: close\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0] else 0
    found: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        found[key] = found[key] + "\n" + value.strip() if key in found else value.strip()
    return status, found, body


def exchange(port: int, raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    """`raw` on a new connection, read until the proxy closes it (send `Connection: close`):
    (status line, header lines but Date and Server, the body as sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    return (lines[0], [line for line in lines[1:]
                       if not line.lower().startswith((b"date:", b"server:"))], body)


def log_messages(text: str, marker: str) -> list[str]:
    """The error log messages containing `marker`, without the time, pid and connection
    prefix (`2026/01/01 00:00:00 [error] 12#12: *3 `) and loopback ports, which differ
    between the two."""
    out = []
    for line in text.splitlines():
        if marker in line:
            line = re.sub(r"^\S+ \S+ (\[\w+\]) \d+#\d+: (\*\d+ )?", r"\1 ", line)
            out.append(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line))
    return out
