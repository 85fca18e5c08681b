"""`ssl_session_cache` and `ssl_session_timeout` applied to a server's `ssl.SSLContext`.

Python's ssl module cannot set OpenSSL's session cache mode, its size or the session lifetime.
OpenSSL can (SSL_CTX_ctrl and SSL_CTX_set_timeout), and both are reachable:
- the SSL_CTX pointer is the first field after the object header of CPython's SSLContext
  object (PySSLContext);
- `_ssl`'s shared object links libssl, so ctypes finds the two functions through it.

The pointer is used only once SSL_CTX_get_options read through it equals the context's own
`options`. A Python whose layout differs is left alone, and `apply` returns False (the caller
warns, and OpenSSL's defaults hold).

What nginx 1.22 sets (ngx_ssl_session_cache), and so what is set here:
- `off`: no cache, and the client is told that sessions cannot be resumed (SSL_SESS_CACHE_OFF);
- `none` (the default): the server claims to cache, but stores nothing (SERVER with
  NO_INTERNAL_STORE and NO_AUTO_CLEAR, size 1), so a session ID is never resumed;
- `builtin[:SIZE]` and/or `shared:NAME:SIZE`: OpenSSL's cache, sized SIZE sessions for
  `builtin:SIZE`, else OpenSSL's default (20480). hotdeploy has no shared-memory session zone,
  so `shared` is this per-process cache too.
- the session lifetime is `ssl_session_timeout` in every mode; it also bounds TLS 1.3 tickets.
"""

from __future__ import annotations

import _ssl
import ctypes
import functools
from typing import Any

from hotdeploy.config.tls import SessionCache

# <openssl/ssl.h>
_SSL_CTRL_SET_SESS_CACHE_SIZE = 42
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_SSL_SESS_CACHE_OFF = 0x0000
_SSL_SESS_CACHE_SERVER = 0x0002
_SSL_SESS_CACHE_NO_AUTO_CLEAR = 0x0080
_SSL_SESS_CACHE_NO_INTERNAL_STORE = 0x0200


class _LibSsl:
    def __init__(self) -> None:
        lib = ctypes.CDLL(_ssl.__file__)
        self.ctrl = lib.SSL_CTX_ctrl
        self.ctrl.restype = ctypes.c_long
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        self.set_timeout = lib.SSL_CTX_set_timeout
        self.set_timeout.restype = ctypes.c_long
        self.set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_long]
        self.get_options = lib.SSL_CTX_get_options
        self.get_options.restype = ctypes.c_uint64
        self.get_options.argtypes = [ctypes.c_void_p]


@functools.cache
def _libssl() -> _LibSsl | None:
    try:
        return _LibSsl()
    except (OSError, AttributeError):  # no such symbol: an SSL library other than OpenSSL's
        return None


def _ssl_ctx(ctx: Any, lib: _LibSsl) -> int | None:
    """The context's SSL_CTX pointer, or None when the layout is not the one expected."""
    pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not pointer or lib.get_options(pointer) != ctx.options:
        return None
    return int(pointer)


def apply(ctx: Any, cache: SessionCache, timeout: float) -> bool:
    """Set nginx's session cache mode, size and lifetime on a server context; False when
    they could not be set (OpenSSL's defaults then hold)."""
    lib = _libssl()
    pointer = _ssl_ctx(ctx, lib) if lib is not None else None
    if lib is None or pointer is None:
        return False
    lib.set_timeout(pointer, max(1, int(timeout)))
    if cache.mode == "off":
        lib.ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)
    elif cache.mode == "none":
        lib.ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_SERVER
                 | _SSL_SESS_CACHE_NO_AUTO_CLEAR | _SSL_SESS_CACHE_NO_INTERNAL_STORE, None)
        lib.ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_SIZE, 1, None)
    else:
        lib.ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_SERVER, None)
        if cache.size:
            lib.ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_SIZE, cache.size, None)
    return True
