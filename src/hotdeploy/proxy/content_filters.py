"""nginx's charset and gzip filters, for every kind of response: files (proxy/static.py), the
responses the proxy generates (proxy/responses.py) and proxied ones (proxy/exchange.py). The
decisions are pure (proxy/static_rules.py); this module applies them to heads and bodies."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from hotdeploy.proxy import static_rules as rules

if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan
    from hotdeploy.proxy.request import Request


def gzip_compressor(st: Any, size: int) -> Any:
    # ngx_http_gzip_filter_memory: a smaller window and memLevel for a short known length
    # (the window's usable size is 262 bytes less), which also makes the bytes nginx's.
    wbits, memlevel = 15, 8
    if size > 0:
        while size < (1 << (wbits - 1)) - 262:
            wbits -= 1
            memlevel -= 1
        memlevel = max(memlevel, 1)
    return zlib.compressobj(st.gzip.comp_level, zlib.DEFLATED, wbits + 16, memlevel)


def with_charset(st: Any, content_type: bytes) -> bytes:
    """The charset filter on a response the proxy generates (`charset` is set)."""
    return rules.with_charset(st, content_type.decode("latin-1")).encode("latin-1")


def charset_upstream_head(plan: LocationPlan,
                          headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """nginx's charset filter on a proxied response: `; charset=NAME` added to a Content-Type
    in charset_types that names no charset (a compressed one too: only recoding skips
    those); a response that names one is left as it is (hotdeploy converts no charsets)."""
    st = plan.settings.static
    out = []
    for name, value in headers:
        if name.lower() == b"content-type" and b"charset=" not in value.lower():
            value = with_charset(st, value)
        out.append((name, value))
    return out


def gzip_ok(req: Request, st: Any, response: dict[bytes, bytes], now: float = 0.0) -> bool:
    """ngx_http_gzip_ok: the client takes gzip over HTTP/1.1, when it came through a proxy
    (`Via`) gzip_proxied allows this response (`response`: its lower-case headers), and
    gzip_disable does not name its User-Agent."""
    gz = st.gzip
    if not rules.gzip_request_ok(req.version, req.header("accept-encoding"), gz.http_version):
        return False
    if req.header("via") and not rules.gzip_proxied_allows(
            gz.proxied, response, bool(req.header("authorization")), now):
        return False
    return not ((gz.disable or gz.disable_msie6)
                and rules.gzip_disabled(gz, req.header("user-agent")))


def gzip_page(req: Request, plan: LocationPlan, status: int, content_type: bytes,
              body: bytes, length_known: bool = True) -> tuple[bool, bytes | None]:
    """gzip for a response the proxy generates (error pages, `return`, listings): (Vary
    wanted, the compressed body, not yet framed, or None to send `body` as it is). nginx's gzip
    filter treats those like any response: 200/403/404, a gzip_types type, at least
    gzip_min_length when the length is known (a listing's is not: full window too)."""
    st = plan.settings.static
    length = len(body) if length_known else -1
    if not rules.gzip_applies(st, status, content_type.decode(), length):
        return False, None
    vary = st.gzip.vary
    if not gzip_ok(req, st, {}):
        return vary, None
    compressor = gzip_compressor(st, length)
    return vary, compressor.compress(body) + compressor.flush()  # framed by the caller


def gzip_upstream_head(req: Request, plan: LocationPlan, status: int,
                       headers: list[tuple[bytes, bytes]],
                       now: float) -> tuple[list[tuple[bytes, bytes]], Any]:
    """gzip for a proxied response: (the headers to send, a compressor or None). When nginx
    would compress it: Content-Length and Accept-Ranges go, the ETag turns weak, and
    `Content-Encoding: gzip` is added (the body is then chunked for the client)."""
    st = plan.settings.static
    lower = {name.lower(): value for name, value in headers}
    if lower.get(b"content-encoding"):
        return headers, None
    length_text = lower.get(b"content-length", b"-1").strip()
    length = int(length_text) if length_text.lstrip(b"-").isdigit() else -1
    mime = lower.get(b"content-type", b"").decode("latin-1")
    if not mime or not rules.gzip_applies(st, status, mime, length):
        return headers, None
    vary = [(b"Vary", b"Accept-Encoding")] if st.gzip.vary else []
    if not gzip_ok(req, st, lower, now):
        return headers + vary, None
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        lname = name.lower()
        if lname in (b"content-length", b"accept-ranges"):
            continue
        if lname == b"etag":
            if value.startswith(b'"'):
                value = b"W/" + value
            elif not value.startswith(b"W/"):
                continue  # ngx_http_weak_etag: not an entity tag, dropped
        kept.append((name, value))
    kept += vary
    kept.append((b"Content-Encoding", b"gzip"))
    if req.method == "HEAD":
        return kept, None
    return kept, gzip_compressor(st, length)
