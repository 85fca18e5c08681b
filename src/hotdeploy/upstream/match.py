"""Does a health-check response pass? NGINX Plus `match` semantics (ngx_http_upstream_hc_module).

Pure: no I/O. The checker hands in what it read from the peer.

Rules (from the `match` directive's documentation):
- Without a `match`, a check passes on a 2xx or 3xx status.
- With a `match`, *every* test in the block must hold; a block without a `status` test does not
  constrain the status at all.
- `header H != v` / `header H !~ re` need the header to be present ("contains H with a value
  other than v"); `header ! H` is the only test that passes on absence.
- `body` tests look at the first 256k of the body only.
"""

from __future__ import annotations

from collections.abc import Iterable

from hotdeploy.config.model import BodyTest, HeaderTest, MatchConfig, StatusTest
from hotdeploy.defaults import HEALTH_CHECK_BODY_LIMIT


def evaluate(
    match: MatchConfig | None,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> bool:
    """True when a probe response with this status, headers and body passes the check."""
    if match is None:
        return 200 <= status < 400
    if not all(status_holds(test, status) for test in match.status):
        return False
    if not all(header_holds(test, headers) for test in match.headers):
        return False
    if match.body:
        text = body[:HEALTH_CHECK_BODY_LIMIT].decode("utf-8", "replace")
        return all(body_holds(test, text) for test in match.body)
    return True


def status_holds(test: StatusTest, status: int) -> bool:
    """`status 200 204;` holds when the code is in one of the ranges; `status ! ...` when not."""
    inside = any(low <= status <= high for low, high in test.ranges)
    return inside != test.negate


def header_holds(test: HeaderTest, headers: list[tuple[str, str]]) -> bool:
    values = [v for k, v in headers if k.lower() == test.name]
    if test.op == "absent":
        return not values
    if not values:
        # Every other test, `!=` and `!~` included, is about a header that is there.
        return False
    if test.op == "present":
        return True
    if test.op == "=":
        return test.value in values
    if test.op == "!=":
        return test.value not in values
    if test.op == "~":
        return _any_search(test, values)
    if test.op == "!~":
        return not _any_search(test, values)
    raise ValueError(f"unknown header test {test.op!r}")  # pragma: no cover - model guards it


def body_holds(test: BodyTest, text: str) -> bool:
    found = test.pattern.search(text) is not None
    return found != test.negate


def _any_search(test: HeaderTest, values: Iterable[str]) -> bool:
    if test.pattern is None:  # pragma: no cover - the front-end always compiles it
        raise ValueError(f"header test on {test.name!r} has no pattern")
    return any(test.pattern.search(v) for v in values)
