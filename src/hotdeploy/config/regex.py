"""nginx (PCRE) regular expressions compiled with Python's `re`."""

from __future__ import annotations

import re

from hotdeploy.config.reader import Node

# PCRE spells named groups `(?<name>...)`; Python needs `(?P<name>...)`. Lookbehinds
# `(?<=` and `(?<!` are left alone.
_PCRE_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


def to_python(pattern: str) -> str:
    """PCRE syntax -> Python `re` syntax (named groups)."""
    return _PCRE_NAMED_GROUP.sub("(?P<", pattern)


def compile_regex(node: Node, pattern: str, caseless: bool = False) -> re.Pattern[str]:
    """Compile like nginx does; failures read like `pcre2_compile() failed: ... in "(..."`."""
    try:
        return re.compile(to_python(pattern), re.IGNORECASE if caseless else 0)
    except re.error as exc:
        raise node.error(f'pcre2_compile() failed: {exc.msg} in "{pattern}"') from None
