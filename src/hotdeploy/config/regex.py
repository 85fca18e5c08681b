"""nginx (PCRE) regular expressions compiled with Python's `re`.

The one home of the PCRE -> Python translation: location, server_name, rewrite, `if` and map
regexes all compile here (and the router's server_name tables use `to_python`).
"""

from __future__ import annotations

import re

from hotdeploy.config.reader import Node

# PCRE spells named groups `(?<name>...)` and `(?'name'...)`; Python needs `(?P<name>...)`.
# Lookbehinds `(?<=` and `(?<!` are left alone.
_PCRE_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_PCRE_QUOTED_GROUP = re.compile(r"\(\?'([A-Za-z_]\w*)'")

# Python's wording of the common mistakes -> PCRE2's (what `nginx -t` prints), and whether
# PCRE2 reports a position (`at "..."`) for it.
_PCRE2_MESSAGES: tuple[tuple[str, str, bool], ...] = (
    ("missing ), unterminated subpattern", "missing closing parenthesis", False),
    ("unexpected end of pattern", "missing closing parenthesis", False),
    ("unbalanced parenthesis", "unmatched closing parenthesis", True),
    ("nothing to repeat", "quantifier does not follow a repeatable item", True),
    ("multiple repeat", "quantifier does not follow a repeatable item", True),
    ("unterminated character set", "missing terminating ] for character class", False),
    ("min repeat greater than max repeat", "numbers out of order in {} quantifier", False),
)


def to_python(pattern: str) -> str:
    """PCRE syntax -> Python `re` syntax (named groups)."""
    pattern = _PCRE_QUOTED_GROUP.sub(r"(?P<\1>", pattern)
    return _PCRE_NAMED_GROUP.sub("(?P<", pattern)


def pcre2_message(exc: re.error, pattern: str) -> str:
    """`pcre2_compile() failed: MESSAGE in "PATTERN"[ at "REST"]` as nginx words it."""
    for python_text, pcre_text, positioned in _PCRE2_MESSAGES:
        if exc.msg.startswith(python_text):
            # The position is only meaningful where the translation left the text alone.
            at = exc.pos if positioned and exc.pos is not None and to_python(pattern) == pattern \
                else None
            suffix = f' at "{pattern[at:]}"' if at is not None and at < len(pattern) else ""
            return f'pcre2_compile() failed: {pcre_text} in "{pattern}"{suffix}'
    return f'pcre2_compile() failed: {exc.msg} in "{pattern}"'


def python_flags(caseless: bool) -> int:
    """nginx compiles without PCRE2_UTF/UCP: `\\w`, `\\d`, `\\s`, `\\b` and caseless matching are
    ASCII-only (`\\w` does not match "é"); Python's str patterns are Unicode unless re.ASCII."""
    return re.ASCII | (re.IGNORECASE if caseless else 0)


def compile_regex(node: Node, pattern: str, caseless: bool = False) -> re.Pattern[str]:
    """Compile like nginx does; failures read like `pcre2_compile() failed: ... in "(..."`."""
    try:
        return re.compile(to_python(pattern), python_flags(caseless))
    except re.error as exc:
        raise node.error(pcre2_message(exc, pattern)) from None
