"""nginx's rules for answering with a file, as pure functions (no I/O): the file's path for a
URI (root / alias), its Content-Type (types, default_type, charset), ETag and Last-Modified,
the conditional requests (ngx_http_not_modified_filter_module), byte ranges
(ngx_http_range_filter_module), whether to gzip (ngx_http_gzip_module), and the Location of the
301 for a directory without its slash.

The I/O (stat, open, send) is in proxy/static.py.
"""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_tz
from typing import Any
from urllib.parse import quote

from hotdeploy.config.model import DEFAULT_MIME_TYPES, StaticSettings
from hotdeploy.proxy.user_agent import is_msie6

DEFAULT_ROOT = "html"  # nginx's default root, under the prefix
DEFAULT_INDEX = "index.html"

# Conditional outcome of a request for a file of known mtime / ETag.
SEND, NOT_MODIFIED, PRECONDITION_FAILED = 200, 304, 412


def base_paths(settings: StaticSettings, prefix: str, req: Any) -> tuple[str, str | None]:
    """The request's root and alias, rendered (they may hold variables) and made absolute
    against the prefix (`req` is what the templates render against)."""
    alias = None
    if settings.alias is not None:
        alias = settings.alias.render(req)
        if not alias.startswith("/"):
            alias = os.path.join(prefix, alias)
    root = settings.root.render(req) if settings.root is not None else DEFAULT_ROOT
    if not root.startswith("/"):
        root = os.path.join(prefix, root)
    return root, alias


def request_filename(settings: StaticSettings, prefix: str, location_prefix: str,
                     req: Any) -> str:
    """$request_filename: the file the current URI maps to."""
    root, alias = base_paths(settings, prefix, req)
    if alias is not None and not location_prefix:
        return alias  # alias in a regex location names the file itself
    return file_path(settings, root, alias, location_prefix, req.path)


def file_path(settings: StaticSettings, root: str, alias: str | None, location_prefix: str,
              uri: str) -> str:
    """ngx_http_map_uri_to_path: `root` + URI, or `alias` + the URI past the location's
    prefix. `root`/`alias` are already rendered (variables) and absolute."""
    if alias is not None:
        rest = uri[len(location_prefix):] if uri.startswith(location_prefix) else uri
        return alias + rest
    return root + uri


def content_type(settings: StaticSettings, uri: str) -> str:
    """ngx_http_set_content_type: the extension after the URI's last '.' (not across a '/'),
    looked up case-insensitively in `types`; `default_type` otherwise; plus `; charset=` for
    `charset_types`."""
    types = settings.types if settings.types is not None else DEFAULT_MIME_TYPES
    found = None
    slash = uri.rfind("/")
    dot = uri.rfind(".")
    if dot > slash:
        found = types.get(uri[dot + 1:].lower())
    mime = found if found is not None else settings.default_type
    return with_charset(settings, mime)


def with_charset(settings: StaticSettings, mime: str) -> str:
    if settings.charset is not None and mime.lower() in settings.charset_types:
        return f"{mime}; charset={settings.charset}"
    return mime


def etag(mtime: int, size: int) -> str:
    """nginx's strong ETag: the mtime and the size in hexadecimal."""
    return f'"{mtime:x}-{size:x}"'


def http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


def parse_http_date(value: str) -> int | None:
    """ngx_parse_http_time: RFC 1123, RFC 850 and asctime dates; None when unparseable."""
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    import calendar

    offset = parsed[9] or 0
    try:
        return calendar.timegm(parsed[:9]) - offset  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return None


def _etag_matches(header: str, tag: str, weak: bool) -> bool:
    """ngx_http_test_if_match: `*`, or one of the listed tags (weak comparison for
    If-None-Match: `W/` ignored on both sides)."""
    if header.strip() == "*":
        return True
    if weak and tag.startswith("W/"):
        tag = tag[2:]
    for candidate in header.split(","):
        candidate = candidate.strip()
        if weak and candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == tag:
            return True
    return False


def conditional(settings: StaticSettings, mtime: int, tag: str | None, if_modified_since: str,
                if_none_match: str, if_unmodified_since: str, if_match: str) -> int:
    """SEND, NOT_MODIFIED or PRECONDITION_FAILED, in ngx_http_not_modified_header_filter's
    order (for a 200 response)."""
    if if_unmodified_since:
        iums = parse_http_date(if_unmodified_since)
        if iums is None or iums < mtime:
            return PRECONDITION_FAILED
    if if_match and (tag is None or not _etag_matches(if_match, tag, weak=False)):
        return PRECONDITION_FAILED
    if not (if_modified_since or if_none_match):
        return SEND
    if if_modified_since:
        mode = settings.if_modified_since
        if mode == "off":
            return SEND
        ims = parse_http_date(if_modified_since)
        if ims != mtime and (mode == "exact" or ims is None or ims < mtime):
            return SEND
    if if_none_match and (tag is None or not _etag_matches(if_none_match, tag, weak=True)):
        return SEND
    return NOT_MODIFIED


# Outcome of a Range header: FULL (send it all), UNSATISFIABLE (416), or the ranges.
FULL: list[tuple[int, int]] = []
UNSATISFIABLE = None


def parse_ranges(value: str, size: int, max_ranges: int = -1) -> list[tuple[int, int]] | None:
    """ngx_http_range_parse: [start, end) pairs; FULL (empty list) to send the whole file;
    UNSATISFIABLE (None) for 416. A header not starting with `bytes=` means FULL, and so does
    a satisfiable range beyond `max_ranges` (-1: no limit)."""
    if value[:6].lower() != "bytes=":
        return FULL
    text = value[6:]
    pos = 0
    n = len(text)
    ranges: list[tuple[int, int]] = []
    total = 0

    def spaces(p: int) -> int:
        while p < n and text[p] == " ":
            p += 1
        return p

    def digits(p: int) -> tuple[int, int] | None:
        start = p
        while p < n and text[p].isdigit() and text[p].isascii():
            p += 1
        if p == start:
            return None
        return int(text[start:p]), p

    while True:
        pos = spaces(pos)
        suffix = False
        start = end = 0
        found_end = False
        if pos < n and text[pos] != "-":
            got = digits(pos)
            if got is None:
                return UNSATISFIABLE
            start, pos = got
            pos = spaces(pos)
            if pos >= n or text[pos] != "-":
                return UNSATISFIABLE
            pos = spaces(pos + 1)
            if pos >= n or text[pos] == ",":
                end = size
                found_end = True
        elif pos < n:
            suffix = True
            pos += 1
        else:
            return UNSATISFIABLE
        if not found_end:
            got = digits(pos)
            if got is None:
                return UNSATISFIABLE
            end, pos = got
            pos = spaces(pos)
            if pos < n and text[pos] != ",":
                return UNSATISFIABLE
            if suffix:
                start = size - end if end < size else 0
                end = size - 1
            end = size if end >= size else end + 1
        if start < end:
            ranges.append((start, end))
            total += end - start
            if len(ranges) > max_ranges >= 0:
                return FULL
        elif start == 0:
            return FULL
        if pos >= n or text[pos] != ",":
            break
        pos += 1
    if not ranges:
        return UNSATISFIABLE
    if total > size:
        return FULL
    return ranges


def if_range_allows(if_range: str, tag: str | None, mtime: int) -> bool:
    """ngx_http_range_header_filter's If-Range: an exact strong ETag, or the exact date."""
    if not if_range:
        return True
    if if_range.startswith('"'):
        return tag is not None and not tag.startswith("W/") and if_range == tag
    return parse_http_date(if_range) == mtime


def _accepts_gzip(accept_encoding: str) -> bool:
    """ngx_http_gzip_accept_encoding: a `gzip` token whose q-value is not zero."""
    for item in accept_encoding.lower().split(","):
        token, _, params = item.strip().partition(";")
        if token.strip() != "gzip":
            continue
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                return float(params[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def gzip_applies(settings: StaticSettings, status: int, mime: str, length: int) -> bool:
    """The response side of ngx_http_gzip_header_filter: gzip on, 200/403/404, a listed type
    and at least gzip_min_length bytes (also decides `Vary` with gzip_vary)."""
    gz = settings.gzip
    if not gz.enabled or status not in (200, 403, 404):
        return False
    if length != -1 and length < gz.min_length:
        return False
    base = mime.partition(";")[0].strip().lower()
    return "*" in gz.types or base in gz.types


def gzip_request_ok(version: str, accept_encoding: str, lowest: str = "1.1") -> bool:
    """The request side of ngx_http_gzip_ok: the client takes gzip and speaks at least
    gzip_http_version (1.1 by default; HTTP/0.9 never); `Via` is judged by
    `gzip_proxied_allows`, the User-Agent by `gzip_disabled`."""
    if version != "1.1" and not (version == "1.0" and lowest == "1.0"):
        return False
    return _accepts_gzip(accept_encoding)


def gzip_disabled(gzip: Any, agent: str) -> bool:
    """gzip_disable: the msie6 mask (MSIE 4-6 but 6 with SV1) or a regex the User-Agent
    matches."""
    if not agent:
        return False
    if gzip.disable_msie6 and is_msie6(agent):
        return True
    return any(pattern.search(agent) for pattern in gzip.disable)


def redirect_location(settings: StaticSettings, uri: str, args: str, scheme: str,
                      host: str, server_name: str, port: int) -> str:
    """Location of the 301 for a directory asked without its trailing slash
    (ngx_http_static_handler, ngx_http_header_filter's relative-to-absolute rewrite)."""
    path = quote(uri, safe="/:@!$&'()*+,;=-._~") + "/"
    if args:
        path += "?" + args
    if not settings.absolute_redirect:
        return path
    name = server_name if settings.server_name_in_redirect and server_name else host
    default_port = 443 if scheme == "https" else 80
    authority = name
    if settings.port_in_redirect and port != default_port:
        authority = f"{name}:{port}"
    return f"{scheme}://{authority}{path}"


def _has_token(value: str, token: str) -> bool:
    return token in {t.strip().partition("=")[0] for t in value.lower().split(",")}


def gzip_proxied_allows(proxied: frozenset[str], response: dict[bytes, bytes],
                        authorization: bool, now: float) -> bool:
    """gzip_proxied for a request that came through a proxy (it has `Via`), judged on the
    response's headers in ngx_http_gzip_ok's order: an Expires or a Cache-Control decides
    alone; otherwise only no_last_modified / no_etag can refuse."""
    if "off" in proxied:
        return False
    if "any" in proxied or ("auth" in proxied and authorization):
        return True
    if b"expires" in response:
        if "expired" not in proxied:
            return False
        expires = parse_http_date(response[b"expires"].decode("latin-1"))
        return expires is not None and expires <= now
    if b"cache-control" in response:
        value = response[b"cache-control"].decode("latin-1")
        return any(token in proxied and _has_token(value, token)
                   for token in ("no-cache", "no-store", "private"))
    if "no_last_modified" in proxied and b"last-modified" in response:
        return False
    return not ("no_etag" in proxied and b"etag" in response)
