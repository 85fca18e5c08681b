"""Pure rules: proxy_pass URI rewriting and the retry decision."""

from __future__ import annotations

import pytest

from hotdeploy.proxy.retry import decide, may_resend
from hotdeploy.proxy.uri import upstream_uri


@pytest.mark.parametrize(
    ("proxy_uri", "prefix", "raw", "path", "args", "expected"),
    [
        # No URI part: the client's request URI, untouched (even unnormalized).
        (None, "/", "/a//b/../c?x=1", "/a/c", "x=1", "/a//b/../c?x=1"),
        (None, "/api/", "/api/v1", "/api/v1", "", "/api/v1"),
        # With a URI part: the matched prefix is replaced, the normalized rest appended.
        ("/", "/api/", "/api/v1/users?id=2", "/api/v1/users", "id=2", "/v1/users?id=2"),
        ("/new/", "/old/", "/old/x", "/old/x", "", "/new/x"),
        ("/new", "/old", "/old/x", "/old/x", "", "/new/x"),
        ("/svc/", "/", "/a%20b", "/a b", "", "/svc/a%20b"),
        ("/exact", "/e", "/e", "/e", "q", "/exact?q"),
    ],
)
def test_proxy_pass_uri_replacement(proxy_uri, prefix, raw, path, args, expected):
    assert upstream_uri(proxy_uri, prefix, raw, path, args) == expected


DEFAULT = frozenset({"error", "timeout"})


def call(kind="error", next_upstream=DEFAULT, method="GET", sent=True, started=False,
         tries=1, limit=0, max_tries=3, elapsed=0.0, timeout=0.0, body_streamed=False):
    return decide(kind, next_upstream, method, sent, started, tries, limit, max_tries, elapsed,
                  timeout, body_streamed)


def test_error_and_timeout_are_retried_and_count_as_failures():
    for kind in ("error", "timeout"):
        d = call(kind)
        assert d.retry and d.counts_as_failure


def test_invalid_header_counts_even_when_not_listed_but_is_not_retried():
    d = call("invalid_header")
    assert d.counts_as_failure and not d.retry


def test_http_5xx_only_when_listed():
    assert call("http_502") == call("http_502").__class__(retry=False, counts_as_failure=False)
    listed = call("http_502", DEFAULT | {"http_502"})
    assert listed.retry and listed.counts_as_failure
    assert call("http_429", DEFAULT | {"http_429"}).counts_as_failure


def test_403_404_retried_when_listed_but_never_failures():
    d = call("http_404", DEFAULT | {"http_404"})
    assert d.retry and not d.counts_as_failure


def test_non_idempotent_not_retried_once_sent():
    for method in ("POST", "LOCK", "PATCH"):
        assert not call(method=method, sent=True).retry
        assert call(method=method, sent=False).retry  # connect failure: nothing was sent
        assert call(method=method, next_upstream=DEFAULT | {"non_idempotent"}).retry
    assert call(method="PUT", sent=True).retry


def test_the_non_idempotent_guard_is_the_one_decide_applies():
    # exchange's retry of a reused keep-alive connection asks may_resend directly.
    for method in ("GET", "PUT", "POST", "LOCK", "PATCH"):
        for sent in (True, False):
            for listed in (DEFAULT, DEFAULT | {"non_idempotent"}):
                assert may_resend(method, sent, listed) == call(
                    method=method, sent=sent, next_upstream=listed).retry


def test_nothing_retried_after_the_response_started():
    assert not call(started=True).retry


def test_tries_and_timeout_bounds():
    assert call(tries=1, limit=2).retry
    assert not call(tries=2, limit=2).retry
    assert not call(tries=3, max_tries=3).retry  # never more attempts than servers
    assert call(elapsed=0.5, timeout=1.0).retry
    assert not call(elapsed=1.0, timeout=1.0).retry


def test_off_retries_nothing_but_errors_still_count():
    d = call("error", frozenset())
    assert not d.retry and d.counts_as_failure


def test_streamed_body_cannot_be_replayed():
    assert not call(body_streamed=True).retry


def test_the_request_path_is_compiled_where_the_build_is_expected_to_compile_it():
    # setup.py compiles these with mypyc where it can (CI sets HOTDEPLOY_EXPECT_COMPILED=1:
    # there a missing compiler must not silently cost the benchmark's speed).
    import os

    from hotdeploy.proxy.compiled import COMPILED_MODULES, compiled_modules, stale_modules

    compiled = compiled_modules()
    assert set(compiled) <= set(COMPILED_MODULES)
    if os.environ.get("HOTDEPLOY_EXPECT_COMPILED") == "1":
        assert compiled == list(COMPILED_MODULES)
    assert stale_modules() == []


def test_setup_py_finds_the_source_of_every_module_it_compiles():
    # setup.py reads COMPILED_MODULES from hotdeploy/proxy/compiled.py and compiles
    # source_path(name) for each: a renamed module must not drop out of the build unnoticed.
    from pathlib import Path

    from hotdeploy.proxy.compiled import COMPILED_MODULES, source_path

    root = Path(__file__).parents[2]
    missing = [name for name in COMPILED_MODULES if not (root / source_path(name)).is_file()]
    assert missing == []
