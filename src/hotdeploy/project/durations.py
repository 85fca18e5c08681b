"""Durations written the nginx way ("500ms", "30s", "1m", "1h 30m") as float seconds.

The project file uses nginx's time units so that the same values read the same in
hotdeploy.toml and in the generated nginx.conf (nginx "Syntax" section: ms, s, m, h, d, w,
M, y; a bare number is seconds).
"""

from __future__ import annotations

import re

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "M": 30 * 86400.0,
    "y": 365 * 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)?")


def parse_duration(value: str | int | float) -> float:
    """Seconds for `value`; raises ValueError naming what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"30s\" or \"500ms\"")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("expected a non-negative duration")
        return float(value)
    text = value.replace(" ", "")
    if not text:
        raise ValueError("expected a duration such as \"30s\" or \"500ms\"")
    total, pos = 0.0, 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise ValueError(f"invalid duration {value!r}: expected a duration such as \"30s\"")
        total += float(m.group(1)) * _UNITS[m.group(2) or "s"]
        pos = m.end()
    return total


def format_duration(seconds: float) -> str:
    """The shortest nginx spelling: whole seconds as "5s", anything else in milliseconds."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
