"""The variables of ngx_http_ssl_module, read from the connection's SSL object.

`Request.tls` is the client connection's SSL object (None on a plain connection); each
variable is an empty string without TLS, as in nginx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotdeploy.tls.contexts import SERVER_NAME_ATTRIBUTE


def _protocol(r: Any) -> str:
    return r.tls.version() or "" if r.tls is not None else ""


def _cipher(r: Any) -> str:
    cipher = r.tls.cipher() if r.tls is not None else None
    return cipher[0] if cipher else ""


def _server_name(r: Any) -> str:
    return getattr(r.tls, SERVER_NAME_ATTRIBUTE, "") if r.tls is not None else ""


def _session_reused(r: Any) -> str:
    # nginx: "r" if the session was reused, "." otherwise.
    return ("r" if r.tls.session_reused else ".") if r.tls is not None else ""


def scheme(r: Any) -> str:
    return "https" if r.tls is not None else "http"


TLS_VARIABLES: dict[str, Callable[[Any], str]] = {
    "https": lambda r: "on" if r.tls is not None else "",
    "ssl_protocol": _protocol,
    "ssl_cipher": _cipher,
    "ssl_server_name": _server_name,
    "ssl_session_reused": _session_reused,
}
