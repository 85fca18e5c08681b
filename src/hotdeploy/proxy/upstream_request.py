"""The request sent upstream, rebuilt as nginx's proxy module does. Pure: no I/O.

Request line: the method, the URI per proxy_pass's rules (`uri.upstream_uri`) and
`proxy_http_version`. Headers: the `proxy_set_header` lines (constant ones pre-rendered in the
plan, e.g. `Host: backend`, `Connection: close`), then the client's headers minus hop-by-hop
ones (RFC 9110 §7.6.1, including those named by its Connection header), minus the ones set by
proxy_set_header and minus Expect/Content-Length/Host; the body length is recomputed (a chunked
client body is sent with Content-Length once buffered).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotdeploy.proxy.response_head import CONNECTION_TOKENS_KEPT
from hotdeploy.proxy.uri import upstream_uri

if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan
    from hotdeploy.proxy.request import Request


def connection_named(req: Request) -> frozenset[bytes]:
    """Header names listed in the client's Connection header (hop-by-hop too)."""
    value = req.header("connection")
    if not value:
        return frozenset()
    tokens = {t.strip().lower().encode() for t in value.split(",")}
    return frozenset(tokens - CONNECTION_TOKENS_KEPT)


def build_request(req: Request, plan: LocationPlan, streaming: bool = False,
                  chunked_up: bool = False) -> bytes:
    """The request head (and the buffered body unless `streaming`)."""
    proxy = plan.settings.proxy
    if plan.fixed_uri is not None:  # proxy_pass with variables and a URI: "as specified"
        target = plan.fixed_uri.encode("latin-1", "replace")
    elif plan.proxy_uri is None and not req.uri_rewritten:
        target = req.url  # passed exactly as the client sent it (== raw_uri's bytes)
    else:
        uri = upstream_uri(plan.proxy_uri, plan.prefix, req.raw_uri, req.path, req.args,
                           req.uri_rewritten)
        target = uri.encode("latin-1", "replace")
    # plan.request_tail = b" HTTP/1.x\r\n" + the constant proxy_set_header lines
    parts = [req.method_bytes or req.method.encode(), b" ", target, plan.request_tail]
    for name, template in plan.dynamic_set:
        value = template.render(req)
        if value:  # nginx does not send a header whose value renders empty
            parts += (name, b": ", value.encode("latin-1", "replace"), b"\r\n")
    if proxy.pass_request_headers:
        drop = plan.drop_request
        named = connection_named(req) if req.has_connection else None
        for lname, hname, hvalue in req.headers:
            if lname in drop or (named and lname in named):
                continue
            parts += (hname, b": ", hvalue, b"\r\n")
    if streaming:
        # proxy_request_buffering off: the body follows as it arrives.
        if chunked_up:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            parts.append(b"Content-Length: %d\r\n" % req.content_length)
        parts.append(b"\r\n")
        return b"".join(parts)
    if req.body_file is not None:
        # The body outgrew client_body_buffer_size: the exchange sends it from the file.
        size = req.body_file.size if proxy.pass_request_body else 0
        parts.append(b"Content-Length: %d\r\n\r\n" % size)
        return b"".join(parts)
    if not req.body and req.content_length < 0 and not req.chunked:
        parts.append(b"\r\n")  # no body (the usual GET): nothing more to compute
        return b"".join(parts)
    body = b"".join(req.body) if proxy.pass_request_body else b""
    if body or req.content_length >= 0 or req.chunked:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)
