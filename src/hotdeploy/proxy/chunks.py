"""HTTP/1.1 chunked framing (RFC 9112 §7.1) for the bodies the proxy writes itself: listings,
generated pages and compressed files."""

from __future__ import annotations

LAST_CHUNK = b"0\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One chunk holding `data`; nothing for no data (an empty chunk would end the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""
