"""Pure rules of serving files (proxy/static_rules.py): the cases the differential tests do not
reach easily (overflowing numbers, many ranges, date formats, charset, redirects)."""

from __future__ import annotations

import dataclasses

import pytest

from hotdeploy.config.model import GzipSettings, StaticSettings
from hotdeploy.proxy import static_rules as r

ST = StaticSettings()


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-0", 10, [(0, 1)]),
    ("bytes=9-", 10, [(9, 10)]),
    ("bytes=-1", 10, [(9, 10)]),
    ("bytes=-0", 10, r.UNSATISFIABLE),  # an empty suffix: nothing to send
    ("bytes=0-0", 0, r.FULL),  # start 0 of an empty file: nginx sends the whole file
    ("bytes=10-", 10, r.UNSATISFIABLE),
    ("bytes=0-1,3-4", 10, [(0, 2), (3, 5)]),
    ("bytes=0-9,0-9", 10, r.FULL),  # more than the file in total
    ("bytes=1-2,", 10, r.UNSATISFIABLE),
    ("bytes=1-2x", 10, r.UNSATISFIABLE),
    ("BYTES=1-2", 10, [(1, 3)]),
    ("bits=1-2", 10, r.FULL),
    ("bytes=5-3", 10, r.UNSATISFIABLE),
    ("bytes=99999999999999999999999-", 10, r.UNSATISFIABLE),
])
def test_parse_ranges(header, size, expected):
    assert r.parse_ranges(header, size) == expected


def test_conditionals():
    tag = r.etag(1_700_000_000, 21)
    date = r.http_date(1_700_000_000)
    assert tag == '"6553f100-15"' and date == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert r.conditional(ST, 1_700_000_000, tag, date, "", "", "") == r.NOT_MODIFIED
    # RFC 850 and asctime forms are read too (ngx_parse_http_time)
    assert r.conditional(ST, 1_700_000_000, tag, "Tuesday, 14-Nov-23 22:13:20 GMT", "", "",
                         "") == r.NOT_MODIFIED
    assert r.conditional(ST, 1_700_000_000, tag, "Tue Nov 14 22:13:20 2023", "", "",
                         "") == r.NOT_MODIFIED
    assert r.conditional(ST, 1_700_000_000, None, "", '"x"', "", "") == r.SEND
    assert r.conditional(ST, 1_700_000_000, tag, "", "", "", "*") == r.SEND
    assert r.conditional(ST, 1_700_000_000, None, "", "", "", "*") == r.PRECONDITION_FAILED
    assert r.conditional(ST, 1_700_000_000, tag, "", "", "garbage", "") == r.PRECONDITION_FAILED


def test_content_type_and_charset():
    st = dataclasses.replace(ST, types={"txt": "text/plain"}, default_type="x/default",
                             charset="koi8-r")
    assert r.content_type(st, "/a.TXT") == "text/plain; charset=koi8-r"
    assert r.content_type(st, "/dir.txt/file") == "x/default"  # no extension past a '/'
    assert r.content_type(ST, "/a.jpg") == "image/jpeg"  # nginx's built-in types


def test_redirect_location():
    assert r.redirect_location(ST, "/a b", "q=1", "http", "h", "", 80) == "http://h/a%20b/?q=1"
    assert r.redirect_location(ST, "/d", "", "http", "h", "", 8080) == "http://h:8080/d/"
    named = dataclasses.replace(ST, server_name_in_redirect=True, port_in_redirect=False)
    assert r.redirect_location(named, "/d", "", "http", "h", "srv", 8080) == "http://srv/d/"


def test_gzip_decisions():
    st = dataclasses.replace(ST, gzip=GzipSettings(enabled=True, types=frozenset({"text/html",
                                                                                  "text/css"})))
    assert r.gzip_applies(st, 200, "text/css; charset=utf-8", 100)
    assert not r.gzip_applies(st, 200, "text/css", 19)
    assert r.gzip_applies(st, 404, "text/html", -1)
    assert not r.gzip_applies(st, 500, "text/html", 100)
    assert r.gzip_request_ok("1.1", "deflate, GZIP;q=0.5")
    assert not r.gzip_request_ok("1.1", "gzip;q=0")
    assert not r.gzip_request_ok("1.0", "gzip")
    proxied = frozenset({"expired", "no_etag"})
    assert r.gzip_proxied_allows(proxied, {b"expires": b"Thu, 01 Jan 1970 00:00:01 GMT"},
                                 False, 1e9)
    assert not r.gzip_proxied_allows(proxied, {b"etag": b'"x"'}, False, 0)
    assert not r.gzip_proxied_allows(proxied, {b"cache-control": b"public"}, False, 0)
    assert r.gzip_proxied_allows(frozenset({"auth"}), {b"expires": b"x"}, True, 0)
