"""The client side of the data path: one asyncio Protocol per client connection.

HTTP/1.1 (RFC 9112) with keep-alive, HTTP/1.0 clients (keep-alive only when asked), pipelined
requests answered strictly in order, `Expect: 100-continue`, nginx's header size limits and
timers. Requests are parsed by httptools callbacks; the answer is produced by a plan chosen
from `holder.current` when each request's headers are complete.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from typing import TYPE_CHECKING, Any, Final

import httptools

from hotdeploy import defaults as d
from hotdeploy.proxy import connection_stats, lingering, pages
from hotdeploy.proxy.access import allowed, real_ip
from hotdeploy.proxy.body_file import BodyFile
from hotdeploy.proxy.clock import close_reading, open_reading
from hotdeploy.proxy.clock import now as clock_now
from hotdeploy.proxy.exchange import Exchange
from hotdeploy.proxy.limiting import release as release_limits
from hotdeploy.proxy.normalize import normalize_path
from hotdeploy.proxy.plan import LocationPlan
from hotdeploy.proxy.request import Request, log_context, request_error_log
from hotdeploy.proxy.response_head import LAYOUT_LIMIT, lower_name
from hotdeploy.proxy.responses import GeneratedResponses
from hotdeploy.proxy.rewrite import process as run_rewrites
from hotdeploy.proxy.static import serve as serve_static
from hotdeploy.proxy.timers import Deadline
from hotdeploy.proxy.user_agent import keepalive_refused
from hotdeploy.proxy.variable_pass import dispatch as dispatch_variable_pass
from hotdeploy.proxy.wire import (
    NAME_INVALID,
    NAME_VALID,
    REQUEST_LENIENCIES,
    absolute_form,
    http11_line,
    lf_request_line,
    name_kind,
    normalize_host,
    version_status,
)
from hotdeploy.proxy.write_batch import WriteBatch

if TYPE_CHECKING:
    from hotdeploy.proxy.runtime import RuntimeHolder
    from hotdeploy.proxy.server import ConnectionTracker
    from hotdeploy.proxy.tunnel import Tunnel

# Module constants are Final: compiled, a plain module global is a dictionary lookup on
# every read, a Final one a load (the request path reads several per request).
monotonic: Final = time.monotonic
_connection_ids = itertools.count(1)

# Pipelined requests parsed ahead of the one being answered; beyond this we stop reading
# (back-pressure on a client that pipelines without reading responses).
PIPELINE_LIMIT: Final = d.PROXY_PIPELINE_LIMIT
# Bytes of a pending upgrade request's early data we keep before the upstream answers 101.
UPGRADE_BUFFER_LIMIT: Final = d.PROXY_UPGRADE_BUFFER_LIMIT


# Request headers the parser callbacks look at; every other header is only stored.
_SPECIAL_HEADERS: Final = frozenset({b"host", b"expect", b"content-length", b"transfer-encoding",
                              b"connection", b"proxy-connection"})


# Method names decoded once (the parser hands bytes to every request).
_METHODS: Final = {m.encode(): m
                   for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}

# Request header names nginx accepts (letters, digits, '-'), raw -> lower case; names with
# '_' or other characters are never cached, so they always take the checking path.
_REQUEST_NAMES: Final[dict[bytes, bytes]] = {}
# Host header values -> $host (ngx_http_validate_host); "" caches an invalid one.
_HOSTS: Final[dict[bytes, str]] = {}
_CACHE_LIMIT: Final = 1024
# llhttp's refusals of a Transfer-Encoding value: nginx answers those 501.
_TE_REFUSED: Final = frozenset({"Invalid `Transfer-Encoding` header value",
                         "Request has invalid `Transfer-Encoding`"})


class _Abort(Exception):
    """Raised from a parser callback to stop parsing a request that is already answered."""


_WILDCARDS: Final = frozenset({"0.0.0.0", "::", "*"})


class ClientConnection(GeneratedResponses):
    # An asyncio protocol by its methods, without the asyncio.Protocol base: mypyc compiles
    # only classes whose bases it compiles too (see setup.py).
    rejected = False  # closed at accept: worker_connections exhausted
    # Accepted on a `listen ... ssl` socket (set by tls.accept before connection_made); its
    # SSL object, None when the client spoke plain HTTP there (nginx's 497 -> 400 page).
    tls_port = False
    ssl_object: Any = None
    write_limit = d.DEFAULT_PROXY_BUFFERED_LIMIT  # the transport's current high-water mark
    timed_out = False  # a client timeout ends this connection
    merge_slashes = True  # the default server's `merge_slashes` (nginx reads it there too)
    line_data = b""  # the feed the request being parsed began in (see on_headers_complete)
    # The last request's route on this connection: a keep-alive client asks the same host
    # and path again and again, and two string compares cost less than hashing both afresh
    # for Runtime.route's tables. Tied to the runtime, so a reload routes anew.
    route_runtime: Any = None
    route_host: str | None = None
    route_path = ""
    route_plan: LocationPlan | None = None

    def __init__(self, holder: RuntimeHolder, listen_key: tuple[str, int],
                 tracker: ConnectionTracker, loop: asyncio.AbstractEventLoop) -> None:
        self.holder = holder
        self.listen_key = listen_key
        self.tracker = tracker
        self.loop = loop
        # `transport` and `batch` are declared once, on GeneratedResponses: annotating them
        # again here made mypyc visit each twice in the GC's traverse, so the cyclic GC
        # counted the references twice and could free a WriteBatch still in use (seen as
        # "attribute 'loop' of 'WriteBatch' undefined" once no connection held it alive).
        self.transport = None
        # [0] is the request being answered; a list, not a deque: compiled, its append, [0] and
        # pop(0) are native operations, a deque's are method calls (it holds a few at most)
        self.queue: list[Request] = []
        self.cur: Request | None = None  # the request being parsed
        self.exchange: Exchange | None = None
        self.tunnel: Tunnel | None = None
        self.file_sender: Any = None  # a static.FileSender streaming a file body
        self.requests = 0
        self.closed = False
        self.shutting_down = False
        self.reading_paused = False
        self.parser_dead = False
        self.upgrade_data = b""
        self.head_bytes = 0
        self.timer_kind = ""
        self.feeding = False  # inside data_received's parser feed
        self.pending_timeout = 0.0  # a timer armed during the feed, set after it
        # The last request's header names by position, and its Host: a client sends the same
        # names in the same order on every request of a connection, and a compare with the
        # name at the same place costs less than hashing the parser's new bytes afresh.
        self.name_layout: list[bytes] = []
        self.lower_layout: list[bytes] = []
        self.host_value = b"\x00"  # never a valid Host value
        self.host_name = ""
        batch = tracker.batch
        if batch is None or batch.loop is not loop:
            batch = tracker.batch = WriteBatch(loop)
        self.batch = batch

    # ------------------------------------------------------------------ connection events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        runtime = self.holder.current
        limit = runtime.config.worker_connections
        self.tracker.accepted += 1
        if self.tracker.count >= limit:
            # nginx: every client and upstream connection takes one of worker_connections;
            # an accept beyond them is logged and the connection closed.
            self.rejected = self.closed = True
            runtime.error_log.log("alert", f"{limit} worker_connections are not enough")
            transport.close()
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.remote_addr, self.remote_port = peer[0], peer[1]
        self.server_addr, self.server_port = sock[0], sock[1]
        if self.listen_key[0] in _WILDCARDS:
            # One wildcard socket also serves the specific addresses of its port (nginx binds
            # only `*:port`): route by the address the client actually connected to.
            self.listen_key = (self.server_addr, self.server_port)
        if self.tls_port:
            self.ssl_object = transport.get_extra_info("ssl_object")
        self.cid = next(_connection_ids)
        self.born = monotonic()  # the clock of Request.start and the timers (proxy.timers)
        self.parser = self._new_parser()
        server = self.holder.current.default_server(self.listen_key)
        # nginx sizes header buffers and the header timeout from the default server of the
        # listening socket (the virtual server is unknown until Host is read).
        self.header_timeout = server.client_header_timeout
        self.merge_slashes = server.merge_slashes
        self.line_limit = server.large_client_header_buffers[1]
        self.head_limit = (server.large_client_header_buffers[0]
                           * server.large_client_header_buffers[1]
                           + server.client_header_buffer_size)
        self.timer = Deadline(self.loop, self._on_timeout)
        self.upstream_timer = Deadline(self.loop, self._on_upstream_timeout)
        self._arm("header", self.header_timeout)
        transport.set_write_buffer_limits(high=d.DEFAULT_PROXY_BUFFERED_LIMIT)  # type: ignore[attr-defined]
        self.tracker.add(self)

    def _new_parser(self) -> Any:
        parser = httptools.HttpRequestParser(self)
        parser.set_dangerous_leniencies(**REQUEST_LENIENCIES)
        return parser

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.from_client(data)
            return
        if self.closed:
            return
        if self.parser_dead:
            self._buffer_upgrade(data)
            return
        # Timers armed by the parser callbacks are set once, after the whole feed: a request
        # that arrives in one packet arms and disarms its header and body timers without
        # touching the timer (the deadline moves only by the feed's own microseconds).
        self.feeding = True
        retry: bytes | None = None
        if self.cur is None:
            self.line_data = data  # a request begins here: its request line opens `data`
        open_reading()
        try:
            self.parser.feed_data(data)
            cur = self.cur
            if cur is not None and not cur.headers_done:
                # httptools buffers a partial header line internally; bound it (nginx: 494).
                self.head_bytes += len(data)
                if self.head_bytes > self.head_limit:
                    cur.error = 494
                    cur.close_after = True  # the rest of the head is unread: no next request
                    self._parse_error()
        except httptools.HttpParserUpgrade as exc:
            self.parser_dead = True
            offset = exc.args[0] if exc.args else len(data)
            self._buffer_upgrade(data[offset:])
        except httptools.HttpParserError as exc:
            cause = exc.__cause__ or exc.__context__
            if cause is not None and not isinstance(cause, _Abort):
                # A bug of ours surfaced inside a parser callback: log it, answer 500.
                self._log_error("alert", f"request processing failed: {cause!r}")
                self._internal_error()
            else:
                reason = str(exc)
                retry = self._lf_request_line(data, reason)
                if retry is None:
                    self._parse_error(reason)
        finally:
            close_reading()
            self.feeding = False
            timeout = self.pending_timeout
            if timeout:
                self.pending_timeout = 0.0
                if self.timer_kind:
                    self.timer.set(timeout)
        if retry is not None:
            self.data_received(retry)  # outside the handler: a new error is its own

    def _lf_request_line(self, data: bytes, reason: str) -> bytes | None:
        """Parse again a request whose request line ended in a lone LF (nginx accepts it,
        RFC 9112 §2.2; llhttp's leniency covers header lines only): the bytes to feed to a
        new parser. Only when the request began in this very feed, so that no byte is parsed
        twice."""
        cur = self.cur
        if cur is None or cur.headers_done or reason != "Expected CRLF after version":
            return None
        fixed = lf_request_line(data, cur.url)
        if fixed is not None:
            self.cur = None
            self.parser = self._new_parser()
        return fixed

    def eof_received(self) -> bool:
        # asyncio.Protocol's answer (close our side too), which uvloop also assumes for a
        # protocol without the method; its TLS transport calls it unconditionally on the
        # client's close_notify.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.rejected:
            return
        self.closed = True
        for pending in (self.cur, *self.queue):
            if pending is not None and pending.body_file is not None:
                pending.body_file.close()  # the request ended: remove its temp file
        self.timer.cancel()
        self.upstream_timer.cancel()
        self.tracker.remove(self)
        if self.file_sender is not None:
            self.file_sender.close()
        if self.tunnel is not None:
            self.tunnel.client_lost()
            return
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.client_lost()
            if self.queue:
                self._log_access(self.queue[0])
        elif self.queue and self.queue[0].headers_done:
            # Not answered (a timeout already set 408) or the client left first (499).
            req = self.queue[0]
            if not req.status:
                req.status = 499
            self._log_access(req)

    def pause_writing(self) -> None:
        # The client reads slower than the upstream sends: stop reading the upstream
        # (bounded memory) and start send_timeout (nginx: between two successive writes).
        if self.tunnel is not None:
            self.tunnel.client_pause_writing()
            return
        exchange = self.exchange
        if exchange is not None and exchange.conn is not None and exchange.conn.transport:
            exchange.conn.transport.pause_reading()
        if self.queue:
            self._arm("send", self.queue[0].plan.settings.send_timeout if self.queue[0].plan
                      else d.DEFAULT_SEND_TIMEOUT)

    def resume_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_resume_writing()
            return
        if self.timer_kind == "send":
            self._disarm()
        if self.file_sender is not None:
            self.file_sender.resume()
            return
        exchange = self.exchange
        if exchange is not None and exchange.conn is not None and exchange.conn.transport:
            exchange.conn.transport.resume_reading()

    # ------------------------------------------------------------------ timers
    def _arm(self, kind: str, timeout: float) -> None:
        self.timer_kind = kind
        if self.feeding:
            self.pending_timeout = timeout  # set by data_received once the feed is over
        else:
            self.timer.set(timeout)

    def _disarm(self) -> None:
        self.timer_kind = ""
        self.pending_timeout = 0.0
        self.timer.when = 0.0  # Deadline.clear, inlined (several times per request)

    def _on_upstream_timeout(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.on_timeout()

    def _on_timeout(self) -> None:
        kind = self.timer_kind
        self.timer_kind = ""
        if self.closed:
            return
        self.timed_out = True  # nginx closes a timed-out connection without lingering
        if kind == "send":
            self._log_error("info", "client timed out (110: Connection timed out) while "
                                    "sending to client")
        elif kind in ("header", "body") and self.queue:
            self.queue[0].status = 408  # logged, never sent (nginx closes without a response)
        elif kind == "header" and self.cur is not None:
            self.cur.status = 408
            self._log_access(self.cur)
        if kind != "keepalive" and self._reset_timedout():
            # reset_timedout_connection on: nginx closes a timed-out request's connection
            # with an RST (SO_LINGER 0), freeing the socket at once.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_transport(abort=True)
            return
        self.close_transport(abort=kind == "send")

    def _linger(self) -> bool:
        """lingering_close: `on` when the client may still be sending (a request being read,
        requests waiting in line), `always` for every close, `off` never."""
        req = self.cur if self.cur is not None else (self.queue[0] if self.queue else None)
        plan = req.plan if req is not None else None
        if plan is None:
            settings = self.holder.current.default_server(self.listen_key).settings
        else:
            settings = plan.settings
        mode = settings.lingering_close
        if mode == "off" or (mode == "on" and req is None) or self.timed_out:
            return False
        remaining = -1  # unknown: a chunked body, or requests waiting in line
        if req is self.cur and req is not None and not req.chunked and req.content_length >= 0:
            remaining = req.content_length - req.body_size
        return lingering.start(self, self.transport, self.loop, settings.lingering_time,
                               settings.lingering_timeout, remaining)

    def _reset_timedout(self) -> bool:
        req = self.queue[0] if self.queue else self.cur
        plan = req.plan if req is not None else None
        if plan is None:
            settings = self.holder.current.default_server(self.listen_key).settings
        else:
            settings = plan.settings
        return settings.reset_timedout_connection

    # ------------------------------------------------------------------ parser callbacks
    def on_message_begin(self) -> None:
        self.cur = Request(self.remote_addr, self.remote_port, self.server_addr,
                           self.server_port, self.cid, self.requests + len(self.queue) + 1,
                           clock_now())
        if self.tls_port:
            self.cur.tls = self.ssl_object
        self.head_bytes = 0
        if self.timer_kind == "keepalive":
            self._arm("header", self.header_timeout)

    def on_url(self, url: bytes) -> None:
        req = self.cur
        assert req is not None
        req.url += url
        req.request_length += len(url)
        if req.request_length > self.line_limit:
            req.error = 414  # nginx: request line longer than one large header buffer
            raise _Abort

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self.cur
        assert req is not None
        if req.headers_done:
            return  # a trailer of a chunked body: nginx reads and discards trailers
        size = len(name) + len(value) + 4
        req.request_length += size
        if size > self.line_limit or req.request_length > self.head_limit:
            req.error = 494
            req.close_after = True  # the rest of the head is unread: no next request
            raise _Abort
        at = len(req.headers)
        names = self.name_layout
        lname: bytes | None
        if at < len(names) and names[at] == name:
            lname = self.lower_layout[at]
        else:
            lname = _REQUEST_NAMES.get(name)
            if lname is not None:
                self._remember_name(at, name, lname)
            else:
                lname = self._check_name(name)
                if lname is None:
                    return  # ignore_invalid_headers: the line is dropped
        req.headers.append((lname, name, value))
        if lname not in _SPECIAL_HEADERS:
            return
        if lname == b"host":
            if req.host:
                req.error = req.error or 400  # nginx: "client sent duplicate host header"
                return
            if value == self.host_value:
                host = self.host_name
            else:
                found = _HOSTS.get(value)
                if found is None:
                    host = normalize_host(value) or ""
                    if len(_HOSTS) < _CACHE_LIMIT:
                        _HOSTS[value] = host
                else:
                    host = found
                self.host_value, self.host_name = value, host
            if not host:
                req.error = req.error or 400  # nginx: "client sent invalid host header"
            req.host = host
        elif lname == b"expect":
            req.expect_continue = value.lower() == b"100-continue"
        elif lname == b"content-length":
            try:
                req.content_length = int(value)
            except ValueError:
                req.error = 400
        elif lname == b"transfer-encoding":
            if req.chunked:
                req.error = req.error or 400  # nginx: "client sent duplicate header line"
            req.chunked = True
            # nginx (ngx_http_process_request_header): Transfer-Encoding in an HTTP/1.0
            # request is a 400; any value but exactly "chunked" a 501 ("unknown
            # Transfer-Encoding"), so no coding list can hide a chunked body from it.
            if self.parser.get_http_version() == "1.0":
                req.error = req.error or 400
            elif value.rstrip(b" \t").lower() != b"chunked":
                req.error = req.error or 501
        elif lname == b"connection":
            req.has_connection = True
        elif lname == b"proxy-connection":
            req.proxy_connection = True

    def _remember_name(self, at: int, name: bytes, lname: bytes) -> None:
        """Keep a valid name (one _REQUEST_NAMES knows) as the one at position `at` of this
        connection's header layout; bounded, so only the first LAYOUT_LIMIT positions."""
        if at < len(self.name_layout):
            self.name_layout[at] = name
            self.lower_layout[at] = lname
        elif at < LAYOUT_LIMIT:
            self.name_layout.append(name)
            self.lower_layout.append(lname)

    def _check_name(self, name: bytes) -> bytes | None:
        """A request header name not seen before: its lower case, or None to drop the line
        (nginx: '_' needs underscores_in_headers on, other characters are invalid and
        ignore_invalid_headers on drops them)."""
        kind = name_kind(name)
        lname = lower_name(name)
        if kind == NAME_VALID:
            if len(_REQUEST_NAMES) < _CACHE_LIMIT:
                _REQUEST_NAMES[name] = lname
            return lname
        server = self.holder.current.default_server(self.listen_key)
        if kind == NAME_INVALID:
            return None if server.ignore_invalid_headers else lname
        if server.underscores_in_headers or not server.ignore_invalid_headers:
            return lname
        return None

    def on_headers_complete(self) -> None:
        req = self.cur
        assert req is not None
        parser = self.parser
        req.headers_done = True
        self.head_bytes = 0
        method = req.method_bytes = parser.get_method()
        # GET by comparison: a dict lookup hashes the parser's new bytes object first
        name = "GET" if method == b"GET" else _METHODS.get(method)
        if name is None:
            name = method.decode("latin-1")
            if name == "TRACE":
                req.error = req.error or 405  # nginx: "client sent TRACE method"
        req.method = name
        line = self.line_data
        self.line_data = b""  # a request pipelined behind this one began mid-feed
        if (not req.has_connection and not req.proxy_connection and method != b"CONNECT"
                and http11_line(line, method, req.url)):
            # llhttp's verdicts, known without three method calls on the parser: its close
            # and upgrade flags come only from Connection/Proxy-Connection tokens (and
            # CONNECT), so an HTTP/1.1 request without those stays open and upgrades nothing.
            req.version = "1.1"
            req.keep_alive = True
        else:
            version = parser.get_http_version()
            if version != "1.1" and version != "1.0":
                version, status = version_status(version)
                req.error = status or req.error
            req.version = version
            req.keep_alive = parser.should_keep_alive()
            req.upgrade = parser.should_upgrade()
        raw = req.raw_uri = req.url.decode("latin-1")
        if not raw.startswith("/"):
            raw = self._absolute_form(req, raw)
        if "?" in raw:
            path, _, req.args = raw.partition("?")
        else:
            path = raw  # no query string (Request.args defaults to "")
        if "%" in path or "/." in path or "//" in path or not path.startswith("/"):
            normalized = normalize_path(path, self.merge_slashes)
        else:
            normalized = path  # nothing to decode or resolve (normalize_path's fast path)
        if normalized is None or (req.version == "1.1" and not req.host) or req.error:
            req.error = req.error or 400
            normalized = normalized or "/"
        req.path = normalized
        runtime = self.holder.current
        req.runtime = runtime
        host = req.host or None
        plan = self.route_plan
        if (plan is None or runtime is not self.route_runtime or normalized != self.route_path
                or host != self.route_host):
            plan = runtime.route(self.listen_key, host, normalized)
            self.route_runtime, self.route_host = runtime, host
            self.route_path, self.route_plan = normalized, plan
        if plan.script and not req.error:
            if plan.settings.internal and plan.server.rewrites is None:
                req.error = 404  # `internal`: checked before the location's own rewrites
            else:
                plan = self._rewrite(req, plan)
        if plan.settings.internal and not req.uri_rewritten and not req.error:
            req.error = 404  # an external request for an `internal` location
        req.plan = plan
        req.server = plan.server
        if self.tls_port and self.ssl_object is None and not req.error:
            req.error = pages.TO_HTTPS
            self._log_error("info", "client sent plain HTTP request to HTTPS port while "
                                    f"reading client request headers{log_context(req)}")
        settings = plan.settings
        if settings.set_real_ip_from:
            req.remote_addr = real_ip(req.remote_addr, req.header(settings.real_ip_header.lower()),
                                      settings.real_ip_header, settings.set_real_ip_from,
                                      settings.real_ip_recursive)
        limit = settings.client_max_body_size
        if limit and req.content_length > limit and not req.error:
            req.error = 413
        self.queue.append(req)
        if len(self.queue) == 1:
            self._begin(req)
        elif len(self.queue) > PIPELINE_LIMIT:
            self.pause_reading()

    def _rewrite(self, req: Request, plan: Any) -> Any:
        """The rewrite module's phases (proxy.rewrite): the plan the request ends with."""
        runtime = req.runtime
        req.plan = plan  # log lines name the server
        outcome = run_rewrites(req, plan.server, runtime.router.find_location,
                               self._script_log)
        end = outcome.location if outcome.location is not None else plan.server
        if outcome.status:
            req.error = outcome.status
        if outcome.ret is not None:
            req.script_return = outcome.ret
            return runtime.returning[id(end)]
        return runtime.plans[id(end)]

    def _script_log(self, level: str, message: str) -> None:
        req = self.cur
        error_log = request_error_log(req, self.holder.current.error_log)
        if error_log.enabled(level):
            context = log_context(req) if req is not None else ""
            error_log.log(level, message + context, self.cid)

    def _absolute_form(self, req: Request, raw: str) -> str:
        """Absolute form (RFC 9112 §3.2.2): as nginx, its host becomes $host and selects the
        server (a Host header is still required for HTTP/1.1 and still validated), and the
        origin form goes upstream."""
        parsed = absolute_form(raw)
        if parsed is None:
            return raw  # "*", or a target normalize_path refuses
        host, target = parsed
        if host is None:
            req.error = req.error or 400  # nginx: "client sent invalid host in request line"
        elif req.version == "1.1" and not req.host and not req.error:
            req.error = 400  # nginx: "client sent HTTP/1.1 request without "Host" header"
        req.host = host or req.host
        req.url = target.encode("latin-1")
        req.raw_uri = target
        return target

    def on_body(self, body: bytes) -> None:
        req = self.cur
        if req is None:
            return
        req.body_size += len(body)  # counted even when refused: lingering close reads the rest
        if req.error:
            return
        req.request_length += len(body)
        plan = req.plan
        limit = plan.settings.client_max_body_size if plan else 0
        if limit and req.body_size > limit:
            req.error = 413
            req.body = []
            if req.body_file is not None:
                req.body_file.close()
                req.body_file = None
            exchange = self.exchange
            if exchange is not None and exchange.req is req:
                # Streaming the body (request buffering off): abandon the upstream attempt.
                exchange.client_lost()
                self.exchange = None
                req.status = 0
            if self.queue and self.queue[0] is req:
                self.respond(req, 413)
            raise _Abort
        body_file = req.body_file
        if body_file is not None:
            body_file.write(body)
        else:
            req.body.append(body)
            spill = plan.body_spill if plan else 0
            if spill and req.body_size > spill:
                self._spill(req, plan)
        exchange = self.exchange
        if exchange is not None and exchange.streaming and exchange.req is req:
            exchange.body_chunk(body)
        if self.timer_kind == "body":
            self._arm("body", req.plan.settings.client_body_timeout if req.plan else 60.0)

    def _spill(self, req: Request, plan: Any) -> None:
        """The body outgrew client_body_buffer_size: keep it in a temporary file (nginx)."""
        try:
            body_file = BodyFile(plan.body_temp_dir, plan.body_temp_levels)
            body_file.write(b"".join(req.body))
        except OSError as exc:
            self._log_error("crit", f"open() \"{plan.body_temp_dir}\" failed ({exc.errno}: "
                                    f"{exc.strerror}){log_context(req)}")
            req.error = 500
            req.body = []
            if self.queue and self.queue[0] is req:
                self.respond(req, 500)
            raise _Abort from None
        req.body = []
        req.body_file = body_file
        self._log_error("warn", "a client request body is buffered to a temporary file "
                                f"{body_file.path}{log_context(req)}")

    def on_message_complete(self) -> None:
        req = self.cur
        if req is None:
            return
        self.cur = None
        req.complete = True
        exchange = self.exchange
        if exchange is not None and exchange.req is req:
            if exchange.streaming:
                exchange.body_end()
            if self.timer_kind == "body":
                self._disarm()
            return
        if self.queue and self.queue[0] is req and not req.status and not req.error:
            if self.timer_kind == "body":
                self._disarm()
            self._dispatch(req)

    # ------------------------------------------------------------------ answering
    def _begin(self, req: Request) -> None:
        """`req` became the request to answer (first in line)."""
        if self.timer_kind in ("header", "keepalive"):
            self._disarm()
        if req.error:
            self.respond(req, req.error)
            return
        if req.complete:
            self._dispatch(req)
            return
        if req.expect_continue and req.version == "1.1":
            # RFC 9110 §10.1.1: tell the client to send the body we are going to read.
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._arm("body", req.plan.settings.client_body_timeout if req.plan else 60.0)
        plan = req.plan
        if plan is not None and plan.kind == "proxy" and not plan.settings.proxy.request_buffering:
            self._dispatch(req)  # proxy_request_buffering off: forward while the body arrives

    def _dispatch(self, req: Request) -> None:
        plan = req.plan
        assert plan is not None
        if plan.limits is not None and not req.limited and not self._pass_limits(req, plan):
            return
        rules = plan.settings.access_rules
        if rules and not allowed(req.remote_addr, rules):
            self._log_error("error", f'access forbidden by rule, client: {req.remote_addr}')
            self.respond(req, 403)
            return
        kind = plan.kind
        if kind == "proxy":
            if plan.variable_pass is not None:
                dispatch_variable_pass(self, req)
                return
            exchange = self.exchange = Exchange(self, req, req.runtime)
            exchange.start()
        elif kind == "return":
            assert plan.return_ is not None
            self._return(req, plan.return_, None)
        elif kind == "script_return":
            self._return(req, req.script_return, None)
        elif kind == "static":
            serve_static(self, req)
        elif kind in ("api", "metrics"):
            self._admin(req)
        elif kind == "stub_status":
            self._stub_status(req)
        else:
            self.respond(req, 404)

    def _stub_status(self, req: Request) -> None:
        if req.method not in ("GET", "HEAD"):
            self.respond(req, 405)
            return
        page = connection_stats.snapshot([self.tracker]).stub_status()
        self._write_generated(req, 200, page, b"", b"text/plain")

    def _pass_limits(self, req: Request, plan: Any) -> bool:
        """limit_req then limit_conn (nginx's preaccess phase), once per request: False when
        the request was answered (rejected) or is delayed (dispatched again later)."""
        req.limited = True
        status, delay = plan.limits.check(req, int(self.loop.time() * 1000), self._log_error)
        if status:
            self.respond(req, status)
            return False
        if delay:
            self.loop.call_later(delay / 1000, self._after_delay, req)
            return False
        return True

    def _after_delay(self, req: Request) -> None:
        if not self.closed and self.queue and self.queue[0] is req and not req.status:
            self._dispatch(req)

    def keep_alive_for(self, req: Request) -> bool:
        if (not req.keep_alive or req.close_after or self.shutting_down or self.parser_dead
                or req.error or self.closed):
            return False
        plan = req.plan
        if plan is None:
            return True
        settings = plan.settings
        if (plan.ka_safari or (plan.ka_msie6 and req.method == "POST")) and keepalive_refused(
                req.header("user-agent"), req.method, plan.ka_msie6, plan.ka_safari):
            return False  # keepalive_disable names this browser
        # nginx: keepalive_timeout 0 disables; the Nth request of keepalive_requests and a
        # connection older than keepalive_time get "Connection: close".
        return (settings.keepalive_timeout > 0
                and self.requests + 1 < settings.keepalive_requests
                and clock_now() - self.born < settings.keepalive_time)

    def finish(self, req: Request) -> None:
        """The response to `req` is complete: log it, then the next request or keep-alive."""
        self.exchange = None
        self.requests += 1
        if req.body_file is not None:
            req.body_file.close()  # nginx removes the temp file when the request ends
        plan = req.plan
        if plan is not None and plan.access_logs:
            self._log_access(req)
        elif req.limit_conn_held:
            release_limits(req)
        queue = self.queue
        if queue and queue[0] is req:
            queue.pop(0)
        if self.closed:
            return
        if req.close_after or self.parser_dead or self.shutting_down:
            self.closed = True
            self.close_transport()
            return
        if queue:
            self._begin(queue[0])
            return
        if self.reading_paused:
            self.resume_reading()
        self._arm("keepalive", plan.settings.keepalive_timeout if plan is not None else
                  d.DEFAULT_KEEPALIVE_TIMEOUT)

    def abort(self, req: Request) -> None:
        """The response broke after its head went out: the client must see the truncation."""
        self.exchange = None
        self._log_access(req)
        if req.body_file is not None:
            req.body_file.close()
        if self.queue and self.queue[0] is req:
            self.queue.pop(0)
        self.closed = True
        self.close_transport(abort=True)

    def _internal_error(self) -> None:
        req = self.queue[0] if self.queue else None
        self.parser_dead = True
        if req is not None and not req.status and self.exchange is None:
            req.close_after = True
            self._write_generated(req, 500, pages.error_body(500))
        elif not self.closed:
            self.closed = True
            self.close_transport()

    def _parse_error(self, reason: str = "") -> None:
        req = self.cur
        status = req.error if req is not None and req.error else 0
        if not status:
            # A second Transfer-Encoding header is a duplicate for nginx (400), whatever llhttp
            # says of the coding list it forms.
            duplicate = req is not None and req.chunked
            status = 501 if reason in _TE_REFUSED and not duplicate else 400
        if req is None:
            req = Request(self.remote_addr, self.remote_port, self.server_addr,
                          self.server_port, self.cid, self.requests + 1, clock_now())
        self.cur = None
        self.parser_dead = True
        if req.error and req in self.queue:
            return  # already answered or waiting in line with its error
        if req in self.queue:
            # The body broke (an invalid chunk size or chunk end): nginx answers 400
            # ("client sent invalid chunked body") and forwards nothing.
            req.error = status
            req.close_after = True
            exchange = self.exchange
            if exchange is not None and exchange.req is req:
                exchange.client_lost()  # streaming (request buffering off): abandon it
                self.exchange = None
                req.status = 0
            if self.queue[0] is req and not req.status:
                self.respond(req, status)
            return
        req.error = status
        if req.plan is None:
            runtime = self.holder.current
            req.runtime = runtime
            req.server = runtime.default_server(self.listen_key)
            req.plan = runtime.plans.get(id(req.server))
        req.close_after = True
        self.queue.append(req)
        if len(self.queue) == 1:
            self._begin(req)

    # ------------------------------------------------------------------ tunnel support
    def _buffer_upgrade(self, data: bytes) -> None:
        if not data:
            return
        self.upgrade_data += data
        if len(self.upgrade_data) > UPGRADE_BUFFER_LIMIT:
            self.pause_reading()

    def take_upgrade_data(self) -> bytes:
        data, self.upgrade_data = self.upgrade_data, b""
        return data

    def tunnel_closed(self, req: Request) -> None:
        if req.body_file is not None:
            req.body_file.close()
        if self.queue and self.queue[0] is req:
            self.queue.pop(0)
        self._log_access(req)
        if not self.closed:
            self.closed = True
            self.close_transport()

    def pause_reading(self) -> None:
        if not self.reading_paused and not self.closed:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    # ------------------------------------------------------------------ shutdown support
    @property
    def idle(self) -> bool:
        return not self.queue and self.cur is None and self.tunnel is None

    def close_if_idle(self) -> bool:
        self.shutting_down = True
        if self.idle and not self.closed:
            self.closed = True
            self.close_transport()
            return True
        return False

    # ------------------------------------------------------------------ logging
    def _log_access(self, req: Request) -> None:
        plan = req.plan
        if plan is None:
            return
        for writer, render in plan.access_logs:
            writer.write(render(req))
        if req.limit_conn_held:
            release_limits(req)  # nginx frees the request (and its counts) after the log line

    def _log_error(self, level: str, message: str) -> None:
        # The request being answered decides the error_log (its location's, or the main).
        queue = self.queue
        request_error_log(queue[0] if queue else None, self.holder.current.error_log).log(
            level, message, self.cid)
