"""A small real HTTP/1.1 backend for end-to-end tests, run as its own process.

    python backend_server.py NAME HOST PORT

Prints "ready PORT" on stdout once listening. Every response carries `X-Backend: NAME` and the
body `NAME\n`. `/slow?ms=N` answers after N milliseconds; `/health` answers 200 unless the file
named by the BACKEND_HEALTH_FILE environment variable exists and contains a status code.
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = "backend"

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("X-Backend", self.name)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/slow":
            time.sleep(int(query.get("ms", ["100"])[0]) / 1000)
        if url.path == "/health":
            status = 200
            health_file = os.environ.get("BACKEND_HEALTH_FILE")
            if health_file and os.path.exists(health_file):
                with open(health_file) as fh:
                    status = int(fh.read().strip() or 200)
            self._answer(status, f"{self.name} health\n".encode())
            return
        if url.path == "/echo":
            self._answer(200, payload)
            return
        self._answer(200, f"{self.name}\n".encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    Handler.name = name
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
