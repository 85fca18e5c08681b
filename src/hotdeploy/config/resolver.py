"""Name resolution for `listen` and upstream `server` (nginx resolves names once, when it
reads the configuration). Kept apart from the address parser, which is pure."""

from __future__ import annotations

import ipaddress
import socket

from hotdeploy.config.addresses import is_ip


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host`, in resolver order, without duplicates (nginx creates one
    peer per address). Raises OSError when the name does not resolve."""
    if is_ip(host):
        return [str(ipaddress.ip_address(host))]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = str(sockaddr[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise OSError(f"no address for {host}")
    return out
