"""Responses the proxy writes itself: error pages, `return`, `error_page`, the admin API.

A mixin of `ClientConnection` (it writes to the connection's transport and hands the finished
request back to `finish`), kept apart so the connection module stays about the protocol.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hotdeploy.config.model import Return
from hotdeploy.proxy import pages
from hotdeploy.proxy.chunks import LAST_CHUNK, chunk
from hotdeploy.proxy.clock import date_header
from hotdeploy.proxy.content_filters import gzip_page, with_charset
from hotdeploy.proxy.plan import SERVER_HEADER
from hotdeploy.proxy.redirect import absolute_location
from hotdeploy.proxy.response_head import add_header_lines
from hotdeploy.proxy.static import serve_error_page, set_internal_uri

if TYPE_CHECKING:
    from hotdeploy.proxy.request import Request
    from hotdeploy.proxy.write_batch import WriteBatch


# `return 444`, and 408/499 as nginx's ngx_http_terminate_request treats them: the
# connection closes with no response; the access log has the code.
CLOSE_WITHOUT_RESPONSE = frozenset({444, 408, 499})


class GeneratedResponses:
    transport: Any
    batch: WriteBatch  # every write to the client goes through it, in order

    def send(self, data: bytes) -> None:
        """Write to the client at the end of this event-loop iteration, after what is
        already batched (see write_batch)."""
        self.batch.write(self.transport, data)

    def send_now(self, data: bytes) -> None:
        """Write to the client now (after what is batched): a streamed body, whose writes
        must reach the transport at once so that its pause_writing stops the upstream
        reads before the next one (bounded memory behind a slow client)."""
        self.batch.flush()
        self.transport.write(data)

    def close_transport(self, abort: bool = False) -> None:
        """Close (or abort) the client connection after the batched writes went out."""
        self.batch.flush()
        if abort:
            self.transport.abort()
        elif not self._linger():
            self.transport.close()

    def _linger(self) -> bool:  # pragma: no cover - provided by the connection
        return False

    def finish(self, req: Request) -> None:  # pragma: no cover - provided by the connection
        raise NotImplementedError

    def keep_alive_for(self, req: Request) -> bool:  # pragma: no cover - idem
        raise NotImplementedError

    def _dispatch(self, req: Request) -> None:  # pragma: no cover - idem
        raise NotImplementedError

    def _log_access(self, req: Request) -> None:  # pragma: no cover - idem
        raise NotImplementedError

    def _log_error(self, level: str, message: str) -> None:  # pragma: no cover - idem
        raise NotImplementedError

    def _return(self, req: Request, ret: Return, override: int | None) -> None:
        code = ret.code
        text = ret.text.render(req) if ret.text is not None else None
        if code in CLOSE_WITHOUT_RESPONSE:
            req.status = code
            self._log_access(req)
            self.close_transport()
            return
        status = override or code
        if code in pages.REDIRECT_STATUSES and text is not None:
            location = absolute_location(text, req.variable("scheme"), req.variable("host"),
                                         req.server_port)
            self._write_generated(req, status, pages.error_body(code),
                                  b"Location: " + location.encode("latin-1", "replace") + b"\r\n")
        elif text is not None:
            self._write_generated(req, status, text.encode(), b"", _default_type(req))
        elif code in pages.REDIRECT_STATUSES and override is None:
            # No URL: nginx still sets an (empty) Location and sends the page.
            self._write_generated(req, status, pages.error_body(code), b"Location: \r\n")
        elif status >= 400 and override is None:
            self.respond(req, status)
        elif status < 300 or (status < 400 and code not in pages.REDIRECT_STATUSES):
            # ngx_http_send_response with an empty text: default_type, Content-Length: 0.
            self._write_generated(req, status, b"", b"", _default_type(req))
        else:
            self._write_generated(req, status, pages.error_body(status))

    def _admin(self, req: Request) -> None:
        plan = req.plan
        assert plan is not None and plan.location is not None
        body = b"".join(req.body)
        try:
            if plan.kind == "api":
                from hotdeploy.admin.api import handle_api

                subpath = req.path[len(plan.location.path):] if req.path.startswith(
                    plan.location.path) else req.path
                status, headers, payload = handle_api(
                    req.method, subpath, req.args, body, req.runtime,
                    bool(plan.location.api_write), time.monotonic())
            else:
                from hotdeploy.admin.metrics import render_metrics

                status, headers, payload = render_metrics(req.runtime)
        except Exception as exc:  # the admin API must never take the data path down
            self._log_error("alert", f"admin handler failed: {exc!r}")
            self.respond(req, 500)
            return
        content_type = b"application/json"
        extra = []
        for name, value in headers:
            if name.lower() == "content-type":
                content_type = value.encode("latin-1")
            else:
                extra.append(f"{name}: {value}\r\n".encode("latin-1"))
        self._write_generated(req, status, payload, b"".join(extra), content_type)

    def respond(self, req: Request, status: int) -> None:
        """Answer with a generated status (error page), honouring `error_page`."""
        plan = req.plan
        if plan is not None and not req.redirected and status >= 300:
            page = plan.settings.error_pages.get(pages.error_page_code(status))
            if page is not None and self._error_page(req, status, page):
                return
        body = pages.error_body(status)
        # A code nginx has no page for: an empty body with no Content-Type.
        self._write_generated(req, status, body, b"", b"text/html" if body else b"")

    def _error_page(self, req: Request, status: int, page: Any) -> bool:
        req.redirected = True
        uri = page.uri.render(req)
        code = page.response_code or pages.wire_status(status)
        if not uri.startswith(("/", "@")):
            # error_page to a URL: a redirect (302 unless =301/302/303/307/308 was given).
            code = page.response_code if page.response_code in pages.REDIRECT_STATUSES else 302
            self._write_generated(req, code, pages.error_body(code),
                                  b"Location: " + uri.encode("latin-1", "replace") + b"\r\n")
            return True
        plan = req.plan
        assert plan is not None
        runtime = req.runtime
        target = None
        if uri.startswith("@"):
            for location in plan.server.locations:
                if location.modifier == "@" and location.path == uri:
                    target = runtime.plans.get(id(location))
        else:
            location = runtime.router.find_location(plan.server, uri.partition("?")[0])
            # No location matches: the server's own settings answer (files, as nginx).
            target = runtime.plans.get(id(location if location is not None else plan.server))
        if target is not None and target.kind == "static":
            serve_error_page(self, req, target, uri, code)
            return True
        if target is not None and target.kind == "proxy" and not target.script:
            self._redirect_to_proxy(req, target, uri, 0 if page.use_upstream_code else code)
            return True
        if target is None or target.kind != "return" or target.return_ is None:
            return False
        req.plan = target
        override = None if page.use_upstream_code else code
        self._return(req, target.return_, override)
        return True

    def _redirect_to_proxy(self, req: Request, target: Any, uri: str, status: int) -> None:
        """error_page into a location that proxies (ngx_http_send_error_page). To a URI the
        request goes as a GET (HEAD stays HEAD) with the page's URI and arguments; to a named
        location it keeps its method and URI. The client gets `status` with the upstream's
        headers and body (0: the upstream's own status, `error_page ... =`)."""
        if not uri.startswith("@"):
            path, _, args = uri.partition("?")
            set_internal_uri(req, path, args)
            if req.method != "HEAD":
                req.method = "GET"
                req.method_bytes = b"GET"
        if req.attempts:
            req.attempt_groups += (len(req.attempts),)
        req.err_status = status
        req.plan = target
        self._dispatch(req)

    def _write_generated(self, req: Request, status: int, body: bytes, extra: bytes = b"",
                         content_type: bytes = b"text/html", chunked: bool = False) -> None:
        """`chunked`: sent as nginx sends a body it makes as it goes (a directory listing):
        no Content-Length, chunked to an HTTP/1.1 client, closed after for HTTP/1.0."""
        plan = req.plan
        wire = pages.wire_status(status)
        if status in pages.CLOSING_STATUSES:
            req.close_after = True
        parts = [pages.status_line(wire), SERVER_HEADER, date_header()]
        vary, gzipped = False, None
        if content_type and plan is not None:  # b"": a body-less page, untyped
            if plan.settings.static.charset is not None:
                content_type = with_charset(plan.settings.static, content_type)
            if plan.settings.static.gzip.enabled:
                vary, gzipped = gzip_page(req, plan, wire, content_type, body, not chunked)
        compressed = gzipped is not None
        if gzipped is not None:
            body = gzipped
            chunked = True  # nginx's gzip filter drops the length
        if chunked and req.version != "1.1" and req.method != "HEAD":
            req.close_after = True  # unframed for HTTP/1.0: the body ends with the connection
        keep = self.keep_alive_for(req)
        if wire not in pages.NO_BODY_STATUSES:
            if content_type:
                parts.append(b"Content-Type: " + content_type + b"\r\n")
            if not chunked:
                parts.append(b"Content-Length: %d\r\n" % len(body))
            elif req.method != "HEAD" and req.version == "1.1":  # HEAD: no framing at all
                parts.append(b"Transfer-Encoding: chunked\r\n")
                body = chunk(body) + LAST_CHUNK
        parts.append(extra)
        if keep:
            parts.append(b"Connection: keep-alive\r\n")
            if plan is not None:
                parts.append(plan.keepalive_header)
        else:
            parts.append(b"Connection: close\r\n")
            req.close_after = True
        if vary:
            parts.append(b"Vary: Accept-Encoding\r\n")
        if plan is not None:
            parts += add_header_lines(plan, req, wire)
        if compressed:
            parts.append(b"Content-Encoding: gzip\r\n")
        parts.append(b"\r\n")
        head = b"".join(parts)
        if req.method == "HEAD" or wire in pages.NO_BODY_STATUSES:
            body = b""
        req.status = wire
        req.bytes_sent += len(head) + len(body)
        req.body_bytes_sent += len(body)
        self.send(head + body)
        self.finish(req)


def _default_type(req: Request) -> bytes:
    """How nginx types a `return` text: default_type (text/plain unless configured)."""
    if req.plan is None:
        return b"text/plain"
    return req.plan.settings.static.default_type.encode("latin-1")
