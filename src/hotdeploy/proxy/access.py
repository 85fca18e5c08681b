"""Client address rules: ngx_http_realip_module and ngx_http_access_module. Pure functions."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from hotdeploy.config.model import AccessRule, IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(addr: str, networks: tuple[IPNetwork, ...]) -> bool:
    ip = parse_ip(addr)
    return ip is not None and any(ip.version == net.version and ip in net for net in networks)


def real_ip(remote_addr: str, header_value: str, header_name: str,
            trusted: tuple[IPNetwork, ...], recursive: bool) -> str:
    """The client address after `set_real_ip_from`/`real_ip_header`: only a trusted peer may
    replace its own address. For X-Forwarded-For the last address is used; with
    `real_ip_recursive on`, the last one that is not itself trusted."""
    if not trusted or not header_value or not _trusted(remote_addr, trusted):
        return remote_addr
    if header_name.lower() != "x-forwarded-for":
        candidate = header_value.strip()
        return candidate if parse_ip(candidate) is not None else remote_addr
    hops = [h.strip() for h in header_value.split(",") if h.strip()]
    if not recursive:
        return hops[-1] if hops and parse_ip(hops[-1]) is not None else remote_addr
    for hop in reversed(hops):
        if parse_ip(hop) is None:
            return remote_addr
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else remote_addr


def allowed(addr: str, rules: tuple[AccessRule, ...]) -> bool:
    """`allow`/`deny` in order, first match wins; no match allows (nginx)."""
    if not rules:
        return True
    ip = parse_ip(addr)
    for rule in rules:
        net = rule.network
        if net is None or (ip is not None and ip.version == net.version and ip in net):
            return rule.allow
    return True
