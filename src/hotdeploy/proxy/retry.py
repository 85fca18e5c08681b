"""The one decision about trying another upstream server (`proxy_next_upstream`).

Pure: no I/O, no clock. The rules come from nginx's ngx_http_upstream_next() and the
proxy_next_upstream documentation:
- a request may go to another server only while nothing was sent to the client;
- non-idempotent methods (POST, LOCK, PATCH) are not passed on once the request was sent to a
  server, unless `non_idempotent` is listed; a connection that failed to establish sent nothing;
- `proxy_next_upstream_tries` (0 = no limit) counts the first attempt, and never exceeds the
  number of servers in the group; `proxy_next_upstream_timeout` (0 = no limit) bounds the time.
What counts as a *failure* for passive health is separate from whether it is retried:
error/timeout/invalid_header always; http_500/502/503/504/429 only when listed; 403/404 never.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FailureKind = Literal[
    "error", "timeout", "invalid_header",
    "http_500", "http_502", "http_503", "http_504", "http_403", "http_404", "http_429",
]

NON_IDEMPOTENT_METHODS = frozenset({"POST", "LOCK", "PATCH"})
_ALWAYS_FAILURES = frozenset({"error", "timeout", "invalid_header"})
_NEVER_FAILURES = frozenset({"http_403", "http_404"})
# Upstream statuses that can trigger a retry when listed in proxy_next_upstream.
RETRYABLE_STATUSES: dict[int, FailureKind] = {
    500: "http_500", 502: "http_502", 503: "http_503", 504: "http_504",
    403: "http_403", 404: "http_404", 429: "http_429"}


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    counts_as_failure: bool


def counts_as_failure(kind: FailureKind, next_upstream: frozenset[str]) -> bool:
    if kind in _ALWAYS_FAILURES:
        return True
    if kind in _NEVER_FAILURES:
        return False
    return kind in next_upstream


def may_resend(method: str, request_sent: bool, next_upstream: frozenset[str]) -> bool:
    """nginx's non-idempotent guard: POST, LOCK and PATCH are not sent to a server again once
    one may have received them (it may have acted on them), unless `proxy_next_upstream
    non_idempotent` allows it. A request that never left (the connection failed) may go."""
    return (not request_sent or method not in NON_IDEMPOTENT_METHODS
            or "non_idempotent" in next_upstream)


def decide(
    kind: FailureKind,
    next_upstream: frozenset[str],
    method: str,
    request_sent: bool,
    response_started: bool,
    tries: int,
    tries_limit: int,
    max_tries: int,
    elapsed: float,
    timeout: float,
    body_streamed: bool = False,
) -> RetryDecision:
    """`tries` = attempts made so far including this one; `tries_limit` =
    proxy_next_upstream_tries (0 = none); `max_tries` = servers in the group;
    `body_streamed`: with `proxy_request_buffering off`, body bytes already went to a server
    and are no longer all in hand, so the request cannot be replayed (nginx docs)."""
    failure = counts_as_failure(kind, next_upstream)
    retry = (
        kind in next_upstream
        and not response_started
        and not body_streamed
        and may_resend(method, request_sent, next_upstream)
        and tries < max_tries
        and (tries_limit == 0 or tries < tries_limit)
        and (timeout == 0 or elapsed < timeout)
    )
    return RetryDecision(retry=retry, counts_as_failure=failure)
