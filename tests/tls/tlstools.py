"""Tools for the TLS tests: a real `hotdeploy lb` or a real nginx on one configuration, HTTPS
clients that report what the handshake gave, and a TLS backend that records what it saw.
Loopback only; every wait is bounded."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lb"))

from lbtools import free_port, lb_command, wait_listening  # noqa: E402

NGINX = "/usr/sbin/nginx"
TIMEOUT = 5.0

__all__ = [
    "Proxy",
    "Reply",
    "TlsBackend",
    "client_context",
    "free_port",
    "https_request",
    "start_lb",
    "start_nginx",
]


def client_context(cafile: Path | None = None, minimum: ssl.TLSVersion | None = None,
                   maximum: ssl.TLSVersion | None = None, ciphers: str | None = None
                   ) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes
    cert_der: bytes | None = None
    version: str | None = None
    cipher: str | None = None


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def https_request(port: int, path: str = "/", sni: str | None = None, host: str | None = None,
                  ctx: ssl.SSLContext | None = None, raw_request: bytes | None = None,
                  plain: bool = False) -> Reply:
    """One request on a new connection to 127.0.0.1:port (TLS unless `plain`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as tcp:
        request = raw_request or (f"GET {path} HTTP/1.1\r\nHost: {host or sni or 'localhost'}"
                                  f"\r\nConnection: close\r\n\r\n").encode()
        if plain:
            tcp.sendall(request)
            raw = _read_response(tcp)
            return Reply(*parse(raw), raw=raw)
        context = ctx or client_context()
        with context.wrap_socket(tcp, server_hostname=sni) as tls:
            tls.sendall(request)
            raw = _read_response(tls)
            cipher = tls.cipher()
            return Reply(*parse(raw), raw=raw, cert_der=tls.getpeercert(binary_form=True),
                         version=tls.version(), cipher=cipher[0] if cipher else None)


@dataclass
class Proxy:
    """A running `hotdeploy lb` or nginx on one configuration."""

    kind: str
    prefix: Path
    process: subprocess.Popen[str]
    port: int

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> str:
        path = self.prefix / "logs" / "access.log"
        return path.read_text() if path.exists() else ""


def _start(kind: str, command: list[str], prefix: Path, port: int) -> Proxy:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    wait_listening("127.0.0.1", port, process)
    return Proxy(kind, prefix, process, port)


def _write_conf(prefix: Path, text: str) -> Path:
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def start_lb(prefix: Path, config: str, port: int) -> Proxy:
    conf = _write_conf(prefix, config)
    return _start("hotdeploy", lb_command("-p", str(prefix), "-c", str(conf),
                                          "-g", "daemon off;"), prefix, port)


def start_nginx(prefix: Path, config: str, port: int) -> Proxy:
    conf = _write_conf(prefix, config)
    return _start("nginx", [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                  prefix, port)


def nginx_test(prefix: Path, config: str) -> str:
    """`nginx -t`'s error text on a configuration (the timestamp and pid taken off)."""
    conf = _write_conf(prefix, config)
    result = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)],
                            capture_output=True, text=True, timeout=30)
    return result.stderr


def lb_test(prefix: Path, config: str) -> subprocess.CompletedProcess[str]:
    conf = _write_conf(prefix, config)
    return subprocess.run(lb_command("-t", "-p", str(prefix), "-c", str(conf)),
                          capture_output=True, text=True, timeout=60)


class TlsBackend:
    """An HTTPS server on 127.0.0.1: answers every request with JSON naming itself, the SNI
    the client sent (or null) and the Host header, so a test sees what the proxy sent."""

    def __init__(self, name: str, cert: Path, key: Path) -> None:
        self.name = name
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.sni_callback = self._sni
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _sni(self, sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        sslobj.test_sni = name  # type: ignore[attr-defined]

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
        conn.settimeout(TIMEOUT)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                sni = getattr(tls, "test_sni", None)
                while True:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                    host = next((line.split(":", 1)[1].strip() for line in head[1:]
                                 if line.lower().startswith("host:")), None)
                    body = json.dumps({"backend": self.name, "sni": sni, "host": host,
                                       "line": head[0]}).encode()
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except (OSError, ssl.SSLError):
            return

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def conf(body: str) -> str:
    """A whole configuration around an http block's body (logs under the prefix)."""
    return ("events {}\npid logs/nginx.pid;\nerror_log logs/error.log info;\n"
            f"http {{\n    access_log off;\n{body}\n}}\n")
