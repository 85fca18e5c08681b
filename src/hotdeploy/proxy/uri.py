"""The URI sent upstream, per proxy_pass's rules (ngx_http_proxy_module docs):

- `proxy_pass http://backend;` (no URI part): the request URI is passed exactly as the client
  sent it (raw, unnormalized, with its arguments);
- `proxy_pass http://backend/v2/;` (with a URI part): the part of the *normalized* request URI
  that matched the location prefix is replaced by the URI part; the rest is escaped again and
  the arguments are appended.
"""

from __future__ import annotations

from urllib.parse import quote

# nginx's NGX_ESCAPE_URI leaves RFC 3986 unreserved and sub-delims, ':', '@' and '/' alone.
_SAFE = "/:@!$&'()*+,;=-._~"


def upstream_uri(proxy_uri: str | None, prefix: str, raw_uri: str, path: str, args: str,
                 rewritten: int = 0) -> str:
    """`rewritten` (proxy.rewrite): 1 when a rewrite changed the URI, 2 when it did so with
    `break`. A changed URI is sent escaped, with the current arguments (nginx no longer has
    the client's form); after `break` the proxy_pass URI part is ignored as well ("the full
    changed request URI is passed to the server")."""
    if rewritten == 2 or (rewritten and proxy_uri is None):
        proxy_uri, prefix = "", ""
    if proxy_uri is None:
        return raw_uri
    rest = path[len(prefix):] if path.startswith(prefix) else path
    uri = proxy_uri + quote(rest, safe=_SAFE)
    return f"{uri}?{args}" if args else uri
