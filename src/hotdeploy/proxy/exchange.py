"""One proxied request: choose a peer, send the request, stream the response, retry on failure.

Callback driven (asyncio Protocol + httptools), no coroutine per request except while a new
upstream connection is being opened. The retry decision itself is `retry.decide` (pure).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import TYPE_CHECKING, Any, Final

import httptools

from hotdeploy.proxy import pages
from hotdeploy.proxy.clock import now as clock_now
from hotdeploy.proxy.content_filters import charset_upstream_head, gzip_upstream_head
from hotdeploy.proxy.header_fields import flat, pairs
from hotdeploy.proxy.request import log_context, request_error_log
from hotdeploy.proxy.response_head import client_head
from hotdeploy.proxy.retry import RETRYABLE_STATUSES, FailureKind, decide, may_resend
from hotdeploy.proxy.upstream import UpstreamConnection
from hotdeploy.proxy.upstream_request import build_request
from hotdeploy.proxy.uri import upstream_uri
from hotdeploy.tls.upstream import failure_message as tls_failure
from hotdeploy.tls.upstream import open_connection as open_tls
from hotdeploy.upstream.attempt import Attempt
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.peer import Peer

if TYPE_CHECKING:
    from hotdeploy.proxy.client import ClientConnection
    from hotdeploy.proxy.request import Request
    from hotdeploy.proxy.runtime import Runtime


# $upstream_status text for the usual codes, without a str() per response.
# Module constants are Final: compiled, a plain module global is a dictionary lookup on
# every read, a Final one a load (the request path reads several per request).
_RETRYABLE: Final = RETRYABLE_STATUSES
_STATUS_TEXT: Final = {code: str(code) for code in range(100, 600)}


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing this response (retry or intercept)."""


class Exchange:
    # No __slots__: fields that start equal for every request are class attributes, so an
    # exchange (one per proxied request) sets only what differs. Immutable defaults only.
    tries = 0
    attempt_started = 0.0
    peer: Any = None
    conn: UpstreamConnection | None = None
    streaming = False
    stream_mode = False
    chunked_up = False
    body_sent = False
    parser: Any = None
    connect_task: asyncio.Task[None] | None = None
    phase = ""
    finished = False
    sent = False
    response_started = False
    reused = False
    retried_stale = False
    after_stop: Any = None
    last_code = 502
    # the response of the current attempt (see _reset_response)
    status = 0
    reason = b""
    header_done = False
    interim = False
    length_known = False
    out_chunked = False
    skip_body = False
    peer_failed = False
    # A small Content-Length response is held until it is whole (see _write_head): while
    # `holding`, nothing of it has reached the client, so a broken attempt can still be retried.
    holding = False
    hold_room = 0
    close_before = False
    # $upstream_connect_time / $upstream_header_time of the current attempt (-1: not reached)
    connect_time = -1.0
    header_time = -1.0
    up_sent = 0  # bytes written to the upstream by the current attempt ($upstream_bytes_sent)
    # a request body kept in a file (client_body_buffer_size), replayed on each attempt
    body_file: Any = None
    file_offset = 0
    compressor: Any = None  # gzip of the response body (static.gzip_upstream_head)

    def __init__(self, client: ClientConnection, req: Request, runtime: Runtime) -> None:
        plan = req.plan
        assert plan is not None and plan.upstream is not None
        self.client = client
        self.req = req
        self.plan = plan
        self.runtime = runtime
        proxy = self.proxy = plan.settings.proxy
        self.loop = client.loop
        self.group: Any = runtime.groups.get(plan.upstream)  # None: start() answers 502
        self.pool = runtime.pools.get(plan.upstream) if plan.upstream_keepalive else None
        key = plan.hash_key.render(req) if plan.hash_key is not None else None
        self.attempt = Attempt(req.remote_addr, key)
        self.started = clock_now()  # proxy_next_upstream_timeout counts from here
        if not req.complete and not proxy.request_buffering:
            # proxy_request_buffering off: the body is forwarded while it arrives (not for a
            # chunked body to an HTTP/1.0 upstream: without a length it must be buffered,
            # as nginx does).
            streaming = not req.chunked or plan.upstream_version == b"HTTP/1.1"
            self.streaming = self.stream_mode = streaming
            self.chunked_up = streaming and req.chunked
        self.payload = build_request(req, plan, self.streaming, self.chunked_up)
        if req.body_file is not None and proxy.pass_request_body:
            self.body_file = req.body_file
        # The client connection's upstream timer, reused request after request (creating a
        # timer handle per request costs more than re-arming one).
        self.timer = client.upstream_timer
        self.out: list[bytes] = []  # client bytes produced during one feed, written once
        self.resp_fields: list[bytes] = []  # name, value, name, value... (header_fields)

    def _reset_response(self) -> None:
        self.compressor = None
        self.status = 0
        self.reason = b""
        self.resp_fields = []
        self.header_done = False
        self.interim = False
        self.length_known = False
        self.out_chunked = False
        self.skip_body = False
        self.peer_failed = False
        self.holding = False

    # ------------------------------------------------------------------ the request
    def _encode_body(self, data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if self.chunked_up else data

    def body_chunk(self, data: bytes) -> None:
        """More request body from the client (streaming mode)."""
        conn = self.conn
        if conn is not None and conn.transport is not None and not self.finished:
            conn.transport.write(self._encode_body(data))
            self.body_sent = True
            self.peer.sent += len(data)
            self.up_sent += len(data)

    def body_end(self) -> None:
        self.streaming = False
        conn = self.conn
        if self.chunked_up and conn is not None and conn.transport is not None \
                and not self.finished:
            conn.transport.write(b"0\r\n\r\n")

    # ------------------------------------------------------------------ peer selection
    def start(self) -> None:
        if self.group is None:
            self._log("error", f'no upstream "{self.plan.upstream}"')
            self.client.respond(self.req, 502)
            return
        self._try_next()

    def _try_next(self) -> None:
        now = clock_now()
        group: PeerGroup = self.group  # typed locals: native calls in the compiled module
        peer = group.select(self.attempt, now)
        if peer is None:
            if self.tries == 0:
                self._log("error", "no live upstreams while connecting to upstream",
                          upstream=False)
            self.req.attempts.append((self.plan.upstream or "", "502", 0.0, -1.0, -1.0, 0, 0, 0))
            self.finished = True
            self.client.respond(self.req, self.last_code)
            return
        self.tries += 1
        self.peer = peer
        self.attempt_started = now
        self.header_time = -1.0
        self.up_sent = 0
        conn = self.pool.take(peer, now) if self.pool is not None else None
        if conn is not None:
            self.reused = True
            self.connect_time = 0.0  # a cached connection: nothing to connect (nginx: 0.000)
            self._send(conn)
        else:
            self.reused = False
            self._connect()

    def _connect(self) -> None:
        self.connect_time = -1.0
        tracker = self.client.tracker
        limit = self.runtime.config.worker_connections
        if tracker.count >= limit:
            # nginx: no free connection for the upstream side either; the request ends 500.
            self._log("alert", f"{limit} worker_connections are not enough while connecting "
                               "to upstream")
            self._record_attempt(0, "500")
            self.group.release(self.peer, False, clock_now())
            self.finished = True
            self.client.respond(self.req, 500)
            return
        tracker.upstream += 1  # counted from the socket's creation, as nginx does
        self.phase = "connecting"
        self.timer.set(self.proxy.connect_timeout)
        self.connect_task = self.loop.create_task(self._open(self.peer))

    async def _open(self, peer: Any) -> None:
        loop = self.loop
        tracker = self.client.tracker
        tls = self.plan.upstream_tls
        try:
            if tls is None:
                _, conn = await loop.create_connection(  # type: ignore[type-var]
                    lambda: UpstreamConnection(peer, clock_now(), tracker), peer.spec.host,
                    peer.spec.port)
            else:  # proxy_pass https://
                _, conn = await open_tls(
                    loop, lambda: UpstreamConnection(peer, clock_now(), tracker),
                    peer.spec.host, peer.spec.port, self.runtime.config.tls.upstream[tls], tls)
        except BaseException as exc:
            tracker.upstream -= 1  # no connection: UpstreamConnection never took over the count
            if not isinstance(exc, OSError):
                raise
            self.connect_task = None
            if not self.finished:
                errno = exc.errno or 111
                message = tls_failure(exc) if tls is not None else None
                self._failed("error", message or f"connect() failed ({errno}: "
                                                 f"{os.strerror(errno)}) while connecting to "
                                                 "upstream")
            return
        self.connect_task = None
        if self.finished or peer is not self.peer:
            conn.close()
            return
        self.connect_time = clock_now() - self.attempt_started
        if self.plan.upstream_rcvbuf:
            _bound_reads(conn, self.plan.upstream_rcvbuf)
        self._send(conn)

    def _send(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        conn.exchange = self
        conn.received = 0
        conn.requests += 1
        if self.tries > 1 or self.retried_stale:
            self._reset_response()  # a retry: forget what the previous attempt received
        self.parser = conn.response_parser()  # its callbacks reach us through conn.exchange
        self.phase = "header"
        self.timer.set(self.proxy.read_timeout)
        transport = conn.transport
        assert transport is not None
        payload = self.payload
        if self.stream_mode:
            # Streaming mode: what arrived so far, then the rest as it comes.
            body = b"".join(self._encode_body(c) for c in self.req.body)
            if not self.streaming and self.chunked_up:
                body += b"0\r\n\r\n"
            self.body_sent = bool(body)
            payload += body
        direct = self.stream_mode or self.body_file is not None
        if direct:
            transport.write(payload)  # more follows: the body as it arrives or from its file
        else:
            self.client.batch.write(transport, payload)  # see write_batch
        self.sent = True
        peer: Peer = self.peer
        peer.sent += len(payload)
        self.up_sent += len(payload)
        if self.body_file is not None:
            self.file_offset = 0  # each attempt replays the body from the start of the file
            self._pump()
        # A batched payload is not written yet, and the transport (a fresh or idle pooled
        # connection) holds nothing else: only a direct write can have left bytes behind.
        if direct and transport.get_write_buffer_size():
            # proxy_send_timeout: between two successive writes while the request is sent;
            # proxy_read_timeout starts once it is (see upstream_resume_writing).
            self.phase = "sending"
            self.timer.set(self.proxy.send_timeout)

    def _pump(self) -> None:
        """Send the file-buffered body while the upstream transport accepts more (its
        pause_writing stops us; resume_writing calls us again): bounded memory."""
        body_file, conn = self.body_file, self.conn
        if conn is None or conn.transport is None:
            return
        transport = conn.transport
        high = transport.get_write_buffer_limits()[1]
        while (self.file_offset < body_file.size and not self.finished
               and not transport.is_closing() and transport.get_write_buffer_size() <= high):
            chunk = body_file.read(self.file_offset)
            if not chunk:
                break
            self.file_offset += len(chunk)
            self.peer.sent += len(chunk)
            self.up_sent += len(chunk)
            transport.write(chunk)

    # ------------------------------------------------------------------ upstream events
    def upstream_data(self, data: bytes) -> None:
        if self.finished:
            return
        try:
            self.parser.feed_data(data)
            if self.out and not self.holding:
                self._flush()
            if not self.finished:
                # proxy_read_timeout runs between two successive reads.
                self.timer.set(self.proxy.read_timeout)
                if not self.header_done and self.conn is not None \
                        and self.conn.received > self.plan.header_limit:
                    self._too_big_header()
        except httptools.HttpParserUpgrade as exc:
            self._flush()
            if self.status == 101 and self.req.upgrade:
                self._start_tunnel(data[exc.args[0]:] if exc.args else b"")
            else:
                self._failed("invalid_header", "upstream sent invalid header while reading "
                                               "response header from upstream")
        except httptools.HttpParserError:
            action = self.after_stop
            if action is not None:
                self.after_stop = None
                action()
            elif not self.header_done:
                self._failed("invalid_header", "upstream sent invalid header while reading "
                                               "response header from upstream")
            else:
                self._log("error", "upstream sent invalid chunked response while reading "
                                   "upstream")
                self._abort(failed=True)

    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        if self.finished or conn is not self.conn:
            return
        self.conn = None
        if not self.header_done:
            if (self.reused and conn.received == 0 and not self.retried_stale
                    and may_resend(self.req.method, True, self.plan.next_upstream)):
                # A cached connection the server closed as we reused it (the keep-alive race):
                # not the peer's fault; retry once on a fresh connection to the same peer.
                # The request went out on that connection, so nginx's non-idempotent guard
                # applies: the server may have acted on a POST/LOCK/PATCH.
                self.retried_stale = True
                self.reused = False
                self._connect()
                return
            if isinstance(exc, ConnectionResetError):
                message = ("recv() failed (104: Connection reset by peer) while reading "
                           "response header from upstream")
            else:
                message = ("upstream prematurely closed connection while reading response "
                           "header from upstream")
            self._failed("error", message)
        elif not self.length_known and not self.skip_body:
            self._complete(reuse=False)  # a close-delimited body ends here (RFC 9112 §6.3)
        else:
            self._body_broke("error", "upstream prematurely closed connection while reading "
                                      "upstream")

    def upstream_pause_writing(self) -> None:
        if self.phase == "header":
            self.phase = "sending"
            self.timer.set(self.proxy.send_timeout)

    def upstream_resume_writing(self) -> None:
        if self.phase == "sending":
            self.phase = "header"
            self.timer.set(self.proxy.read_timeout)
        if self.body_file is not None:
            self._pump()

    # ------------------------------------------------------------------ parser callbacks
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        fields = self.resp_fields
        fields.append(name)
        fields.append(value)

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # Interim responses (RFC 9110 §15.2) are not forwarded: we sent the whole body.
            self.interim = True
            self.resp_fields = []
            self.reason = b""
            return
        self.status = status
        self.header_done = True
        self.header_time = clock_now() - self.attempt_started
        conn = self.conn
        if conn is not None and conn.received > self.plan.header_limit \
                and self._head_size() > self.plan.header_limit:
            self.after_stop = self._too_big_header
            raise _Stop
        kind = _RETRYABLE.get(status)
        next_upstream = self.plan.next_upstream
        if kind is not None and kind in next_upstream:
            decision = self._decide(kind)
            self.peer_failed = decision.counts_as_failure
            if decision.retry:
                self.after_stop = lambda: self._retry_after_status(kind, decision.counts_as_failure)
                raise _Stop
        if self.proxy.intercept_errors and status >= 300 \
                and status in self.plan.settings.error_pages:
            self.after_stop = lambda: self._intercept(status)
            raise _Stop
        self._write_head()

    def on_body(self, data: bytes) -> None:
        if self.skip_body or self.finished:
            return
        compressor = self.compressor
        if compressor is not None:
            data = compressor.compress(data)
            if not data:
                return
        self.req.body_bytes_sent += len(data)
        if self.holding:
            self.hold_room -= len(data)
            if self.hold_room < 0:
                self.holding = False  # more than proxy_buffer_size: it goes out as it comes
        # Buffered until the parser returns: the head and the body of a small response leave
        # in one write(2) (each write costs a wakeup of the reader on loopback).
        if self.out_chunked:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if self.status == 101 and self.req.upgrade:
            return  # llhttp stops right after with HttpParserUpgrade: the tunnel starts there
        if not self.finished:
            self._complete(reuse=not self.skip_body)

    def _head_size(self) -> int:
        """Bytes of the status line and headers (only computed when a response's first
        reads exceed proxy_buffer_size)."""
        size = len(b"HTTP/1.1 200 \r\n\r\n") + len(self.reason)
        for field in self.resp_fields:
            size += len(field) + 2  # name ": " / value CRLF
        return size

    def _too_big_header(self) -> None:
        # nginx: the response header must fit in proxy_buffer_size; an invalid_header failure.
        self._failed("invalid_header", "upstream sent too big header while reading response "
                                       "header from upstream")

    # ------------------------------------------------------------------ response head
    def _write_head(self) -> None:
        req, status, reason = self.req, self.status, self.reason
        if req.err_status:
            # error_page CODE =CODE into a proxied location: nginx's err_status, whose
            # status line carries the standard reason, not the upstream's.
            status = req.err_status
            reason = pages.reason(status).encode("latin-1")
        limit = self.plan.response_buffer
        client = self.client
        if client.write_limit != limit:
            # proxy_buffering / proxy_buffer_size: how much response we hold for this client
            # before pausing the upstream (planner.response_buffer_limit).
            client.write_limit = limit
            client.transport.set_write_buffer_limits(high=limit)
        fields = self.resp_fields
        if self.plan.charset or self.plan.gzip:
            headers = pairs(fields)
            if self.plan.charset:
                headers = charset_upstream_head(self.plan, headers)
            if self.plan.gzip:
                headers, self.compressor = gzip_upstream_head(req, self.plan, status, headers,
                                                              time.time())
            fields = flat(headers)
        head, self.length_known, self.out_chunked, keep = client_head(
            status, reason, fields, self.plan, req, self.client.keep_alive_for(req))
        req.upstream_headers = self.resp_fields
        self.close_before = req.close_after
        if not keep:
            req.close_after = True
        if self.length_known and not self.out_chunked and self.proxy.buffering:
            # Held until whole while it fits in proxy_buffer_size. nginx too delays a small
            # head (postpone_output) but counts it as sent; holding it lets an instance that
            # dies between its head and its body (SIGKILL, OOM) cost a retry, not a truncated
            # response. Bodies that stream (chunked, close-delimited, large) are not held.
            self.holding = True
            self.hold_room = self.proxy.buffer_size - len(head)
        req.bytes_sent += len(head)
        req.status = status
        self.response_started = True
        self.phase = "body"
        self.out.append(head)
        if req.method == "HEAD" and status != 101:
            # llhttp cannot be told the request was HEAD: it would wait for Content-Length
            # bytes that never come. The response is complete; the connection is not reusable.
            self.skip_body = True
            self._complete(reuse=False)

    def _body_broke(self, kind: FailureKind, message: str) -> None:
        """The upstream closed or timed out after the response head."""
        if self.holding:
            # Nothing of it reached the client: a failure like one while reading the header,
            # passed to the next server under proxy_next_upstream's rules.
            self._unstart()
            self._failed(kind, message)
        else:
            self._log("error", message)
            self._abort(failed=True)

    def _unstart(self) -> None:
        """Forget a held response head: nothing of it reached the client."""
        req = self.req
        self.holding = False
        self.response_started = False
        self.out.clear()
        req.status = 0
        req.bytes_sent = req.body_bytes_sent = 0
        req.close_after = self.close_before
        req.upstream_headers = ()

    # ------------------------------------------------------------------ completion
    def _record_attempt(self, status: int, text: str = "", now: float = 0.0) -> None:
        """One entry of $upstream_addr, $upstream_status (`text` overrides the status, as
        for a failed attempt answered 502/504) and the $upstream_*_time variables."""
        elapsed = (now or clock_now()) - self.attempt_started
        peer: Peer = self.peer
        req = self.req
        conn = self.conn
        # $upstream_response_length: the body this attempt passed on (0 when it failed);
        # $upstream_bytes_received / _sent: its wire bytes (head and body) each way.
        length = req.body_bytes_sent if self.response_started else 0
        req.attempts.append((peer, text or _STATUS_TEXT.get(status) or str(status),
                             elapsed, self.connect_time, self.header_time, length,
                             conn.received if conn is not None else 0, self.up_sent))
        if status:
            peer.observe_latency(elapsed)  # metrics: one upstream response time per attempt
            responses = peer.responses
            cls = status // 100 - 1
            if 0 <= cls < 5:
                responses[cls] = responses[cls] + 1  # typed: no generic in-place add
            responses[5] = responses[5] + 1

    def _complete(self, reuse: bool) -> None:
        self.finished = True
        self.timer.when = 0.0  # Deadline.clear, inlined (once per request)
        client, req, conn = self.client, self.req, self.conn
        peer: Peer = self.peer
        out = self.out
        compressor = self.compressor
        if compressor is not None:
            tail = compressor.flush()
            self.compressor = None
            if tail:
                self.req.body_bytes_sent += len(tail)
                if self.out_chunked:
                    out += (b"%x\r\n" % len(tail), tail, b"\r\n")
                else:
                    out.append(tail)  # HTTP/1.0 (gzip_http_version 1.0): unframed
        if self.out_chunked:
            out.append(b"0\r\n\r\n")
        if out:
            client.send(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
        now = clock_now()
        self._record_attempt(self.status, now=now)
        if conn is not None:
            peer.received += conn.received
            self.conn = None
            pool = self.pool
            plan = self.plan
            if (reuse and pool is not None and self.parser.should_keep_alive()
                    and conn.requests < plan.upstream_keepalive_requests
                    and now - conn.created < plan.upstream_keepalive_time
                    and conn.transport is not None):
                pool.put(conn, now)  # the pool's stamps are on time.monotonic(), as `now`
            else:
                conn.close()
        group: PeerGroup = self.group
        group.release(peer, self.peer_failed, now)
        self.parser = None  # the connection's parser: this exchange is done with it
        client.finish(req)

    def _flush(self) -> None:
        out = self.out
        if out:
            self.client.send_now(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def _abort(self, failed: bool) -> None:
        """The response broke after its head was sent: close both sides (the client must see a
        truncated response, never a wrong one)."""
        self._flush()
        self.finished = True
        self.timer.clear()
        if self.conn is not None:
            self.peer.received += self.conn.received
            self.conn.close()
            self.conn = None
        self._record_attempt(self.status)
        self.group.release(self.peer, failed, clock_now())
        self.client.abort(self.req)

    def client_lost(self) -> None:
        """The client closed its connection before the response was complete."""
        if self.finished:
            return
        self.finished = True
        self.timer.clear()
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.peer is not None:
            self._record_attempt(self.status)
            self.group.release(self.peer, False, clock_now())
        if not self.response_started:
            self.req.status = 499  # nginx's "client closed request"

    # ------------------------------------------------------------------ failures and retries
    def _decide(self, kind: FailureKind) -> Any:
        proxy = self.proxy
        return decide(kind, self.plan.next_upstream, self.req.method, self.sent,
                      self.response_started, self.tries, proxy.next_upstream_tries,
                      self.group.max_tries, clock_now() - self.started,
                      proxy.next_upstream_timeout, body_streamed=self.body_sent)

    def _close_attempt(self) -> None:
        self.timer.clear()
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        if self.conn is not None:
            self.peer.received += self.conn.received
            self.conn.close()
            self.conn = None

    def _failed(self, kind: FailureKind, message: str) -> None:
        if self.finished:
            return
        self._close_attempt()
        self._log("error", message)
        code = self.last_code = 504 if kind == "timeout" else 502
        self._record_attempt(0, str(code))
        decision = self._decide(kind)
        self.group.release(self.peer, decision.counts_as_failure, clock_now())
        if decision.retry:
            self.peer.retries += 1  # this failed attempt is passed to the next server
            self._try_next()
        elif self.response_started:
            self._abort(failed=False)
        else:
            self.finished = True
            self.client.respond(self.req, code)

    def _retry_after_status(self, kind: FailureKind, failed: bool) -> None:
        self._close_attempt()
        self._record_attempt(self.status)
        self.group.release(self.peer, failed, clock_now())
        self.peer.retries += 1
        self._try_next()

    def _intercept(self, status: int) -> None:
        self._close_attempt()
        self._record_attempt(status)
        self.finished = True
        self.group.release(self.peer, self.peer_failed, clock_now())
        self.client.respond(self.req, status)

    def on_timeout(self) -> None:
        if self.finished:
            return
        phase = self.phase
        if phase == "connecting":
            where = "while connecting to upstream"
        elif phase == "sending":
            where = "while sending request to upstream"
        elif phase == "header":
            where = "while reading response header from upstream"
        else:
            where = "while reading upstream"
        message = f"upstream timed out (110: Connection timed out) {where}"
        if phase == "body":
            self._body_broke("timeout", message)
        else:
            self._failed("timeout", message)

    # ------------------------------------------------------------------ websocket tunnel
    def _start_tunnel(self, rest: bytes) -> None:
        from hotdeploy.proxy.tunnel import Tunnel

        self.finished = True
        self.timer.clear()
        conn = self.conn
        assert conn is not None
        self.conn = None
        self._record_attempt(101)
        Tunnel(self.client, conn, self.req, self.group, self.peer).start(rest)

    # ------------------------------------------------------------------ logging
    def _log(self, level: str, message: str, upstream: bool = True) -> None:
        error_log = request_error_log(self.req)
        if not error_log.enabled(level):
            return
        req = self.req
        url = ""
        if upstream and self.peer is not None:
            uri = upstream_uri(self.plan.proxy_uri, self.plan.prefix, req.raw_uri, req.path,
                               req.args, req.uri_rewritten)
            scheme = "http" if self.plan.upstream_tls is None else "https"
            url = f"{scheme}://{self.peer.address}{uri}"
        error_log.log(level, message + log_context(req, url), req.cid)


def _bound_reads(conn: UpstreamConnection, size: int) -> None:
    # proxy_buffering off: a read returns what the socket holds, so a small receive buffer
    # keeps each read (what we hold beyond the pause threshold) near proxy_buffer_size.
    sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
