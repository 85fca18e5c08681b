"""Differential harness: the same raw bytes sent through real nginx and through `hotdeploy lb`,
both proxying to a recording backend of their own, with the same configuration.

The backend records exactly the bytes each request brings (head and Content-Length body) and
answers a fixed response chosen by the request path (`/resp/lf` answers with bare-LF lines, to
test the upstream direction). The client side reads one response (or the connection closing),
bounded by a short timeout.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NGINX = "/usr/sbin/nginx"
IO_TIMEOUT = 1.5  # seconds a client or backend read may wait (every case stops by itself)

# Answers by request path prefix; the default is an ordinary CRLF response.
RESPONSES = {
    "/resp/lf": b"HTTP/1.1 200 OK\nContent-Length: 3\nX-Up: lf\n\nlf\n",
    "/resp/cr": b"HTTP/1.1 200 OK\rContent-Length: 3\r\rcr\n",
    "/resp/obs": b"HTTP/1.1 200 OK\r\nX-Up: \x85v\xa0\r\nContent-Length: 3\r\n\r\nob\n",
}
DEFAULT_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Up: ok\r\n\r\nok\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _head_end(data: bytes) -> int:
    """Offset just past the blank line ending a head (CRLF or bare-LF lines), or -1."""
    match = re.search(rb"\r?\n\r?\n", data)
    return match.end() if match else -1


class RecordingBackend:
    """A raw socket server: every request's exact bytes, answered with a fixed response."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def take(self) -> list[bytes]:
        with self.lock:
            out, self.requests = self.requests, []
        return out

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
            while True:
                end = _head_end(data)
                if end < 0:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    continue
                head = data[:end]
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = end + (int(length.group(1)) if length else 0)
                while len(data) < need:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                request, data = data[:need], data[need:]
                with self.lock:
                    self.requests.append(request)
                path = request.split(b" ", 2)[1].decode("latin-1") if b" " in request else "/"
                answer = next((r for p, r in RESPONSES.items() if path.startswith(p)),
                              DEFAULT_RESPONSE)
                conn.sendall(answer)
                return  # one request per connection (nginx's default upstream HTTP/1.0)
        except OSError:
            return
        finally:
            conn.close()


def config(port: int, backend_port: int) -> str:
    """One configuration for both proxies: two name-based servers, so the Host an absolute URI
    carries visibly selects a server; $host is sent upstream to compare host handling."""
    location = """location / {{
            proxy_pass http://backend;
            proxy_set_header X-Host $host;
            proxy_set_header X-Block {block};
        }}"""
    return f"""
error_log logs/error.log info;
pid logs/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log off;
    upstream backend {{ server 127.0.0.1:{backend_port}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name a;
        {location.format(block="a")}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name evil.example;
        {location.format(block="evil")}
    }}
}}
"""


@dataclass
class Proxy:
    name: str
    port: int
    backend: RecordingBackend
    process: subprocess.Popen[bytes]
    prefix: Path
    extra: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.backend.stop()


def _wait_listening(proc: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = prefix / "logs" / "error.log"
            raise RuntimeError(f"proxy exited {proc.returncode}: "
                               f"{log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} not listening")


def start(kind: str, tmp: Path, make_config: Callable[[int, int], str] | None = None) -> Proxy:
    """Start `nginx` or `hotdeploy` with the shared configuration (or `make_config(port,
    backend_port)`'s) in its own prefix."""
    backend = RecordingBackend()
    port = free_port()
    prefix = tmp / kind
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text((make_config or config)(port, backend.port))
    if kind == "nginx":
        cmd = [NGINX, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "logs/error.log"),
               "-g", "daemon off; master_process off;"]
    else:
        cmd = [sys.executable, "-m", "hotdeploy", "lb", "-p", str(prefix), "-c", str(conf),
               "-g", "daemon off;"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    try:
        _wait_listening(proc, port, prefix)
    except Exception:
        proc.kill()
        proc.wait(5)
        backend.stop()
        raise
    return Proxy(kind, port, backend, proc, prefix)


def _response_done(data: bytes) -> bool:
    end = _head_end(data)
    if end < 0:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", data[:end])
    return length is not None and len(data) >= end + int(length.group(1))


def exchange(port: int, raw: bytes) -> bytes:
    """Send `raw`, read one response: its bytes, b"" when the connection closed without one,
    or whatever arrived before the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            return b""
        data = b""
        deadline = time.monotonic() + IO_TIMEOUT
        while not _response_done(data):
            if time.monotonic() >= deadline:
                return data or b"(timeout)"
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return data or b"(timeout)"
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data


# Request headers that legitimately differ or that only one proxy adds.
_IGNORED_UP = re.compile(rb"(?i)^(x-forwarded-[a-z-]*|x-real-ip):")


def outcome(proxy: Proxy, raw: bytes) -> dict[str, object]:
    """What the client saw (status line, or "closed") and what reached the backend (each
    request's line, headers in order minus the ignored ones, and body)."""
    answer = exchange(proxy.port, raw)
    time.sleep(0.05)  # a request the proxy forwards reaches the backend before its answer
    status = answer.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1") if answer else "closed"
    seen = []
    for request in proxy.backend.take():
        end = _head_end(request)
        lines = re.split(rb"\r?\n", request[:end].rstrip(b"\r\n"))
        # Sorted: hotdeploy emits constant proxy_set_header lines before variable ones (the
        # set and the values are what nginx sends; only their order differs).
        headers = sorted(line for line in lines[1:] if not _IGNORED_UP.match(line))
        seen.append({"line": lines[0], "headers": headers, "body": request[end:]})
    body = b""
    if answer:
        end = _head_end(answer)
        body = answer[end:] if end >= 0 else b""
    up_header = re.search(rb"(?im)^x-up:[^\r\n]*", answer)
    return {"status": status, "upstream": seen,
            "x_up": up_header.group(0) if up_header else None,
            "body": body if status.startswith("HTTP/1.1 200") else None}
