"""Status lines and the small HTML error bodies nginx sends for the responses it generates.

nginx (ngx_http_special_response.c) answers its own errors with a fixed status line and a short
HTML page ending in a signature line; clients and monitoring scripts match on both, so we
reproduce them byte for byte with our name in the signature.
"""

from __future__ import annotations

SIGNATURE = "hotdeploy"

# ngx_http_status_lines (nginx 1.22): the reason phrase nginx writes after a code it
# generates. A code missing here goes out as "HTTP/1.1 207 " with nothing after the code
# (nginx has no phrase for it), however standard its name; 503 and 302 keep nginx's
# older names. 1xx lines are written apart (100 Continue) or come from the upstream.
_REASONS: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Large",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    421: "Misdirected Request", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}

# ngx_http_error_pages: the codes nginx has an HTML page for, by title where it differs
# from the status line. Any other code is answered with an empty body
# (Content-Length: 0, no Content-Type).
_PAGE_TITLES: dict[int, str] = {
    code: _REASONS[code]
    for code in (301, 302, 303, 307, 308, 400, 401, 402, 403, 404, 405, 406, 408, 409, 410,
                 411, 412, 413, 414, 415, 416, 421, 429, 500, 501, 502, 503, 504, 505, 507)
}
_PAGE_TITLES[302] = "Found"
_PAGE_TITLES[401] = "Authorization Required"

# nginx's internal codes that go out as a 400 whose page names the cause, and whose
# connection is closed. 494: a request header too large; 495/496 (ngx_http_ssl_module):
# a client certificate that failed verification / was required and not sent; 497: plain
# HTTP on a `listen ... ssl` port. 495-497 are caught by `error_page` as themselves.
TO_HTTPS = 497
_AS_BAD_REQUEST: dict[int, str] = {
    494: "Request Header Or Cookie Too Large",
    495: "The SSL certificate error",
    496: "No required SSL certificate was sent",
    TO_HTTPS: "The plain HTTP request was sent to HTTPS port",
}
# 498 ("canceled") goes out with its own code, no phrase, and the 404 page.
_PAGE_OF = {498: 404}


# Statuses whose body must be empty (RFC 9110 §6.4.1): 1xx, 204, 304.
NO_BODY_STATUSES = frozenset({100, 101, 204, 304})

# nginx sends the error page with `Connection: close` for these (the request could not be
# parsed reliably, so the connection's framing is unknown).
CLOSING_STATUSES = frozenset({400, 413, 414, 495, 496, 497, 500, 501})

# Redirect statuses that take a URL (`return 301 URL`, `error_page ... =301 URL`).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def reason(status: int) -> str:
    return _REASONS.get(status, "")


def status_line(status: int, version: bytes = b"HTTP/1.1") -> bytes:
    return b"%s %d %s\r\n" % (version, status, reason(status).encode("latin-1"))


def _page(title: str, h1: str, extra: str = "") -> bytes:
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{h1}</h1></center>\r\n{extra}"
        f"<hr><center>{SIGNATURE}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def error_body(status: int) -> bytes:
    """The HTML body nginx writes for a generated 3xx/4xx/5xx response (b"" where nginx has
    no page for the code)."""
    cause = _AS_BAD_REQUEST.get(status)
    if cause is not None:
        return _page(f"400 {cause}", "400 Bad Request", f"<center>{cause}</center>\r\n")
    page = _PAGE_OF.get(status, status)
    title = _PAGE_TITLES.get(page)
    if title is None:
        return b""
    return _page(f"{page} {title}", f"{page} {title}")


def wire_status(status: int) -> int:
    """The code on the status line: nginx's internal 494-497 go out as 400."""
    return 400 if status in _AS_BAD_REQUEST else status


def error_page_code(status: int) -> int:
    """The code `error_page` is looked up by: 495-497 are caught as themselves
    (`error_page 497 https://...`), 494 as the 400 it is sent as."""
    return status if status in _AS_BAD_REQUEST and status != 494 else wire_status(status)
