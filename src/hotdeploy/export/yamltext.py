"""A small, deterministic YAML writer for manifests: block style, keys in the order given,
strings quoted whenever YAML could read them as anything but a string. Pure.

Written here rather than taken from PyYAML so that the exported bytes depend on nothing but
the input (no library version changes the layout) and hotdeploy needs no YAML dependency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Plain (unquoted) only when it cannot be read as a number, a boolean, null, a timestamp or
# an indicator: starts with a letter or '/', and contains no ':', '#', space or quote.
_PLAIN = re.compile(r"^[A-Za-z/][A-Za-z0-9_./-]*$")
# YAML 1.1 (PyYAML, kubectl's go-yaml v2 in places) reads these as booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are not written: give Kubernetes quantities as strings")
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    # A JSON string is a YAML double-quoted scalar (same escapes).
    return json.dumps(text, ensure_ascii=False)


def _mapping(data: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{scalar(key)}:")
            lines += _mapping(value, indent + 2)
        elif _is_list(value) and value:
            # kubectl's style: a sequence under a key is not indented further.
            lines.append(f"{pad}{scalar(key)}:")
            lines += _sequence(value, indent)
        else:
            lines.append(f"{pad}{scalar(key)}: {_inline(value)}")
    return lines


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            body = _mapping(item, indent + 2)
            lines.append(f"{pad}- {body[0][indent + 2:]}")
            lines += body[1:]
        elif _is_list(item) and item:
            lines.append(f"{pad}-")
            lines += _sequence(item, indent + 2)
        else:
            lines.append(f"{pad}- {_inline(item)}")
    return lines


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if _is_list(value):
        return "[]"
    return scalar(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def dump(document: Mapping[str, Any]) -> str:
    return "\n".join(_mapping(document, 0)) + "\n"


def dump_all(documents: Iterable[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """Documents separated by `---`, after `# ` comment lines."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return comments + "---\n".join(dump(doc) for doc in documents)
