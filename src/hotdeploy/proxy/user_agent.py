"""`keepalive_disable`: browsers that nginx refuses keep-alive connections to. Pure.

nginx (ngx_http_core_module docs): `msie6` disables keep-alive with old versions of MSIE once a
POST request is received; `safari` disables it with Safari and Safari-like browsers on macOS
and macOS-like systems (iOS). nginx recognises them from User-Agent as follows: "MSIE " then
a version 4.x or 5.x, or 6.x without "SV1" (SP2, which fixed the bug), is MSIE 6 and older,
unless the agent says "Opera"; "Safari/" together with "Mac OS X" is Safari unless it says
"Chrome/".
"""

from __future__ import annotations


def is_msie6(agent: str) -> bool:
    at = agent.find("MSIE ")
    if at < 0 or at + 7 >= len(agent) or "Opera" in agent:
        return False
    if agent[at + 6] != ".":
        return False
    major = agent[at + 5]
    return major in "45" or (major == "6" and "SV1" not in agent[at + 8:])


def is_safari(agent: str) -> bool:
    return "Safari/" in agent and "Mac OS X" in agent and "Chrome/" not in agent


def keepalive_refused(agent: str, method: str, msie6: bool, safari: bool) -> bool:
    """True when `keepalive_disable` closes this connection after the response."""
    if not agent:
        return False
    return (safari and is_safari(agent)) or (msie6 and method == "POST" and is_msie6(agent))
