"""Directory listings as ngx_http_autoindex_module (nginx 1.22) writes them: `autoindex on`,
with `autoindex_format html | xml | json | jsonp`, `autoindex_exact_size` and
`autoindex_localtime`.

The rendering is pure (entries in, bytes out) and byte for byte nginx's: directories first, then
names in byte order; names starting with a dot left out; in HTML a name column of 50
characters (UTF-8 characters when the response's charset is utf-8, bytes otherwise), a longer
name cut to 47 and ended with `..>`, the modification time to the minute and the size (exact,
or scaled to K/M/G, rounded half up). `list_directory` reads the directory.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote_from_bytes

from hotdeploy.proxy.json_escape import escape_json

NAME_WIDTH = 50  # NGX_HTTP_AUTOINDEX_NAME_LEN
MAX_CALLBACK = 128  # the longest jsonp callback name nginx takes
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

CONTENT_TYPES = {"html": b"text/html", "xml": b"text/xml; charset=utf-8",
                 "json": b"application/json", "jsonp": b"application/javascript"}


@dataclass(frozen=True, slots=True)
class Entry:
    name: bytes  # as the file system has it
    kind: str  # "directory", "file" or "other"
    mtime: int  # seconds since the epoch
    size: int


def list_directory(path: str) -> list[Entry]:
    """The directory's entries but those starting with a dot, sorted as nginx sorts them.
    An entry is described by stat() (a symlink by its target), by lstat() when the target
    is gone. Raises OSError when the directory cannot be read."""
    entries = []
    with os.scandir(os.fsencode(path)) as it:
        for item in it:
            name = item.name
            if name.startswith(b"."):
                continue
            try:
                info = item.stat()
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ELOOP):
                    continue  # nginx skips an entry it may not stat (EACCES)
                info = item.stat(follow_symlinks=False)  # a dangling or looping symlink
            mode = info.st_mode
            kind = ("directory" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode)
                    else "other")
            entries.append(Entry(name, kind, int(info.st_mtime), info.st_size))
    entries.sort(key=lambda e: (e.kind != "directory", e.name))
    return entries


def callback_problem(name: str) -> str:
    """Why nginx refuses a jsonp callback ("" when it takes it): up to 128 letters, digits,
    `_` and `.`."""
    if len(name) > MAX_CALLBACK:
        return "too long callback name"
    if not all(ch.isascii() and (ch.isalnum() or ch in "_.") for ch in name):
        return "invalid callback name"
    return ""


def render(fmt: str, uri: str, entries: Sequence[Entry], *, exact_size: bool = True,
           localtime: bool = False, utf8: bool = False, callback: str = "") -> bytes:
    if fmt == "html":
        return render_html(uri, entries, exact_size=exact_size, localtime=localtime, utf8=utf8)
    if fmt == "xml":
        return render_xml(entries)
    body = render_json(entries)
    if fmt == "jsonp" and callback:
        return b"/* callback */\r\n" + callback.encode() + b"(" + body + b");"
    return body


# --- html -----------------------------------------------------------------------------------


def _escape_html(data: bytes) -> bytes:
    return (data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
            .replace(b'"', b"&quot;"))


def _length(name: bytes, utf8: bool) -> int:
    if utf8:
        try:
            return len(name.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return len(name)


def _cut(name: bytes, count: int, utf8: bool) -> bytes:
    """The first `count` characters (UTF-8 characters when `utf8`) of the name."""
    if utf8:
        try:
            return name.decode("utf-8")[:count].encode("utf-8")
        except UnicodeDecodeError:
            pass
    return name[:count]


def _scaled(size: int) -> bytes:
    """autoindex_exact_size off: K above 9999 bytes, M and G from their first full unit,
    rounded half up; 7 columns."""
    for unit, scale in ((1 << 30, b"G"), (1 << 20, b"M")):
        if size >= unit:
            return b"%6d%s" % (size // unit + (size % unit >= unit // 2), scale)
    if size > 9999:
        return b"%6dK" % (size // 1024 + (size % 1024 > 511))
    return b" %6d" % size


def render_html(uri: str, entries: Sequence[Entry], *, exact_size: bool = True,
                localtime: bool = False, utf8: bool = False) -> bytes:
    title = _escape_html(uri.encode("utf-8", "surrogateescape"))
    parts = [b"<html>\r\n<head><title>Index of ", title,
             b"</title></head>\r\n<body>\r\n<h1>Index of ", title,
             b'</h1><hr><pre><a href="../">../</a>\r\n']
    for entry in entries:
        directory = entry.kind == "directory"
        parts += [b'<a href="', quote_from_bytes(entry.name, safe="~").encode(),
                  b'/">' if directory else b'">']
        length = _length(entry.name, utf8)
        if length > NAME_WIDTH:
            # nginx copies the cut name as it is (not HTML-escaped), then "..>".
            parts += [_cut(entry.name, NAME_WIDTH - 3, utf8), b"..&gt;</a>"]
        else:
            parts.append(_escape_html(entry.name))
            if directory and length < NAME_WIDTH:
                parts.append(b"/")
                length += 1
            parts += [b"</a>", b" " * (NAME_WIDTH - length)]
        tm = time.localtime(entry.mtime) if localtime else time.gmtime(entry.mtime)
        parts.append(b" %02d-%s-%d %02d:%02d " % (tm.tm_mday, _MONTHS[tm.tm_mon - 1].encode(),
                                                  tm.tm_year, tm.tm_hour, tm.tm_min))
        if exact_size:
            parts.append(b"-".rjust(19) if directory else b"%19d" % entry.size)
        else:
            parts.append(b"      -" if directory else _scaled(entry.size))
        parts.append(b"\r\n")
    parts.append(b"</pre><hr></body>\r\n</html>\r\n")
    return b"".join(parts)


# --- json and xml ---------------------------------------------------------------------------


def _escape_json(data: bytes) -> bytes:
    return escape_json(data.decode("latin-1")).encode("latin-1")  # bytes as they are


def render_json(entries: Sequence[Entry]) -> bytes:
    items = []
    for entry in entries:
        item = (b'{ "name":"' + _escape_json(entry.name) + b'", "type":"'
                + entry.kind.encode() + b'", "mtime":"'
                + formatdate(entry.mtime, usegmt=True).encode() + b'"')
        if entry.kind == "file":
            item += b', "size":%d' % entry.size
        items.append(item + b" }")
    return b"[\r\n" + b",\r\n".join(items) + (b"\r\n" if items else b"") + b"]"


def render_xml(entries: Sequence[Entry]) -> bytes:
    parts = [b'<?xml version="1.0"?>\r\n<list>\r\n']
    for entry in entries:
        tag = entry.kind.encode()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.mtime)).encode()
        size = b' size="%d"' % entry.size if entry.kind == "file" else b""
        parts.append(b"<%s mtime=\"%s\"%s>%s</%s>\r\n"
                     % (tag, stamp, size, _escape_html(entry.name), tag))
    parts.append(b"</list>\r\n")
    return b"".join(parts)
