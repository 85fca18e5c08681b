"""nginx's request parser rules that llhttp does not apply itself (ngx_http_parse.c,
ngx_http_request.c), each called only on the rare path: a cache miss, an unusual version or
method, an absolute-form target, a failed parse. And `http11_line`, the common path's way
to read the version without asking the parser.

Pure functions: no I/O, no state beyond the bounded caches the caller keeps.
"""

from __future__ import annotations

import re

# Leniencies that make llhttp accept what nginx accepts, and nothing more:
# - a lone LF ends a line (RFC 9112 §2.2 allows it; nginx accepts it in requests, chunk lines
#   and upstream responses); a lone CR still does not (llhttp's `optional_lf_after_cr` stays
#   off, nginx answers 400);
# - whitespace after a chunk size (nginx's chunked parser skips it);
# - any one-digit version, so that the front end can answer as nginx does: 505 for 2.0 and
#   above, 400 for 0.9 on a request line, HTTP/1.2.. read as 1.1.
REQUEST_LENIENCIES: dict[str, bool] = {
    "lenient_optional_cr_before_lf": True,
    "lenient_spaces_after_chunk_size": True,
    "lenient_version": True,
}
RESPONSE_LENIENCIES: dict[str, bool] = {"lenient_optional_cr_before_lf": True}

# A request header name nginx accepts as is: letters, digits and '-' (ngx_http_parse_header_line
# folds case; '_' only with `underscores_in_headers on`). Anything else marks the line invalid,
# and `ignore_invalid_headers on` (the default) drops it.
_VALID_NAME = re.compile(rb"[A-Za-z0-9-]+\Z")
_UNDERSCORE_NAME = re.compile(rb"[A-Za-z0-9_-]+\Z")

NAME_VALID = 0
NAME_UNDERSCORE = 1  # valid only with underscores_in_headers on
NAME_INVALID = 2


def name_kind(name: bytes) -> int:
    if _VALID_NAME.match(name):
        return NAME_VALID
    if _UNDERSCORE_NAME.match(name):
        return NAME_UNDERSCORE
    return NAME_INVALID


def normalize_host(value: bytes) -> str | None:
    """$host from a Host header or an absolute URI's authority, as ngx_http_validate_host:
    lower case, the port removed, one trailing dot removed; None (400) for an empty host, two
    dots in a row, '/', a control character or whitespace."""
    host_len = len(value)
    dot_pos = host_len
    literal = False  # inside "[...]" (an IPv6 literal)
    rest = False  # after the host: the port
    for i, ch in enumerate(value):
        if ch == 0x2E:  # '.'
            if dot_pos == i - 1:
                return None
            dot_pos = i
        elif ch == 0x3A:  # ':'
            if not literal and not rest:
                host_len = i
                rest = True
        elif ch == 0x5B:  # '['
            if i == 0:
                literal = True
        elif ch == 0x5D:  # ']'
            if literal and not rest:
                host_len = i + 1
                literal = False
                rest = True
        elif ch == 0x2F or ch <= 0x20 or ch == 0x7F:  # '/', controls, space
            return None
    if dot_pos == host_len - 1:
        host_len -= 1
    if host_len <= 0:
        return None
    return value[:host_len].decode("latin-1").lower()


# Absolute form (RFC 9112 §3.2.2) as ngx_http_parse_request_line reads it: a scheme of
# letters, "://", a host of letters, digits, '.', '-', '_' (or an IP literal in brackets), an
# optional port, then the path; no userinfo. nginx takes $host from it and sends the origin
# form upstream.
_ABSOLUTE = re.compile(
    r"[A-Za-z]+://(\[[0-9A-Za-z:._~!$&'()*+,;=-]*\]|[0-9A-Za-z._-]*)(:[0-9]*)?([/?].*)?\Z",
    re.DOTALL)


def absolute_form(target: str) -> tuple[str | None, str] | None:
    """(host or None if invalid, origin-form target) for an absolute-form target; None when
    the target is not in absolute form."""
    if "://" not in target:
        return None
    match = _ABSOLUTE.match(target)
    if match is None:
        return (None, "/")
    authority = match.group(1) + (match.group(2) or "")
    path = match.group(3) or "/"
    if path.startswith("?"):
        path = "/" + path
    return (normalize_host(authority.encode("latin-1")), path)


def version_status(version: str) -> tuple[str, int]:
    """(the version to act on, the error status or 0) for a version llhttp read leniently:
    nginx answers 505 to a major version above 1, reads 1.2 .. 1.9 as 1.1, and refuses 0.9
    on a request line (400)."""
    major, _, minor = version.partition(".")
    if major >= "2":
        return (version, 505)
    if major == "1":
        return ("1.1" if minor >= "1" else "1.0", 0)
    return ("1.0", 400)


def http11_line(data: bytes, method: bytes, url: bytes) -> bool:
    """True when `data`, the feed a request began in, opens with exactly `METHOD SP url SP
    HTTP/1.1 CRLF` (the method and URL llhttp read): the request is HTTP/1.1. httptools'
    get_http_version() formats a new string on every call, which costs more than the rest of
    the request line's handling; False only means asking it. A feed that opens with the empty
    lines llhttp skips before a request never matches (the URL holds no space)."""
    at = len(method) + 1 + len(url)
    return data[at:at + 11] == b" HTTP/1.1\r\n" and data[0] != 13 and data[0] != 10


def lf_request_line(data: bytes, url: bytes) -> bytes | None:
    """`data` with CRLF in place of a lone LF ending its request line, when llhttp refused
    exactly that (it does not apply `optional_cr_before_lf` to request lines): the line must be
    `METHOD SP url SP HTTP/d.d` with the URL llhttp already read. None for anything else."""
    head = data.lstrip(b"\r\n")
    end = head.find(b"\n")
    if end <= 0 or head[end - 1] == 0x0D:
        return None
    line = head[:end]
    match = re.fullmatch(rb"[A-Z]+ (\S+) HTTP/\d\.\d", line)
    if match is None or match.group(1) != url:
        return None
    return line + b"\r\n" + head[end + 1:]
