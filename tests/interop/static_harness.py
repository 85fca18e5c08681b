"""Differential harness for responses a proxy makes itself (files, redirects, error pages):
real nginx and `hotdeploy lb` run the same configuration text, each on its own loopback port,
and answer the same raw requests; the responses are compared after normalizing what must
differ (the product name, the date, the port in a Location).

Every request carries `Connection: close`, so one response is read to the end of the
connection, bounded by a short timeout.
"""

from __future__ import annotations

import gzip
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wire_harness import NGINX

IO_TIMEOUT = 3.0
FIXTURES = Path(__file__).parent / "fixtures"
_SIGNATURE = re.compile(rb"<hr><center>(nginx/[0-9.]+|nginx|hotdeploy)</center>")
_BOUNDARY = re.compile(rb"\b\d{20}\b")


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    prefix: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""


def _wait(proc: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = prefix / "logs" / "error.log"
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"exited {proc.returncode}: {text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} not listening")


def start(kind: str, prefix: Path, conf: Path, port: int) -> Running:
    """Run `nginx` or `hotdeploy` on `conf` in the foreground, with `prefix` as its prefix."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    if kind == "nginx":
        cmd = [NGINX, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "logs/error.log"),
               "-g", "daemon off; master_process off;"]
    else:
        cmd = [sys.executable, "-m", "hotdeploy", "lb", "-p", str(prefix), "-c", str(conf),
               "-g", "daemon off;"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    try:
        _wait(proc, port, prefix)
    except Exception:
        proc.kill()
        proc.wait(5)
        raise
    return Running(kind, port, proc, prefix)


def request(port: int, head: str) -> bytes:
    """Send one request (`head` without its final blank line; `\\n` become CRLF) and read the
    whole answer (the request asks the server to close)."""
    head, _, body = head.partition("\n\n")
    raw = (head.replace("\n", "\r\n") + "Connection: close\r\n\r\n" + body).encode("latin-1")
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(raw)
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
    return data


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def parse(answer: bytes, port: int, head_only: bool = False) -> dict[str, object]:
    """Status line, headers in order (Server/Date values and the port normalized), and the body
    (de-chunked, gunzipped when gzip-encoded, error-page signature normalized). The raw
    Content-Length must describe the raw body; it is then compared like any header."""
    if not answer:
        return {"status": "closed"}
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        value = value.strip()
        lname = name.lower()
        if lname in ("server", "date"):
            value = "*"
        value = value.replace(f":{port}", ":PORT")
        headers.append((name, value))
    names = {n.lower(): v for n, v in headers}
    if "content-length" in names and not head_only:
        assert int(names["content-length"]) == len(body), "Content-Length vs body"
    if names.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    compressed = body
    if names.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    normalized = _BOUNDARY.sub(b"BOUNDARY", _SIGNATURE.sub(b"<hr><center>SIGNATURE</center>",
                                                            body))
    if _SIGNATURE.search(body) and "content-length" in names:
        # Error pages name the product: their length differs by the name's length.
        headers = [(n, "*") if n.lower() == "content-length" else (n, v) for n, v in headers]
    headers = [(n, _BOUNDARY.sub(b"BOUNDARY", v.encode()).decode()) for n, v in headers]
    return {"status": lines[0], "headers": headers, "body": normalized,
            # The compressed bytes themselves (same zlib, level and window as nginx), for files.
            "gzip_bytes": compressed if names.get("content-encoding") == "gzip"
            and not _SIGNATURE.search(body) else None}
