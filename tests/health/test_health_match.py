"""`match` evaluation: which probe responses pass (NGINX Plus ngx_http_upstream_hc_module)."""

import re

import pytest

from hotdeploy.config.model import BodyTest, HeaderTest, MatchConfig, StatusTest
from hotdeploy.defaults import HEALTH_CHECK_BODY_LIMIT
from hotdeploy.upstream.match import evaluate

HTML = [("Content-Type", "text/html"), ("X-Version", "2.1.0")]


def status(*ranges, negate=False):
    return StatusTest(negate=negate, ranges=tuple(ranges))


def header(name, op, value=None):
    pattern = re.compile(value) if op in ("~", "!~") else None
    return HeaderTest(name=name, op=op, value=None if pattern else value, pattern=pattern)


def body(regex, negate=False):
    return BodyTest(negate=negate, pattern=re.compile(regex))


@pytest.mark.parametrize(
    ("code", "passed"),
    [(200, True), (204, True), (301, True), (399, True), (199, False), (404, False), (503, False)],
)
def test_without_match_only_2xx_and_3xx_pass(code, passed):
    assert evaluate(None, code, [], b"") is passed


CASES = [
    # (description, match tests, status, headers, body, expected)
    ("status 200 passes 200", dict(status=(status((200, 200)),)), 200, [], b"", True),
    ("status 200 fails 204", dict(status=(status((200, 200)),)), 204, [], b"", False),
    ("status list 200 204", dict(status=(status((200, 200), (204, 204)),)), 204, [], b"", True),
    ("status range 200-399 passes 302", dict(status=(status((200, 399)),)), 302, [], b"", True),
    ("status range 200-399 fails 400", dict(status=(status((200, 399)),)), 400, [], b"", False),
    ("status ! 500 passes 404", dict(status=(status((500, 500), negate=True),)), 404, [], b"",
     True),
    ("status ! 500 fails 500", dict(status=(status((500, 500), negate=True),)), 500, [], b"",
     False),
    ("status ! 400-599 fails 503", dict(status=(status((400, 599), negate=True),)), 503, [], b"",
     False),
    ("no status test: any status", dict(body=(body("ok"),)), 500, [], b"ok", True),
    ("header = equal", dict(headers=(header("content-type", "=", "text/html"),)), 200, HTML, b"",
     True),
    ("header = other value", dict(headers=(header("content-type", "=", "text/plain"),)), 200,
     HTML, b"", False),
    ("header name is case-insensitive", dict(headers=(header("x-version", "=", "2.1.0"),)), 200,
     [("X-VERSION", "2.1.0")], b"", True),
    ("header != different", dict(headers=(header("content-type", "!=", "text/plain"),)), 200,
     HTML, b"", True),
    ("header != needs the header", dict(headers=(header("x-missing", "!=", "a"),)), 200, HTML,
     b"", False),
    ("header ~ regex", dict(headers=(header("x-version", "~", r"^2\."),)), 200, HTML, b"", True),
    ("header ~ no match", dict(headers=(header("x-version", "~", r"^3\."),)), 200, HTML, b"",
     False),
    ("header !~ no match", dict(headers=(header("x-version", "!~", r"^3\."),)), 200, HTML, b"",
     True),
    ("header !~ match", dict(headers=(header("x-version", "!~", r"^2\."),)), 200, HTML, b"",
     False),
    ("header present", dict(headers=(header("x-version", "present"),)), 200, HTML, b"", True),
    ("header present, missing", dict(headers=(header("x-nope", "present"),)), 200, HTML, b"",
     False),
    ("header ! absent", dict(headers=(header("x-accel-redirect", "absent"),)), 200, HTML, b"",
     True),
    ("header ! but present", dict(headers=(header("x-version", "absent"),)), 200, HTML, b"",
     False),
    ("body ~ found", dict(body=(body("Welcome"),)), 200, [], b"<h1>Welcome</h1>", True),
    ("body ~ not found", dict(body=(body("Welcome"),)), 200, [], b"<h1>Bye</h1>", False),
    ("body !~ not found", dict(body=(body("error", negate=True),)), 200, [], b"all fine", True),
    ("body !~ found", dict(body=(body("error", negate=True),)), 200, [], b"an error", False),
    ("all tests must hold: status fails",
     dict(status=(status((200, 200)),), body=(body("ok"),)), 503, [], b"ok", False),
    ("all tests must hold: body fails",
     dict(status=(status((200, 200)),), body=(body("ok"),)), 200, [], b"down", False),
    ("all tests hold",
     dict(status=(status((200, 200)),), headers=(header("content-type", "=", "text/html"),),
          body=(body("ok"),)), 200, HTML, b"ok", True),
]


@pytest.mark.parametrize(("desc", "tests", "code", "headers", "payload", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_match_table(desc, tests, code, headers, payload, expected):
    match = MatchConfig(name="m", **tests)
    assert evaluate(match, code, headers, payload) is expected


def test_body_is_only_searched_in_the_first_256k():
    match = MatchConfig(name="m", body=(body("MARKER"),))
    early = b"MARKER" + b"x" * HEALTH_CHECK_BODY_LIMIT
    late = b"x" * HEALTH_CHECK_BODY_LIMIT + b"MARKER"
    assert evaluate(match, 200, [], early) is True
    assert evaluate(match, 200, [], late) is False
