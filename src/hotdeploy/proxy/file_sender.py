"""Streaming a file body to a client connection without reading it whole: os.sendfile on the
client socket while the transport's buffer is empty, otherwise chunks through the transport
(its pause/resume_writing bound the memory), at most TURN_LIMIT bytes per event-loop turn so
that one download does not starve other clients; optionally gzip-compressed and chunked."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from hotdeploy import defaults as d
from hotdeploy.proxy.chunks import LAST_CHUNK, chunk
from hotdeploy.proxy.request import log_context

if TYPE_CHECKING:
    from hotdeploy.proxy.request import Request

CHUNK = 64 * 1024  # read size when a file goes through the transport
TURN_LIMIT = 1024 * 1024  # bytes sent per event-loop turn before yielding to other work


def read_pieces(fd: int, pieces: list[Any]) -> bytes:
    out = []
    for piece in pieces:
        if isinstance(piece, bytes):
            out.append(piece)
        else:
            offset, count = piece
            data = os.pread(fd, count, offset)
            if len(data) != count:
                raise OSError(errno.EIO, "file was truncated while read")
            out.append(data)
    return b"".join(out)


class FileSender:
    """Streams the pieces of a response body (literal bytes, or (offset, count) of the file)
    to the client, optionally gzip-compressed and chunk-encoded."""

    def __init__(self, conn: Any, req: Request, fd: int, pieces: list[Any],
                 compressor: Any) -> None:
        self.conn = conn
        self.req = req
        self.fd = fd
        self.pieces = pieces
        self.compressor = compressor
        # Compressed output is chunk-encoded for HTTP/1.1; HTTP/1.0 gets it unframed.
        self.chunked = compressor is not None and req.version == "1.1"
        self.index = 0
        self.waiting = False
        self.done = False
        transport = conn.transport
        sock = transport.get_extra_info("socket")
        self.sock_fd = sock.fileno() if sock is not None and compressor is None else -1

    def close(self) -> None:
        if not self.done:
            self.done = True
            os.close(self.fd)
            if self.conn.file_sender is self:
                self.conn.file_sender = None

    def resume(self) -> None:
        if self.waiting and not self.done:
            self.waiting = False
            self.run()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self.compressor is not None:
            data = self.compressor.compress(data)
            if not data:
                return
            if self.chunked:
                data = chunk(data)
        self.conn.transport.write(data)
        self.req.bytes_sent += len(data)
        self.req.body_bytes_sent += len(data)

    def run(self) -> None:
        conn = self.conn
        transport = conn.transport
        sent_this_turn = 0
        try:
            while self.index < len(self.pieces):
                if self.done or conn.closed or transport.is_closing():
                    self.close()
                    return
                if transport.get_write_buffer_size() > d.DEFAULT_PROXY_BUFFERED_LIMIT:
                    self.waiting = True  # resume_writing calls resume()
                    return
                if sent_this_turn >= TURN_LIMIT:
                    conn.loop.call_soon(self.run)
                    return
                piece = self.pieces[self.index]
                if isinstance(piece, bytes):
                    self._write(piece)
                    self.index += 1
                    sent_this_turn += len(piece)
                    continue
                offset, count = piece
                sent = 0
                if self.sock_fd >= 0 and transport.get_write_buffer_size() == 0:
                    try:
                        sent = os.sendfile(self.sock_fd, self.fd, offset, min(count, TURN_LIMIT))
                    except BlockingIOError:
                        sent = 0
                    self.req.bytes_sent += sent
                    self.req.body_bytes_sent += sent
                if sent == 0:
                    # The socket is full (or sendfile does not apply): one chunk through the
                    # transport, which then tells us when it has drained.
                    data = os.pread(self.fd, min(count, CHUNK), offset)
                    if not data:
                        raise OSError(errno.EIO, "file was truncated while sent")
                    self._write(data)
                    sent = len(data)
                sent_this_turn += sent
                if sent >= count:
                    self.index += 1
                else:
                    self.pieces[self.index] = (offset + sent, count - sent)
        except OSError as exc:
            self.close()
            level = "info" if exc.errno in (errno.EPIPE, errno.ECONNRESET) else "crit"
            conn._log_error(level, f"sendfile() failed ({exc.errno}: {exc.strerror})"
                                   f"{log_context(self.req)}")
            conn.abort(self.req)
            return
        if self.compressor is not None:
            tail = self.compressor.flush()
            end = chunk(tail) + LAST_CHUNK if self.chunked else tail
            transport.write(end)
            self.req.bytes_sent += len(end)
            self.req.body_bytes_sent += len(end)
        self.close()
        conn.finish(self.req)
