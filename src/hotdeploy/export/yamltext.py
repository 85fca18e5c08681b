"""A minimal YAML writer for what the exporters produce (mappings, sequences, strings,
numbers, booleans): every string is written JSON-quoted, which YAML reads as the same string,
so nothing needs a YAML library to be written correctly."""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def dump(value: Any) -> str:
    return "\n".join(_lines(value, 0)) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if value is None:
        return "null"
    return json.dumps(str(value))


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key not in ("true", "false", "null", "y", "n",
                                                          "yes", "no", "on", "off") \
        else json.dumps(key)


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{_key(str(key))}:")
                out += _lines(item, indent + 1)
            else:
                out.append(f"{pad}{_key(str(key))}: {_empty(item)}")
        return out
    for item in value:
        if isinstance(item, dict | list) and item:
            nested = _lines(item, indent + 1)
            out.append(f"{pad}- {nested[0].lstrip()}")
            out += nested[1:]
        else:
            out.append(f"{pad}- {_empty(item)}")
    return out


def _empty(item: Any) -> str:
    if isinstance(item, dict):
        return "{}"
    if isinstance(item, list):
        return "[]"
    return _scalar(item)
