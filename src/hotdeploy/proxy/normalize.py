"""Request path normalization, delegated to the router's `normalize_uri` when it exists.

nginx decodes %XX, resolves `.` and `..` and merges slashes before location matching; a path
that climbs above the root is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote


def _fallback(raw: str, merge_slashes: bool = True) -> str | None:
    if not raw.startswith("/"):
        return None
    path = unquote(raw)
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "." or (segment == "" and merge_slashes):
            continue
        if segment == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(segment)
    result = "/" + "/".join(out)
    if path.endswith(("/", "/.", "/..")) and result != "/":
        result += "/"
    return result


def _load() -> Callable[[str, bool], str | None]:
    try:
        from hotdeploy.config.routing import normalize_uri
    except ImportError:
        return _fallback
    return normalize_uri


_normalize: Callable[[str, bool], str | None] | None = None


def normalize_path(raw: str, merge_slashes: bool = True) -> str | None:
    global _normalize
    if _normalize is None:
        _normalize = _load()
    # Fast path: most request paths need no work (no %, no dot segments, no double slash).
    if "%" not in raw and "/." not in raw and "//" not in raw and raw.startswith("/"):
        return raw
    return _normalize(raw, merge_slashes)
