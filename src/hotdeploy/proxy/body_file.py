"""Request bodies larger than `client_body_buffer_size` are kept in a temporary file.

nginx writes such a body to a file under `client_body_temp_path` (warning "a client request
body is buffered to a temporary file ...") and removes it when the request ends. The file is
named by a 10-digit sequence number; `levels` put it in sub-directories named by the last
digits of that name (`client_body_temp_path /t 1 2` -> `/t/7/45/0000012457`... counted from the
end: level1 takes the last digit, level2 the two before it).
"""

from __future__ import annotations

import contextlib
import itertools
import os

_sequence = itertools.count(1)
_BASE = (os.getpid() % 10000) * 1_000_000  # distinct names per process, still 10 digits
# Bytes read from the file per write to the upstream (a retry replays the body from it).
READ_CHUNK = 64 * 1024


def temp_file_path(directory: str, levels: tuple[int, ...], number: int) -> str:
    name = f"{number:010d}"
    parts = [directory]
    end = len(name)
    for width in levels:
        parts.append(name[end - width:end])
        end -= width
    parts.append(name)
    return os.path.join(*parts)


class BodyFile:
    """An open temporary file holding one request body; `close` removes it."""

    __slots__ = ("fd", "path", "size")

    def __init__(self, directory: str, levels: tuple[int, ...]) -> None:
        while True:  # another process (an older generation) may use the same directory
            self.path = temp_file_path(directory, levels, _BASE + next(_sequence))
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                continue
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def read(self, offset: int, size: int = READ_CHUNK) -> bytes:
        return os.pread(self.fd, min(size, self.size - offset), offset)

    def close(self) -> None:
        """The request ended: close and remove the file (nginx deletes it at cleanup)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
