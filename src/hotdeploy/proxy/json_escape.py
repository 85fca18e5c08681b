"""ngx_escape_json: how nginx escapes text it writes between JSON quotes (`log_format
escape=json`, `autoindex_format json`): `"` and `\\` get a backslash, the control characters
below 0x20 are `\\n \\r \\t \\b \\f` or `\\u00XX`, everything else is copied as it is."""

from __future__ import annotations

_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
          "\f": "\\f"}


def escape_json(value: str) -> str:
    if value.isprintable() and '"' not in value and "\\" not in value:
        return value  # the common case: nothing to escape
    out = []
    for ch in value:
        short = _SHORT.get(ch)
        if short is not None:
            out.append(short)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)
