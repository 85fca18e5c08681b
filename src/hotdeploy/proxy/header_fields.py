"""An upstream response's headers as the proxy keeps them: one flat list, name then value,
`[name0, value0, name1, value1, ...]`, in the order received.

Flat because the exchange adds every header of every response: a (name, value) tuple per
header is an allocation and a deallocation that the common path (response_head.client_head,
which walks the list by position) never needs. What wants pairs (the general head path, the
charset and gzip filters, `$upstream_http_NAME`) converts with `pairs`, off that path.
"""

from __future__ import annotations

from collections.abc import Sequence


def pairs(fields: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """`[(name0, value0), (name1, value1), ...]` from the flat list."""
    return list(zip(fields[0::2], fields[1::2], strict=True))


def flat(headers: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """The flat list of (name, value) pairs."""
    return [item for pair in headers for item in pair]
