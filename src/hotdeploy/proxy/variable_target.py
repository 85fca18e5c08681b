"""The target of a `proxy_pass` with variables, parsed from its URL once evaluated
(ngx_http_proxy_eval). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from hotdeploy.config.addresses import split_host_port, valid_port
from hotdeploy.defaults import DEFAULT_UPSTREAM_PORT, DEFAULT_UPSTREAM_TLS_PORT


@dataclass(frozen=True, slots=True)
class Target:
    https: bool
    host: str
    port: int | None  # None: written without a port
    # $proxy_host: host[:port] as written, without the scheme's default port
    proxy_host: str
    uri: str | None  # with variables a URI part replaces the request URI as it is

    @property
    def connect_port(self) -> int:
        if self.port is not None:
            return self.port
        return DEFAULT_UPSTREAM_TLS_PORT if self.https else DEFAULT_UPSTREAM_PORT


def parse_target(url: str) -> Target | str:
    """The target, or nginx's error-log text for a URL it refuses (answered 500)."""
    https = url[:8].lower() == "https://"
    if url[:7].lower() != "http://" and not https:
        return f'invalid URL prefix in "{url}"'
    rest = url[8:] if https else url[7:]
    end = len(rest)
    for mark in "/?":
        found = rest.find(mark)
        if 0 <= found < end:
            end = found
    authority, uri = rest[:end], rest[end:] or None
    if uri is not None and uri.startswith("?"):
        uri = "/" + uri
    try:
        host, port_text = split_host_port(authority)
    except ValueError:
        return f'invalid host in upstream "{authority}"'
    if not host:
        return f'no host in upstream "{url}"'
    port = None if port_text is None else valid_port(port_text)
    if port_text is not None and port is None:
        return f'invalid port in upstream "{authority}"'
    default = DEFAULT_UPSTREAM_TLS_PORT if https else DEFAULT_UPSTREAM_PORT
    proxy_host = authority if port != default else authority[: -len(f":{port}")]
    return Target(https, host, port, proxy_host, uri)
