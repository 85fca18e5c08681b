"""The response head sent to the client for a proxied response. Pure: no I/O.

- Hop-by-hop headers of the upstream hop are dropped (RFC 9110 §7.6.1: Connection and the
  headers it names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade);
- `proxy_hide_header` (nginx's defaults: Date, Server, X-Pad, X-Accel-*) minus
  `proxy_pass_header`; our own `Server` and `Date` are written like nginx's;
- framing for the client hop: Content-Length passed through, otherwise chunked for HTTP/1.1
  clients, or the end of the connection for HTTP/1.0 clients (RFC 9112 §6.3);
- `add_header` lines (success codes only, unless `always`).
"""

from __future__ import annotations

from time import time as wall_seconds
from typing import TYPE_CHECKING, Final

from hotdeploy.proxy import expires
from hotdeploy.proxy.clock import date_header
from hotdeploy.proxy.header_fields import pairs
from hotdeploy.proxy.plan import ADD_HEADER_CODES, RESPONSE_HOP, SERVER_HEADER
from hotdeploy.proxy.static_rules import parse_http_date

if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan
    from hotdeploy.proxy.request import Request

CONNECTION_TOKENS_KEPT: Final = frozenset({b"close", b"keep-alive", b"upgrade"})
# Upstream Connection header values that name no other header (lower-case, whole value).
CONNECTION_VALUES_PLAIN: Final = frozenset({b"close", b"keep-alive"})


# Header names as received -> lower case. Lowering allocates a new bytes object per header;
# the same few dozen names come back on every response, so each is lowered once. Bounded so
# that an upstream inventing names cannot grow it.
HEADER_NAMES: Final[dict[bytes, bytes]] = {}
HEADER_NAMES_LIMIT: Final = 1024
LAYOUT_LIMIT: Final = 32  # header positions remembered per plan and per client connection


def lower_name(name: bytes) -> bytes:
    lname = HEADER_NAMES.get(name)
    if lname is None:
        lname = name.lower()
        if len(HEADER_NAMES) < HEADER_NAMES_LIMIT:
            HEADER_NAMES[name] = lname
    return lname


# (head bytes, length_known, chunked_out, keep): a plain tuple, built once per response.
# length_known: the upstream body is delimited (Content-Length or chunked); chunked_out: the
# body must be chunk-encoded for the client; keep: the client connection stays open after it.
ClientHead = tuple[bytes, bool, bool, bool]


def add_header_lines(plan: LocationPlan, req: Request, status: int, last_modified: int = -1,
                     expires_done: bool = False) -> list[bytes]:
    """`expires` (unless the upstream's own headers took its values: `expires_done`), then
    the add_header lines, in nginx's headers filter order."""
    lines = []
    if plan.expires is not None and not expires_done and status in expires.STATUSES:
        lines.append(expires.lines(plan.expires, int(wall_seconds()), last_modified))
    if status in ADD_HEADER_CODES:
        lines.append(plan.add_ok)
    lines.append(plan.add_always)
    for name, template, always in plan.add_dynamic:
        if always or status in ADD_HEADER_CODES:
            value = template.render(req)
            if value:
                lines.append(name + b": " + value.encode("latin-1", "replace") + b"\r\n")
    return lines


# `HTTP/1.1 NNN ` for each status code llhttp can read (100-999), formatted once: a list
# indexed by the code costs a bounds check, where a dict lookup first boxes the code.
_STATUS_LINES: Final = [b"HTTP/1.1 %d " % status for status in range(1000)]


def _status_line(status: int) -> bytes:
    return _STATUS_LINES[status] if 0 <= status < 1000 else b"HTTP/1.1 %d " % status


# What client_head does with an upstream response header (LocationPlan.header_actions).
HEADER_PASS: Final = 0
HEADER_LENGTH: Final = 1  # Content-Length: passed, and the body is delimited
HEADER_DROP: Final = 2  # hop-by-hop or proxy_hide_header
HEADER_CONNECTION: Final = 3  # dropped, unless it names other headers (general path)
HEADER_REWRITE: Final = 4  # proxy_redirect / proxy_cookie_* (proxy/header_rewrite.py)
HEADER_GENERAL: Final = 5  # Transfer-Encoding: the general path frames the body


def header_action(plan: LocationPlan, name: bytes) -> int:
    """The HEADER_* code of `name` in this plan, remembered in plan.header_actions (bounded
    like HEADER_NAMES, so an upstream inventing names cannot grow it)."""
    lname = lower_name(name)
    if lname in plan.response_drop:
        if lname in plan.rewrite_names:
            action = HEADER_REWRITE
        elif lname == b"connection":
            action = HEADER_CONNECTION
        elif lname == b"transfer-encoding":
            action = HEADER_GENERAL
        else:
            action = HEADER_DROP
    elif plan.expires is not None and lname in expires.HEADERS:
        action = HEADER_GENERAL  # replaced in place by `expires` (the general path)
    elif lname == b"content-length":
        action = HEADER_LENGTH
    else:
        action = HEADER_PASS
    if len(plan.header_actions) < HEADER_NAMES_LIMIT:
        plan.header_actions[name] = action
    return action


class HeaderSlot:
    """One position of a location's response header layout (LocationPlan.layout): the name
    last seen there, what client_head does with it, and the line last written for it."""

    def __init__(self, name: bytes, action: int) -> None:
        self.name = name
        self.action = action
        self.value = b"\r"  # no value: llhttp refuses a CR inside one
        self.line = b""


def _slot(plan: LocationPlan, name: bytes, at: int) -> HeaderSlot:
    """A slot for `name` at position `at`, remembered in the plan's layout (bounded: a
    response with more headers than LAYOUT_LIMIT gets slots that are not kept)."""
    action = plan.header_actions.get(name)
    if action is None:
        action = header_action(plan, name)
    slot = HeaderSlot(name, action)
    layout = plan.layout
    if at < len(layout):
        layout[at] = slot
    elif at < LAYOUT_LIMIT:
        layout.append(slot)
    return slot


def _head_line(plan: LocationPlan, status: int, reason: bytes) -> bytes:
    """`HTTP/1.1 200 OK` CRLF `Server: nginx` CRLF, remembered for the plan's last status
    and reason (an upstream answers the same status line again and again)."""
    if status != plan.head_status or reason != plan.head_reason:
        plan.head_line = _status_line(status) + reason + b"\r\n" + SERVER_HEADER
        plan.head_status, plan.head_reason = status, reason
    return plan.head_line


def client_head(status: int, reason: bytes, fields: list[bytes],
                plan: LocationPlan, req: Request, keep: bool) -> ClientHead:
    """The common case in one pass: a 2xx-5xx response delimited by Content-Length whose
    Connection header names nothing else. Anything unusual goes to `_client_head_general`.

    Each header is met at its position in the plan's layout: the same name as last time is
    a memcmp instead of a hash and a lookup, and the same value reuses the line already
    joined, so the head is joined from a handful of lines rather than four parts a header.
    `fields`: the upstream's headers, flat (header_fields)."""
    if status < 200:
        return _client_head_general(status, reason, pairs(fields), plan, req, keep)
    layout = plan.layout
    known = len(layout)
    parts = [_head_line(plan, status, reason), date_header()]
    has_length = False
    at = 0
    for index in range(0, len(fields), 2):
        name = fields[index]
        value = fields[index + 1]
        slot: HeaderSlot | None = layout[at] if at < known else None
        if slot is None or slot.name != name:
            slot = _slot(plan, name, at)
        at += 1
        action = slot.action
        if action == HEADER_PASS:
            pass
        elif action == HEADER_LENGTH:
            has_length = True
        elif action == HEADER_DROP:
            continue
        elif action == HEADER_CONNECTION:
            # most upstreams send exactly "keep-alive" or "close": no lower() for them
            if value != b"keep-alive" and value != b"close" \
                    and value.lower() not in CONNECTION_VALUES_PLAIN:
                return _client_head_general(status, reason, pairs(fields), plan, req, keep)
            continue
        elif action == HEADER_REWRITE:
            # rewritten per request: never a remembered line
            parts += (name, b": ", plan.rewrites.apply(lower_name(name), value, req), b"\r\n")
            continue
        else:
            return _client_head_general(status, reason, pairs(fields), plan, req, keep)
        if value != slot.value:
            slot.value = value
            slot.line = name + b": " + value + b"\r\n"
        parts.append(slot.line)
    if not has_length and not (req.method == "HEAD" or status == 204 or status == 304):
        return _client_head_general(status, reason, pairs(fields), plan, req, keep)
    if keep:
        parts.append(plan.keepalive_lines)
    else:
        parts.append(b"Connection: close\r\n")
    if plan.add_any:
        parts += add_header_lines(plan, req, status)
    parts.append(b"\r\n")
    return b"".join(parts), has_length, False, keep


def _client_head_general(status: int, reason: bytes, headers: list[tuple[bytes, bytes]],
                         plan: LocationPlan, req: Request, keep: bool) -> ClientHead:
    hide = plan.hide
    has_length = chunked = False
    named: set[bytes] | None = None
    parts = [_head_line(plan, status, reason), date_header()]
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        lname = name.lower()
        if lname in RESPONSE_HOP:
            if lname == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lname == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                named = (named or set()) | (tokens - CONNECTION_TOKENS_KEPT)
            continue
        if lname in hide:
            continue
        if lname == b"content-length":
            has_length = True
        rewrites = plan.rewrites
        if rewrites is not None and lname in rewrites.names:
            value = rewrites.apply(lname, value, req)
        kept.append((name, value))
    if chunked and has_length:
        # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; never pass both.
        named = (named or set()) | {b"content-length"}
        has_length = False
    done, last_modified = False, -1
    if plan.expires is not None and status in expires.STATUSES:
        last_modified = _last_modified(kept)  # `expires modified` counts from it
        kept, done = _with_expires(plan, kept, last_modified)
    for name, value in kept:
        if named and name.lower() in named:
            continue
        parts += (name, b": ", value, b"\r\n")
    chunked_out = False
    if status == 101:
        parts.append(b"Upgrade: " + req.header("upgrade").encode("latin-1") + b"\r\n")
        parts.append(b"Connection: upgrade\r\n")
    else:
        no_body = req.method == "HEAD" or status in (204, 304) or status < 200
        if not no_body and not has_length:
            if req.version == "1.1":
                chunked_out = True
                parts.append(b"Transfer-Encoding: chunked\r\n")
            else:
                keep = False  # HTTP/1.0: the end of the body is the end of the connection
        if keep:
            parts.append(b"Connection: keep-alive\r\n")
            parts.append(plan.keepalive_header)
        else:
            parts.append(b"Connection: close\r\n")
    parts += add_header_lines(plan, req, status, last_modified, done)
    parts.append(b"\r\n")
    return b"".join(parts), has_length or chunked, chunked_out, keep


def _last_modified(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"last-modified":
            parsed = parse_http_date(value.decode("latin-1"))
            return parsed if parsed is not None else -1
    return -1


def _with_expires(plan: LocationPlan, headers: list[tuple[bytes, bytes]], last_modified: int,
                  ) -> tuple[list[tuple[bytes, bytes]], bool]:
    """ngx_http_set_expires on an upstream's headers: its Expires gets the new value and its
    first Cache-Control too (the others go); True when both were there, so nothing is added.
    When only one was there, it is replaced and the other is added at the end."""
    names = [name.lower() for name, _ in headers]
    if b"expires" not in names and b"cache-control" not in names:
        return headers, False
    value, control = expires.values(plan.expires, int(wall_seconds()), last_modified)
    out: list[tuple[bytes, bytes]] = []
    seen_control = False
    for (name, old), lname in zip(headers, names, strict=True):
        if lname == b"expires":
            out.append((name, value))
        elif lname == b"cache-control":
            if not seen_control:
                out.append((name, control))
            seen_control = True
        else:
            out.append((name, old))
    if b"expires" not in names:
        out.append((b"Expires", value))
    if not seen_control:
        out.append((b"Cache-Control", control))
    return out, True
