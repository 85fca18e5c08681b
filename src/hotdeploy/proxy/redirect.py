"""The Location of a redirect the proxy generates, as nginx's header filter completes it.

With `absolute_redirect on` (nginx's default) a Location that starts with "/" becomes
`scheme://host[:port]/...`: the host is the request's host ($host: the Host header's, or the
server's first name), the port the one the connection came in on, left out when it is the
scheme's default (`port_in_redirect on`). Pure.
"""

from __future__ import annotations

_DEFAULT_PORTS = {"http": 80, "https": 443}


def absolute_location(location: str, scheme: str, host: str, port: int) -> str:
    if not location.startswith("/"):
        return location
    authority = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{authority}{location}"
