"""Answering from files, as nginx does for a location without proxy_pass/return: try_files,
index, the static handler (200, 301 for a directory, 403, 404, 405), conditional requests
(304/412), byte ranges (206/416, multipart/byteranges), HEAD and gzip.

The rules are pure functions in proxy/static_rules.py; this module does the file system calls
and builds the heads. Bodies are never read whole: a small file goes out with its head in one
write, a larger one through proxy/file_sender.py (sendfile or chunks under flow control); gzip
and charset come from proxy/content_filters.py.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hotdeploy.proxy import autoindex, pages
from hotdeploy.proxy import static_rules as rules
from hotdeploy.proxy.chunks import LAST_CHUNK, chunk
from hotdeploy.proxy.clock import date_header
from hotdeploy.proxy.content_filters import gzip_compressor, gzip_ok
from hotdeploy.proxy.file_sender import FileSender, read_pieces
from hotdeploy.proxy.plan import SERVER_HEADER
from hotdeploy.proxy.request import log_context
from hotdeploy.proxy.response_head import add_header_lines

if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan
    from hotdeploy.proxy.request import Request

INLINE_LIMIT = 64 * 1024  # a body up to this size is written together with its head
MAX_INTERNAL_REDIRECTS = 10  # nginx: NGX_HTTP_MAX_URI_CHANGES
_NOT_FOUND_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
_boundaries = itertools.count(1)  # nginx numbers multipart boundaries per worker from 1


class _Walk:
    """One request's way through try_files, index and internal redirects: how many redirects
    so far, and the status an error_page answers with (0: an ordinary request)."""

    __slots__ = ("depth", "err")

    def __init__(self, err: int = 0) -> None:
        self.depth = 0
        self.err = err


def serve(conn: Any, req: Request, walk: _Walk | None = None) -> None:
    """Answer `req` from its plan's static settings (plan.kind == "static")."""
    plan = req.plan
    assert plan is not None
    if walk is None:
        walk = _Walk()
    tried = plan.settings.static.try_files
    if tried:
        _try_files(conn, req, plan, walk)
    else:
        _content(conn, req, plan, req.path, walk)


def serve_error_page(conn: Any, req: Request, target: LocationPlan, uri: str,
                     status: int) -> None:
    """`error_page CODE URI` whose URI is answered from files: the file with status CODE
    (ngx_http_send_error_page: an internal redirect that keeps the error status)."""
    path, mark, args = uri.partition("?")
    req.path = path
    if mark:
        req.args = args
    req.plan = target
    serve(conn, req, _Walk(status))


# --- mapping URIs to files -------------------------------------------------------------------


def _base(conn: Any, req: Request, plan: LocationPlan) -> tuple[str, str | None]:
    """The rendered root and alias (relative ones resolve against the prefix)."""
    return rules.base_paths(plan.settings.static, req.runtime.config.prefix, req)


def _path(req: Request, plan: LocationPlan, root: str, alias: str | None, uri: str) -> str:
    if alias is not None and not plan.prefix:
        return alias  # alias in a regex location names the file itself
    return rules.file_path(plan.settings.static, root, alias, plan.prefix, uri)


def _stat(path: str) -> os.stat_result | OSError:
    try:
        return os.stat(path)
    except OSError as exc:
        return exc


# --- try_files, index, internal redirects -----------------------------------------------------


def _try_files(conn: Any, req: Request, plan: LocationPlan, walk: _Walk) -> None:
    """ngx_http_core_try_files_phase: the first existing file (or directory, for an argument
    ending in '/') becomes the URI; otherwise the last argument: =code, @name or a URI."""
    entries = plan.settings.static.try_files
    root, alias = _base(conn, req, plan)
    for template in entries[:-1]:
        name = template.render(req)
        test_dir = template.raw.endswith("/")
        if test_dir:
            name = name[:-1]  # nginx strips the slash of the argument and tests a directory
        found = _stat(_path(req, plan, root, alias, name))
        if isinstance(found, OSError):
            if found.errno not in _NOT_FOUND_ERRNOS:
                conn._log_error("crit", f'stat() "{_path(req, plan, root, alias, name)}" '
                                        f"failed ({found.errno}: {found.strerror})"
                                        f"{log_context(req)}")
            continue
        if stat.S_ISDIR(found.st_mode) != test_dir:
            continue
        req.path = name
        _content(conn, req, plan, name, walk)
        return
    last = entries[-1].render(req)
    if last.startswith("="):
        code = int(last[1:])
        if code == 444:
            req.status = 444
            conn._log_access(req)
            conn.close_transport()
            return
        conn.respond(req, code)
    elif last.startswith("@"):
        _named(conn, req, plan, last, walk)
    else:
        uri, _, args = last.partition("?")
        _redirect(conn, req, plan, uri, args if "?" in last else req.args, walk)


def _named(conn: Any, req: Request, plan: LocationPlan, name: str, walk: _Walk) -> None:
    runtime = req.runtime
    for location in plan.server.locations:
        if location.modifier == "@" and location.path == name:
            target = runtime.plans.get(id(location))
            if target is not None:
                _enter(conn, req, target, walk)
                return
    conn._log_error("error", f'could not find named location "{name}"{log_context(req)}')
    conn.respond(req, 500)


def _redirect(conn: Any, req: Request, plan: LocationPlan, uri: str, args: str,
              walk: _Walk) -> None:
    """ngx_http_internal_redirect: the URI changes and the location is chosen again."""
    walk.depth += 1
    if walk.depth >= MAX_INTERNAL_REDIRECTS:
        conn._log_error("error", "rewrite or internal redirection cycle while internally "
                                 f'redirecting to "{uri}"{log_context(req)}')
        conn.respond(req, 500)
        return
    set_internal_uri(req, uri, args)
    runtime = req.runtime
    location = runtime.router.find_location(plan.server, uri)
    next_plan = runtime.plans.get(id(location if location is not None else plan.server))
    if next_plan is None:
        conn.respond(req, 500)
        return
    _enter(conn, req, next_plan, walk)


def set_internal_uri(req: Request, uri: str, args: str) -> None:
    """The request's URI after an internal redirect (try_files, index, error_page): what
    locations, $uri and a proxy_pass without URI see from now on."""
    req.path = uri
    req.args = args
    target = quote(uri, safe="/:@!$&'()*+,;=-._~%") + ("?" + args if args else "")
    req.url = target.encode("latin-1", "replace")  # what a proxy_pass without URI sends


def _enter(conn: Any, req: Request, target: LocationPlan, walk: _Walk) -> None:
    req.plan = target
    if target.kind == "static":
        serve(conn, req, walk)
    else:
        conn._dispatch(req)


def _content(conn: Any, req: Request, plan: LocationPlan, uri: str, walk: _Walk) -> None:
    if uri.endswith("/"):
        _index(conn, req, plan, uri, walk)
    else:
        _static(conn, req, plan, uri, walk.err)


def _index(conn: Any, req: Request, plan: LocationPlan, uri: str, walk: _Walk) -> None:
    """ngx_http_index_handler: the first index file that exists is an internal redirect; no
    index and a missing directory is 404, an existing one 403 (autoindex is off)."""
    st = plan.settings.static
    root, alias = _base(conn, req, plan)
    names = [t.render(req) for t in st.index] or [rules.DEFAULT_INDEX]
    first_missing = ""
    for name in names:
        if name.startswith("/"):
            _redirect(conn, req, plan, name, req.args, walk)
            return
        path = _path(req, plan, root, alias, uri + name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in _NOT_FOUND_ERRNOS:
                first_missing = first_missing or path
                continue
            if exc.errno == errno.EACCES:
                conn._log_error("error", f'open() "{path}" failed (13: Permission denied)'
                                         f"{log_context(req)}")
                conn.respond(req, 403)
                return
            conn._log_error("crit", f'open() "{path}" failed ({exc.errno}: {exc.strerror})'
                                    f"{log_context(req)}")
            conn.respond(req, 500)
            return
        os.close(fd)
        _redirect(conn, req, plan, uri + name, req.args, walk)
        return
    directory = _path(req, plan, root, alias, uri)
    found = _stat(directory)
    if isinstance(found, OSError) or not stat.S_ISDIR(found.st_mode):
        if st.log_not_found:
            conn._log_error("error", f'"{first_missing}" is not found (2: No such file or '
                                     f"directory){log_context(req)}")
        conn.respond(req, 404)
        return
    if st.autoindex and req.method in ("GET", "HEAD"):
        _autoindex(conn, req, plan, directory)
        return
    conn._log_error("error", f'directory index of "{directory}" is forbidden{log_context(req)}')
    conn.respond(req, 403)


def _autoindex(conn: Any, req: Request, plan: LocationPlan, directory: str) -> None:
    """ngx_http_autoindex_handler: the listing, chunked (nginx knows no length up front)."""
    st = plan.settings.static
    callback = ""
    if st.autoindex_format == "jsonp":
        callback = req.variable("arg_callback")
        problem = autoindex.callback_problem(callback)
        if problem:
            conn._log_error("info", f'client sent {problem}: "{callback}"{log_context(req)}')
            conn.respond(req, 400)
            return
    path = directory.rstrip("/") or "/"
    try:
        entries = autoindex.list_directory(path)
    except OSError as exc:
        missing = exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG)
        denied = exc.errno == errno.EACCES
        conn._log_error("error" if missing or denied else "crit",
                        f'opendir() "{path}" failed ({exc.errno}: {exc.strerror})'
                        f"{log_context(req)}")
        conn.respond(req, 404 if missing else 403 if denied else 500)
        return
    fmt = st.autoindex_format if st.autoindex_format != "jsonp" or callback else "json"
    charset = (st.charset or "").lower() if fmt == "html" else ""
    body = autoindex.render(fmt, req.path, entries, exact_size=st.autoindex_exact_size,
                            localtime=st.autoindex_localtime, utf8=charset == "utf-8",
                            callback=callback)
    conn._write_generated(req, 200, body, b"", autoindex.CONTENT_TYPES[fmt], chunked=True)


# --- the static handler -------------------------------------------------------------------------


def _static(conn: Any, req: Request, plan: LocationPlan, uri: str, err: int) -> None:
    # An error page is fetched as GET whatever the request's method (HEAD stays HEAD).
    method = req.method if not err or req.method == "HEAD" else "GET"
    if method not in ("GET", "HEAD", "POST"):
        conn.respond(req, 405)
        return
    st = plan.settings.static
    root, alias = _base(conn, req, plan)
    path = _path(req, plan, root, alias, uri)
    vary = False
    if st.gzip_static != "off" and method != "POST" and not err:
        vary = _gzip_static(conn, req, plan, path, uri)
        if vary is None:
            return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in _NOT_FOUND_ERRNOS:
            if st.log_not_found:
                conn._log_error("error", f'open() "{path}" failed ({exc.errno}: '
                                         f"{exc.strerror}){log_context(req)}")
            conn.respond(req, 404)
        elif exc.errno == errno.EACCES:
            conn._log_error("error", f'open() "{path}" failed (13: Permission denied)'
                                     f"{log_context(req)}")
            conn.respond(req, 403)
        else:
            conn._log_error("crit", f'open() "{path}" failed ({exc.errno}: {exc.strerror})'
                                    f"{log_context(req)}")
            conn.respond(req, 500)
        return
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        conn.respond(req, 500)
        return
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        _directory_redirect(conn, req, plan, uri)
        return
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        conn._log_error("crit", f'"{path}" is not a regular file{log_context(req)}')
        conn.respond(req, 404)
        return
    if method == "POST":
        os.close(fd)
        conn.respond(req, 405)
        return
    _send_file(conn, req, plan, uri, fd, info, err, vary=vary)


def _gzip_static(conn: Any, req: Request, plan: LocationPlan, path: str,
                 uri: str) -> bool | None:
    """ngx_http_gzip_static_handler: PATH.gz, sent as it is with `Content-Encoding: gzip`,
    to a client that takes gzip (`always`: to every client). None: answered; else whether
    the uncompressed file's response gets `Vary` (`on` with gzip_vary and a PATH.gz)."""
    st = plan.settings.static
    takes_gzip = st.gzip_static == "always" or gzip_ok(req, st, {})
    if not takes_gzip and not st.gzip.vary:
        return False
    compressed = path + ".gz"
    try:
        fd = os.open(compressed, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno not in _NOT_FOUND_ERRNOS:
            level = "error" if exc.errno in (errno.EACCES, errno.EMLINK, errno.ELOOP) else "crit"
            conn._log_error(level, f'open() "{compressed}" failed ({exc.errno}: '
                                   f"{exc.strerror}){log_context(req)}")
        return False
    vary = st.gzip_static == "on" and st.gzip.vary
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        conn.respond(req, 500)
        return None
    if not takes_gzip or stat.S_ISDIR(info.st_mode):
        os.close(fd)
        return vary  # nginx marks the response for Vary before it looks at the file type
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        conn._log_error("crit", f'"{compressed}" is not a regular file{log_context(req)}')
        conn.respond(req, 500)
        return None
    _send_file(conn, req, plan, uri, fd, info, vary=vary, encoded=True)
    return None


def _directory_redirect(conn: Any, req: Request, plan: LocationPlan, uri: str) -> None:
    st = plan.settings.static
    names = plan.server.server_names
    # ngx_http_header_filter: the request's host, else the address the client connected to.
    host = req.host or req.server_addr
    location = rules.redirect_location(st, uri, req.args, "http", host,
                                       names[0] if names else "", req.server_port)
    line = b"Location: " + location.encode("latin-1", "replace") + b"\r\n"
    if location.startswith("/"):
        # A relative Location stays in nginx's header list: after Connection, before the
        # add_header lines (an absolute one is written by the header filter, before).
        body = pages.error_body(301)
        head = _head(conn, req, plan, 301, [b"Content-Type: text/html\r\n",
                                            b"Content-Length: %d\r\n" % len(body)],
                     [line], 301) + b"\r\n"
        _finish_inline(conn, req, 301, head, b"" if req.method == "HEAD" else body)
        return
    conn._write_generated(req, 301, pages.error_body(301), line)


# --- the response ------------------------------------------------------------------------------


def _head(conn: Any, req: Request, plan: LocationPlan, status: int, before: list[bytes],
          after: list[bytes], add_status: int, mtime: int = -1) -> bytes:
    """Status line, Server, Date, `before` (entity headers), Connection [+ Keep-Alive],
    `after` (ETag...), the add_header lines for `add_status`, then `tail` lines."""
    keep = conn.keep_alive_for(req)
    parts = [pages.status_line(status), SERVER_HEADER, date_header(), *before]
    if keep:
        parts.append(plan.keepalive_lines)
    else:
        parts.append(b"Connection: close\r\n")
        req.close_after = True
    parts += after
    parts += add_header_lines(plan, req, add_status, mtime)  # mtime: `expires modified`
    return b"".join(parts)


def _send_file(conn: Any, req: Request, plan: LocationPlan, uri: str, fd: int,
               info: os.stat_result, err: int = 0, vary: bool = False,
               encoded: bool = False) -> None:
    """`vary`: add `Vary: Accept-Encoding` (gzip_static decided it); `encoded`: the file is
    URI's .gz (gzip_static), sent whole with `Content-Encoding: gzip`, no ranges."""
    st = plan.settings.static
    size = info.st_size
    mtime = int(info.st_mtime)
    tag = rules.etag(mtime, size) if st.etag else None
    if err and err != 200:
        _send_error_file(conn, req, plan, uri, fd, size, tag, err)
        return
    outcome = rules.conditional(st, mtime, tag, req.header("if-modified-since"),
                                req.header("if-none-match"), req.header("if-unmodified-since"),
                                req.header("if-match"))
    last_modified = b"Last-Modified: " + rules.http_date(mtime).encode() + b"\r\n"
    etag_line = [b"ETag: " + tag.encode() + b"\r\n"] if tag is not None else []
    if outcome == rules.PRECONDITION_FAILED:
        os.close(fd)
        conn.respond(req, 412)
        return
    if outcome == rules.NOT_MODIFIED:
        os.close(fd)
        head = _head(conn, req, plan, 304, [last_modified], etag_line, 304, mtime) + b"\r\n"
        _finish_inline(conn, req, 304, head, b"")
        return
    mime = rules.content_type(st, uri)
    type_line = b"Content-Type: " + mime.encode("latin-1", "replace") + b"\r\n"
    # A HEAD request gets the head of the compressed response (nginx decides before it
    # knows that no body will follow).
    gzip_on = not encoded and rules.gzip_applies(st, 200, mime, size)
    vary_lines = [b"Vary: Accept-Encoding\r\n"] if vary or (gzip_on and st.gzip.vary) else []
    own = {b"last-modified": b""} if tag is None else {b"last-modified": b"", b"etag": b""}
    if encoded:
        head = _head(conn, req, plan, 200,
                     [type_line, b"Content-Length: %d\r\n" % size, last_modified],
                     [*vary_lines, *etag_line, b"Content-Encoding: gzip\r\n"], 200, mtime) + b"\r\n"
        _send(conn, req, 200, head, fd, [(0, size)], None)
        return
    if gzip_on and gzip_ok(req, st, own):
        weak = [b"ETag: W/" + tag.encode() + b"\r\n"] if tag is not None else []
        head = _head(conn, req, plan, 200,
                     [type_line, last_modified, *_gzip_framing(req)],
                     vary_lines + weak, 200, mtime) + b"Content-Encoding: gzip\r\n\r\n"
        _send(conn, req, 200, head, fd, [(0, size)], gzip_compressor(st, size))
        return
    ranges = rules.FULL
    range_header = req.header("range")
    if range_header and st.max_ranges != 0 and len(range_header) >= 7 \
            and range_header[:6].lower() == "bytes=" \
            and rules.if_range_allows(req.header("if-range"), tag, mtime):
        ranges = rules.parse_ranges(range_header, size, st.max_ranges)
    if ranges is rules.UNSATISFIABLE:
        os.close(fd)
        _unsatisfiable(conn, req, plan, size)
        return
    if not ranges:
        head = _head(conn, req, plan, 200,
                     [type_line, b"Content-Length: %d\r\n" % size, last_modified],
                     vary_lines + etag_line, 200, mtime) + (
                         b"\r\n" if st.max_ranges == 0 else b"Accept-Ranges: bytes\r\n\r\n")
        pieces: list[Any] = [(0, size)]
        status = 200
    elif len(ranges) == 1:
        start, end = ranges[0]
        head = _head(conn, req, plan, 206,
                     [type_line, b"Content-Length: %d\r\n" % (end - start), last_modified],
                     vary_lines + etag_line, 206, mtime)
        head += b"Content-Range: bytes %d-%d/%d\r\n\r\n" % (start, end - 1, size)
        pieces = [(start, end - start)]
        status = 206
    else:
        boundary = b"%020d" % next(_boundaries)
        pieces = []
        length = 0
        for start, end in ranges:
            part = (b"\r\n--" + boundary + b"\r\n" + type_line
                    + b"Content-Range: bytes %d-%d/%d\r\n\r\n" % (start, end - 1, size))
            pieces += [part, (start, end - start)]
            length += len(part) + end - start
        closing = b"\r\n--" + boundary + b"--\r\n"
        pieces.append(closing)
        length += len(closing)
        multipart = b"Content-Type: multipart/byteranges; boundary=" + boundary + b"\r\n"
        head = _head(conn, req, plan, 206,
                     [multipart, b"Content-Length: %d\r\n" % length, last_modified],
                     vary_lines + etag_line, 206, mtime) + b"\r\n"
        status = 206
    _send(conn, req, status, head, fd, pieces, None)


def _send_error_file(conn: Any, req: Request, plan: LocationPlan, uri: str, fd: int,
                     size: int, tag: str | None, status: int) -> None:
    """A file as the body of an error status: no conditionals, no ranges, no Last-Modified
    (nginx's filters act on 200 only; its header filter drops Last-Modified otherwise)."""
    st = plan.settings.static
    mime = rules.content_type(st, uri)
    type_line = b"Content-Type: " + mime.encode("latin-1", "replace") + b"\r\n"
    etag_line = [b"ETag: " + tag.encode() + b"\r\n"] if tag is not None else []
    if pages.wire_status(status) in pages.CLOSING_STATUSES:
        req.close_after = True
    if rules.gzip_applies(st, status, mime, size):
        vary = [b"Vary: Accept-Encoding\r\n"] if st.gzip.vary else []
        if gzip_ok(req, st, {b"etag": b""} if tag else {}):
            weak = [b"ETag: W/" + tag.encode() + b"\r\n"] if tag is not None else []
            head = _head(conn, req, plan, status, [type_line, *_gzip_framing(req)],
                         vary + weak, status) + b"Content-Encoding: gzip\r\n\r\n"
            _send(conn, req, status, head, fd, [(0, size)], gzip_compressor(st, size))
            return
        etag_line = vary + etag_line
    head = _head(conn, req, plan, status, [type_line, b"Content-Length: %d\r\n" % size],
                 etag_line, status) + b"\r\n"
    _send(conn, req, status, head, fd, [(0, size)], None)


def _unsatisfiable(conn: Any, req: Request, plan: LocationPlan, size: int) -> None:
    # nginx: the 416 error page, with `Content-Range: bytes */size`; the add_header lines of
    # the 200 it was (the headers filter ran before the range filter).
    body = pages.error_body(416)
    head = _head(conn, req, plan, 416,
                 [b"Content-Type: text/html\r\n", b"Content-Length: %d\r\n" % len(body)],
                 [], 200)
    head += b"Content-Range: bytes */%d\r\n\r\n" % size
    _finish_inline(conn, req, 416, head, b"" if req.method == "HEAD" else body)


def _send(conn: Any, req: Request, status: int, head: bytes, fd: int, pieces: list[Any],
          compressor: Any) -> None:
    """The file's answer: the head alone for HEAD, else the head and `pieces` of the file."""
    req.status = status
    if req.method == "HEAD":
        os.close(fd)
        _finish_inline(conn, req, status, head, b"")
        return
    _start_body(conn, req, head, fd, pieces, compressor)


def _finish_inline(conn: Any, req: Request, status: int, head: bytes, body: bytes) -> None:
    req.status = status
    req.bytes_sent += len(head) + len(body)
    req.body_bytes_sent += len(body)
    conn.send(head + body)
    conn.finish(req)


def _gzip_framing(req: Request) -> list[bytes]:
    """A compressed file's framing: chunked for HTTP/1.1; for HTTP/1.0 (gzip_http_version
    1.0) none, and the connection closes after the body. HEAD: none either way."""
    if req.method == "HEAD":
        return []
    if req.version == "1.1":
        return [b"Transfer-Encoding: chunked\r\n"]
    req.close_after = True  # read by _head's keep-alive decision
    return []


def _start_body(conn: Any, req: Request, head: bytes, fd: int, pieces: list[Any],
                compressor: Any) -> None:
    total = sum(len(p) if isinstance(p, bytes) else p[1] for p in pieces)
    if total <= INLINE_LIMIT:
        try:
            body = read_pieces(fd, pieces)
        except OSError as exc:
            os.close(fd)
            conn._log_error("crit", f"read() failed ({exc.errno}: {exc.strerror})"
                                    f"{log_context(req)}")
            conn.respond(req, 500)
            return
        os.close(fd)
        if compressor is not None:
            data = compressor.compress(body) + compressor.flush()
            body = chunk(data) + LAST_CHUNK if req.version == "1.1" else data
            req.bytes_sent += len(head) + len(body)
            req.body_bytes_sent += len(body)
            conn.send(head + body)
            conn.finish(req)
            return
        _finish_inline(conn, req, req.status, head, body)
        return
    req.bytes_sent += len(head)
    conn.send_now(head)
    sender = FileSender(conn, req, fd, pieces, compressor)
    conn.file_sender = sender
    sender.run()
