"""Error log and access log writers, shaped like nginx's.

Error log line (ngx_log_error_core): `2026/11/26 09:55:45 [error] 1234#0: *7 message, client: ...`.
Access log: one line per completed request, written at once (one write(2)) unless `buffer=`;
files are opened in append mode and reopened on demand (SIGUSR1, `-s reopen`) so that log
rotation works as with nginx.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from hotdeploy.config.model import LogFormat, Var
from hotdeploy.proxy.json_escape import escape_json

LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}


class _File:
    """An append-only file (or stderr) that can be reopened in place."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.open()

    def open(self) -> None:
        if self.path == "stderr":
            self.fd = sys.stderr.fileno()
            return
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        # A full disk must not take the data path down (nginx ignores write errors too).
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    def reopen(self) -> None:
        if self.path == "stderr":
            return
        old = self.fd
        self.open()
        if old >= 0:
            os.close(old)

    def close(self) -> None:
        if self.fd >= 0 and self.path != "stderr":
            os.close(self.fd)
        self.fd = -1


class ErrorLog:
    """All `error_log` targets of the main context; each has its own minimum level."""

    def __init__(self, targets: Iterable[tuple[str, str]], pid: int | None = None) -> None:
        self.targets = [(_File(path), LEVEL_RANK[level]) for path, level in targets]
        self.min_rank = min((rank for _, rank in self.targets), default=len(LEVELS))
        self.pid = os.getpid() if pid is None else pid

    def enabled(self, level: str) -> bool:
        return LEVEL_RANK[level] >= self.min_rank

    def log(self, level: str, message: str, cid: int | None = None) -> None:
        rank = LEVEL_RANK[level]
        if rank < self.min_rank:
            return
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        conn = f"*{cid} " if cid is not None else ""
        line = f"{stamp} [{level}] {self.pid}#0: {conn}{message}\n".encode(errors="replace")
        for target, min_rank in self.targets:
            if rank >= min_rank:
                target.write(line)

    def reopen(self) -> None:
        for target, _ in self.targets:
            target.reopen()

    def close(self) -> None:
        for target, _ in self.targets:
            target.close()


class AccessLogWriter:
    """One access log file; `buffer` > 0 collects lines until that many bytes (or `flush()`)."""

    def __init__(self, path: str, buffer: int = 0) -> None:
        self.file = _File(path)
        self.buffer_size = buffer
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def write(self, line: bytes) -> None:
        if self.buffer_size <= 0:
            self.file.write(line)
            return
        self.pending.append(line)
        self.pending_bytes += len(line)
        if self.pending_bytes >= self.buffer_size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.file.write(b"".join(self.pending))
            self.pending.clear()
            self.pending_bytes = 0

    def reopen(self) -> None:
        self.flush()
        self.file.reopen()

    def close(self) -> None:
        self.flush()
        self.file.close()


def _escape_default(value: str) -> str:
    # nginx's default escaping: '"', '\\' and bytes outside printable ASCII as \xHH.
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    out = []
    for byte in value.encode("utf-8", "surrogateescape"):
        if byte < 0x20 or byte >= 0x7F or byte in (0x22, 0x5C):
            out.append(f"\\x{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def compile_format(fmt: LogFormat, getter: Callable[[str], Callable[[Any], str]]
                   ) -> Callable[[Any], bytes]:
    """A renderer of one access log line (with its newline), the variable lookups resolved once
    per configuration (the access log is written for every request: DESIGN.md's per-request
    budget). Empty values print as "-" as in nginx, except with escape=json where an empty
    string stays empty."""
    parts: list[str | Callable[[Any], str]] = [
        getter(p.name) if isinstance(p, Var) else p for p in fmt.template.parts
    ]
    escape = fmt.escape

    def render(ctx: Any) -> bytes:
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part(ctx)
            if escape == "json":
                out.append(escape_json(value))
            elif not value:
                out.append("-")
            elif escape == "default":
                out.append(_escape_default(value))
            else:
                out.append(value)
        out.append("\n")
        return "".join(out).encode("utf-8", "surrogateescape")

    return render


class LogFiles:
    """Access log writers shared by path, and the error logs of http/server/location levels
    shared by their targets, so a reload keeps the same open files."""

    def __init__(self) -> None:
        self.writers: dict[str, AccessLogWriter] = {}
        # The error logs of http, server and location levels, by their targets.
        self.error_logs: dict[tuple[tuple[str, str], ...], ErrorLog] = {}

    def error_log(self, targets: tuple[tuple[str, str], ...], pid: int) -> ErrorLog:
        log = self.error_logs.get(targets)
        if log is None:
            log = self.error_logs[targets] = ErrorLog(targets, pid)
        return log

    def get(self, path: str, buffer: int) -> AccessLogWriter:
        writer = self.writers.get(path)
        if writer is None:
            writer = self.writers[path] = AccessLogWriter(path, buffer)
        return writer

    def reopen(self) -> None:
        for writer in self.writers.values():
            writer.reopen()
        for log in self.error_logs.values():
            log.reopen()

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        for log in self.error_logs.values():
            log.close()
