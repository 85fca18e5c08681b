"""Host and port parsing shared by `listen`, upstream `server` and hotdeploy.toml's addresses.
Pure: name resolution (I/O) is config.resolver."""

from __future__ import annotations

import ipaddress


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


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def key_text(host: str, port: int) -> str:
    """nginx's spelling of a socket address in messages: `0.0.0.0:80`, `[::1]:80`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_endpoint(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a bare port -> (host, port), port 0..65535 (0: any free
    one). For hotdeploy.toml's addresses; nginx's own `listen`/`server` use split_host_port."""
    if text.isdigit():
        host, port = default_host, text
    else:
        try:
            host, maybe = split_host_port(text)
        except ValueError:
            maybe = None
            host = ""
        if maybe is None:
            raise ValueError(f"{text!r}: expected \"host:port\" with a port from 0 to 65535")
        port = maybe
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected \"host:port\" with a port from 0 to 65535")
    return host or default_host, int(port)
