"""Status lines and the small HTML error bodies nginx sends for the responses it generates.

nginx (ngx_http_special_response.c) answers its own errors with a fixed status line and a short
HTML page ending in a signature line; clients and monitoring scripts match on both, so we
reproduce them byte for byte with our name in the signature.
"""

from __future__ import annotations

from http import HTTPStatus

SIGNATURE = "hotdeploy"

# nginx's own reason phrases where they differ from Python's table (RFC 9110 names).
_REASONS: dict[int, str] = {
    # ngx_http_status_lines has no phrase for 203, 205 and 300 (the line ends after the code)
    # and nginx's older names for 302, 408 and 504.
    203: "",
    205: "",
    300: "",
    302: "Moved Temporarily",
    408: "Request Time-out",
    504: "Gateway Time-out",
    405: "Not Allowed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    416: "Requested Range Not Satisfiable",
    494: "Request Header Or Cookie Too Large",
    499: "Client Closed Request",
}

# Error page titles that differ from the status line (ngx_http_error_302_page says "Found").
_PAGE_TITLES: dict[int, str] = {302: "Found"}
# nginx's internal code for a plain-HTTP request on a `listen ... ssl` port (NGX_HTTP_TO_HTTPS):
# answered as a 400 with its own page, and `error_page 497` catches it.
TO_HTTPS = 497

# Statuses whose body must be empty (RFC 9110 §6.4.1): 1xx, 204, 304.
NO_BODY_STATUSES = frozenset({100, 101, 204, 304})

# nginx sends the error page with `Connection: close` for these (the request could not be
# parsed reliably, so the connection's framing is unknown).
CLOSING_STATUSES = frozenset({400, 413, 414, 494, 497, 500, 501})

# Redirect statuses that take a URL (`return 301 URL`, `error_page ... =301 URL`).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def status_line(status: int, version: bytes = b"HTTP/1.1") -> bytes:
    return b"%s %d %s\r\n" % (version, status, reason(status).encode("latin-1"))


def _page(title: str, h1: str, extra: str = "") -> bytes:
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{h1}</h1></center>\r\n{extra}"
        f"<hr><center>{SIGNATURE}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def error_body(status: int) -> bytes:
    """The HTML body nginx writes for a generated 3xx/4xx/5xx response ('' for the rest)."""
    if status == 494:
        # nginx's "header too large" is a 400 whose page names the real cause.
        return _page(
            "400 Request Header Or Cookie Too Large",
            "400 Bad Request",
            "<center>Request Header Or Cookie Too Large</center>\r\n",
        )
    if status == TO_HTTPS:
        return _page(
            "400 The plain HTTP request was sent to HTTPS port",
            "400 Bad Request",
            "<center>The plain HTTP request was sent to HTTPS port</center>\r\n",
        )
    if status < 300 or status in NO_BODY_STATUSES:
        return b""
    text = f"{status} {_PAGE_TITLES.get(status) or reason(status)}"
    return _page(text, text)


def wire_status(status: int) -> int:
    """The code on the status line: nginx's internal 494 and 497 go out as 400, 499 is
    log-only."""
    return 400 if status == 494 or status == TO_HTTPS else status


def error_page_code(status: int) -> int:
    """The code `error_page` is looked up by: 497 is caught as itself (`error_page 497`)."""
    return status if status == TO_HTTPS else wire_status(status)
