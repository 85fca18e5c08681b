"""Host and port parsing: the one home of `host:port` text. Pure (name resolution, which is
I/O, is config.resolver).

`split_host_port` is the split every caller uses (config `listen`, upstream `server`,
`proxy_pass`); `parse_server_address` reads the server address of a state file or an NGINX
Plus API request; `parse_endpoint` reads a `[host:]port` address of a project file.
"""

from __future__ import annotations

import ipaddress

from hotdeploy.defaults import DEFAULT_UPSTREAM_PORT


def split_host_port(text: str) -> tuple[str, str | None]:
    """`[::1]:80` -> ("::1", "80"); `host:80` -> ("host", "80"); `host` -> ("host", None)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(text)
        host, rest = text[1:end], text[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError(text)
        return host, rest[1:]
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    if ":" in text:
        raise ValueError(text)  # a bare IPv6 address must be bracketed
    return text, None


def valid_port(text: str) -> int | None:
    if not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def parse_server_address(text: str, default_port: int = DEFAULT_UPSTREAM_PORT) -> tuple[str, int]:
    """A server address as NGINX Plus state files and API requests give it: `host:port`,
    `[v6]:port`, `host` or `host:` (port 80, as for `server`), or a bare IPv6 address, which
    the API accepts unbracketed. Raises ValueError with nginx's wording."""
    if text.count(":") > 1 and not text.startswith("["):
        host, port_text = text, ""  # a bare IPv6 address
    else:
        try:
            host, port = split_host_port(text)
        except ValueError:
            raise ValueError(f'invalid address "{text}"') from None
        port_text = port or ""
    if not host:
        raise ValueError(f'invalid address "{text}"')
    port_number = default_port
    if port_text:
        valid = valid_port(port_text)
        if valid is None:
            raise ValueError(f'invalid port in "{text}"')
        port_number = valid
    if ":" in host:
        ipaddress.IPv6Address(host)  # raises ValueError on garbage
    return host, port_number


def parse_endpoint(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a bare `port` -> (host, port), `default_host` when the host
    is left out (`8080`, `:8080`). Port 0 is accepted: binding it picks a free port. Raises
    ValueError naming the text."""
    expected = f'"{text}": expected "host:port" with a port from 0 to 65535'
    if text.isdigit():
        host, port = default_host, text
    else:
        try:
            host, split_port = split_host_port(text)
        except ValueError:
            raise ValueError(expected) from None
        if split_port is None:
            raise ValueError(expected)
        port = split_port
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(expected)
    return host or default_host, int(port)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def key_text(host: str, port: int) -> str:
    """nginx's spelling of a socket address in messages: `0.0.0.0:80`, `[::1]:80`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

