"""One proxied request: choose a peer, send the request, stream the response, retry on failure.

Callback driven (asyncio Protocol + httptools), no coroutine per request except while a new
upstream connection is being opened. The retry decision itself is `retry.decide` (pure).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

import httptools

from hotdeploy.proxy.clock import date_header
from hotdeploy.proxy.plan import ADD_HEADER_CODES, RESPONSE_HOP, SERVER_HEADER
from hotdeploy.proxy.retry import RETRYABLE_STATUSES, FailureKind, decide
from hotdeploy.proxy.timers import Deadline
from hotdeploy.proxy.upstream import UpstreamConnection
from hotdeploy.proxy.uri import upstream_uri

if TYPE_CHECKING:
    from hotdeploy.proxy.client import ClientConnection
    from hotdeploy.proxy.request import Request
    from hotdeploy.proxy.runtime import Runtime

_CONNECTION_TOKENS_KEPT = frozenset({b"close", b"keep-alive", b"upgrade"})


def _noop() -> None:
    pass


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing this response (retry or intercept)."""


_ATTEMPT: Any = None


def _attempt(client_ip: str, hash_key: str | None) -> Any:
    global _ATTEMPT
    if _ATTEMPT is None:
        from hotdeploy.upstream.group import Attempt

        _ATTEMPT = Attempt
    return _ATTEMPT(client_ip, hash_key)


class Exchange:
    __slots__ = (
        "after_stop",
        "attempt",
        "attempt_started",
        "client",
        "conn",
        "connect_task",
        "finished",
        "group",
        "header_done",
        "interim",
        "out",
        "last_code",
        "length_known",
        "loop",
        "out_chunked",
        "parser",
        "payload",
        "peer",
        "peer_failed",
        "phase",
        "plan",
        "pool",
        "proxy",
        "reason",
        "req",
        "resp_headers",
        "response_started",
        "retried_stale",
        "reused",
        "runtime",
        "sent",
        "skip_body",
        "started",
        "status",
        "timer",
        "tries",
    )

    def __init__(self, client: ClientConnection, req: Request, runtime: Runtime) -> None:
        plan = req.plan
        assert plan is not None and plan.upstream is not None
        self.client = client
        self.req = req
        self.plan = plan
        self.runtime = runtime
        self.proxy = plan.settings.proxy
        self.loop = client.loop
        self.group = runtime.groups.get(plan.upstream)
        self.pool = runtime.pools.get(plan.upstream) if plan.upstream_keepalive else None
        key = plan.hash_key.render(req) if plan.hash_key is not None else None
        self.attempt = _attempt(req.remote_addr, key)
        self.tries = 0
        self.started = time.monotonic()
        self.attempt_started = 0.0
        self.peer: Any = None
        self.conn: UpstreamConnection | None = None
        self.parser: Any = None
        self.connect_task: asyncio.Task[None] | None = None
        self.payload = self._build_request()
        self.phase = ""
        self.timer = Deadline(self.loop, self._on_timeout)
        self.finished = False
        self.sent = False
        self.response_started = False
        self.reused = False
        self.retried_stale = False
        self.after_stop: Any = None
        self.out: list[bytes] = []  # client bytes produced during one feed, written once
        self.last_code = 502
        self._reset_response()

    def _reset_response(self) -> None:
        self.status = 0
        self.reason = b""
        self.resp_headers: list[tuple[bytes, bytes]] = []
        self.header_done = False
        self.interim = False
        self.length_known = False
        self.out_chunked = False
        self.skip_body = False
        self.peer_failed = False

    # ------------------------------------------------------------------ the request
    def _build_request(self) -> bytes:
        req, plan = self.req, self.plan
        uri = upstream_uri(plan.proxy_uri, plan.prefix, req.raw_uri, req.path, req.args)
        parts = [req.method.encode(), b" ", uri.encode("latin-1", "replace"), b" ",
                 plan.upstream_version, b"\r\n", plan.static_set]
        for name, template in plan.dynamic_set:
            value = template.render(req)
            if value:
                parts += (name, b": ", value.encode("latin-1", "replace"), b"\r\n")
        if self.proxy.pass_request_headers:
            drop = plan.drop_request
            named = self._connection_named()
            for lname, name, value in req.headers:
                if lname in drop or (named and lname in named):
                    continue
                parts += (name, b": ", value, b"\r\n")
        body = b"".join(req.body) if self.proxy.pass_request_body else b""
        if body or req.content_length >= 0 or req.chunked:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        parts.append(body)
        return b"".join(parts)

    def _connection_named(self) -> frozenset[bytes]:
        # RFC 9110 §7.6.1: headers named in Connection are hop-by-hop too.
        value = self.req.header("connection")
        if not value:
            return frozenset()
        tokens = {t.strip().lower().encode() for t in value.split(",")}
        return frozenset(tokens - _CONNECTION_TOKENS_KEPT)

    # ------------------------------------------------------------------ peer selection
    def start(self) -> None:
        if self.group is None:
            self._log("error", f'no upstream "{self.plan.upstream}"')
            self.client.respond(self.req, 502)
            return
        self._try_next()

    def _try_next(self) -> None:
        now = time.monotonic()
        peer = self.group.select(self.attempt, now)
        if peer is None:
            if self.tries == 0:
                self._log("error", "no live upstreams while connecting to upstream",
                          upstream=False)
            self.req.upstream_addrs.append(self.plan.upstream or "")
            self.req.upstream_statuses.append("502")
            self.req.upstream_times.append("0.000")
            self.finished = True
            self.client.respond(self.req, self.last_code)
            return
        self.tries += 1
        self.peer = peer
        self.attempt_started = now
        self.req.upstream_addrs.append(peer.address)
        conn = self.pool.take(peer, self.loop.time()) if self.pool is not None else None
        if conn is not None:
            self.reused = True
            self._send(conn)
        else:
            self.reused = False
            self._connect()

    def _connect(self) -> None:
        self.phase = "connecting"
        self.timer.set(self.proxy.connect_timeout)
        self.connect_task = self.loop.create_task(self._open(self.peer))

    async def _open(self, peer: Any) -> None:
        loop = self.loop
        try:
            _, conn = await loop.create_connection(
                lambda: UpstreamConnection(peer, loop.time()), peer.spec.host, peer.spec.port)
        except OSError as exc:
            self.connect_task = None
            if not self.finished:
                errno = exc.errno or 111
                self._failed("error", f"connect() failed ({errno}: {os.strerror(errno)}) while "
                                      "connecting to upstream")
            return
        self.connect_task = None
        if self.finished or peer is not self.peer:
            conn.close()
            return
        self._send(conn)

    def _send(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        conn.exchange = self
        conn.received = 0
        conn.requests += 1
        self._reset_response()
        self.parser = httptools.HttpResponseParser(self)
        self.phase = "header"
        self.timer.set(self.proxy.read_timeout)
        transport = conn.transport
        assert transport is not None
        transport.write(self.payload)
        self.sent = True
        self.peer.sent += len(self.payload)

    # ------------------------------------------------------------------ upstream events
    def upstream_data(self, data: bytes) -> None:
        if self.finished:
            return
        self.timer.set(self.proxy.read_timeout)
        try:
            self.parser.feed_data(data)
            if self.out:
                self._flush()
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
            if self.reused and conn.received == 0 and not self.retried_stale:
                # A cached connection the server had closed: not the peer's fault, and nothing
                # was processed; retry once on a fresh connection to the same peer.
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
            self._log("error", "upstream prematurely closed connection while reading upstream")
            self._abort(failed=True)

    def upstream_pause_writing(self) -> None:
        pass  # the whole request is one write; proxy_send_timeout covers a stuck upstream

    def upstream_resume_writing(self) -> None:
        pass

    # ------------------------------------------------------------------ parser callbacks
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.resp_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # Interim responses (RFC 9110 §15.2) are not forwarded: we sent the whole body.
            self.interim = True
            self.resp_headers = []
            self.reason = b""
            return
        self.status = status
        self.header_done = True
        kind = RETRYABLE_STATUSES.get(status)
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
        self.req.body_bytes_sent += len(data)
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

    # ------------------------------------------------------------------ response head
    def _write_head(self) -> None:
        req, plan, status = self.req, self.plan, self.status
        hide = plan.hide
        no_body = req.method == "HEAD" or status in (204, 304) or status < 200
        has_length = chunked = False
        named: set[bytes] | None = None
        parts = [b"HTTP/1.1 %d " % status, self.reason, b"\r\n", SERVER_HEADER, date_header()]
        out_headers: list[tuple[bytes, bytes]] = []
        for name, value in self.resp_headers:
            lname = name.lower()
            if lname in RESPONSE_HOP:
                if lname == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif lname == b"connection":
                    tokens = {t.strip() for t in value.lower().split(b",")}
                    named = (named or set()) | (tokens - _CONNECTION_TOKENS_KEPT)
                continue
            if lname in hide:
                continue
            if lname == b"content-length":
                has_length = True
            out_headers.append((name, value))
        for name, value in out_headers:
            if named and name.lower() in named:
                continue
            parts += (name, b": ", value, b"\r\n")
        req.upstream_headers = self.resp_headers
        self.length_known = has_length or chunked
        client = self.client
        keep = client.keep_alive_for(req)
        if status == 101:
            parts.append(b"Upgrade: " + req.header("upgrade").encode("latin-1") + b"\r\n")
            parts.append(b"Connection: upgrade\r\n")
        else:
            if no_body:
                self.skip_body = req.method == "HEAD"
            elif not has_length:
                if req.version == "1.1":
                    self.out_chunked = True
                    parts.append(b"Transfer-Encoding: chunked\r\n")
                else:
                    keep = False  # HTTP/1.0: the end of the body is the end of the connection
            if keep:
                parts.append(b"Connection: keep-alive\r\n")
                parts.append(plan.keepalive_header)
            else:
                parts.append(b"Connection: close\r\n")
                req.close_after = True
        if status in ADD_HEADER_CODES:
            parts.append(plan.add_ok)
        parts.append(plan.add_always)
        for name, template, always in plan.add_dynamic:
            if always or status in ADD_HEADER_CODES:
                value = template.render(req)
                if value:
                    parts += (name, b": ", value.encode("latin-1", "replace"), b"\r\n")
        parts.append(b"\r\n")
        head = b"".join(parts)
        req.bytes_sent += len(head)
        req.status = status
        self.response_started = True
        self.phase = "body"
        self.out.append(head)
        if self.skip_body:
            # llhttp cannot be told the request was HEAD: it would wait for Content-Length
            # bytes that never come. The response is complete; the connection is not reusable.
            self._complete(reuse=False)

    # ------------------------------------------------------------------ completion
    def _record_attempt(self, status: int) -> None:
        req = self.req
        req.upstream_statuses.append(str(status))
        req.upstream_times.append(f"{time.monotonic() - self.attempt_started:.3f}")
        peer = self.peer
        if status:
            responses = peer.responses
            cls = status // 100 - 1
            if 0 <= cls < 5:
                responses[cls] += 1
            responses[5] += 1

    def _complete(self, reuse: bool) -> None:
        self.finished = True
        self.timer.cancel()
        client, req, conn, peer = self.client, self.req, self.conn, self.peer
        if self.out_chunked:
            self.out.append(b"0\r\n\r\n")
        self._flush()
        self.timer.callback = _noop  # no reference cycle left behind for the GC
        self._record_attempt(self.status)
        if conn is not None:
            peer.received += conn.received
            self.conn = None
            pool = self.pool
            now = self.loop.time()
            if (reuse and pool is not None and self.parser.should_keep_alive()
                    and conn.requests < self.plan.upstream_keepalive_requests
                    and now - conn.created < self.plan.upstream_keepalive_time
                    and conn.transport is not None):
                pool.put(conn, now)
            else:
                conn.close()
        self.group.release(peer, self.peer_failed, time.monotonic())
        client.finish(req)

    def _flush(self) -> None:
        out = self.out
        if out:
            self.client.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def _abort(self, failed: bool) -> None:
        """The response broke after its head was sent: close both sides (the client must see a
        truncated response, never a wrong one)."""
        self._flush()
        self.finished = True
        self.timer.cancel()
        if self.conn is not None:
            self.peer.received += self.conn.received
            self.conn.close()
            self.conn = None
        self._record_attempt(self.status)
        self.group.release(self.peer, failed, time.monotonic())
        self.client.abort(self.req)

    def client_lost(self) -> None:
        """The client closed its connection before the response was complete."""
        if self.finished:
            return
        self.finished = True
        self.timer.cancel()
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.peer is not None:
            self._record_attempt(self.status)
            self.group.release(self.peer, False, time.monotonic())
        if not self.response_started:
            self.req.status = 499  # nginx's "client closed request"

    # ------------------------------------------------------------------ failures and retries
    def _decide(self, kind: FailureKind) -> Any:
        proxy = self.proxy
        return decide(kind, self.plan.next_upstream, self.req.method, self.sent,
                      self.response_started, self.tries, proxy.next_upstream_tries,
                      self.group.max_tries, time.monotonic() - self.started,
                      proxy.next_upstream_timeout)

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
        self._record_attempt(0)
        self.req.upstream_statuses[-1] = str(code)
        decision = self._decide(kind)
        self.group.release(self.peer, decision.counts_as_failure, time.monotonic())
        if decision.retry:
            self._try_next()
        elif self.response_started:
            self._abort(failed=False)
        else:
            self.finished = True
            self.client.respond(self.req, code)

    def _retry_after_status(self, kind: str, failed: bool) -> None:
        self._close_attempt()
        self._record_attempt(self.status)
        self.group.release(self.peer, failed, time.monotonic())
        self._try_next()

    def _intercept(self, status: int) -> None:
        self._close_attempt()
        self._record_attempt(status)
        self.finished = True
        self.group.release(self.peer, self.peer_failed, time.monotonic())
        self.client.respond(self.req, status)

    def _on_timeout(self) -> None:
        phase = self.phase
        if phase == "connecting":
            where = "while connecting to upstream"
        elif phase == "header":
            where = "while reading response header from upstream"
        else:
            where = "while reading upstream"
        message = f"upstream timed out (110: Connection timed out) {where}"
        if phase == "body":
            self._log("error", message)
            self._abort(failed=True)
        else:
            self._failed("timeout", message)

    # ------------------------------------------------------------------ websocket tunnel
    def _start_tunnel(self, rest: bytes) -> None:
        from hotdeploy.proxy.tunnel import Tunnel

        self.finished = True
        self.timer.cancel()
        conn = self.conn
        assert conn is not None
        self.conn = None
        self._record_attempt(101)
        Tunnel(self.client, conn, self.req, self.group, self.peer).start(rest)

    # ------------------------------------------------------------------ logging
    def _log(self, level: str, message: str, upstream: bool = True) -> None:
        error_log = self.runtime.error_log
        if not error_log.enabled(level):
            return
        req = self.req
        parts = [message, f", client: {req.remote_addr}",
                 f", server: {_server_name(req)}",
                 f', request: "{req.method} {req.raw_uri} HTTP/{req.version}"']
        if upstream and self.peer is not None:
            uri = upstream_uri(self.plan.proxy_uri, self.plan.prefix, req.raw_uri, req.path,
                               req.args)
            parts.append(f', upstream: "http://{self.peer.address}{uri}"')
        if req.host:
            parts.append(f', host: "{req.header("host")}"')
        error_log.log(level, "".join(parts), req.cid)


def _server_name(req: Request) -> str:
    names = getattr(req.server, "server_names", ()) or ("",)
    return names[0]
