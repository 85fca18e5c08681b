"""nginx measurement units (https://nginx.org/en/docs/syntax.html).

Times: ms s m h d w M y, combined from the most to the least significant ("1h 30m",
"1h30m"); a bare number means seconds. Sizes: a bare number is bytes, k/K kilobytes,
m/M megabytes, g/G gigabytes. Both reject fractions and negatives, as nginx does.
"""

from __future__ import annotations

import re

# Unit -> seconds, in nginx's order of significance (ngx_parse_time); the order matters:
# a unit must be less significant than the one before it.
_TIME_UNITS: dict[str, float] = {
    "y": 365 * 24 * 3600.0,
    "M": 30 * 24 * 3600.0,
    "w": 7 * 24 * 3600.0,
    "d": 24 * 3600.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_RANK = {unit: i for i, unit in enumerate(_TIME_UNITS)}
_TIME_PART = re.compile(r"\s*(\d+)(ms|[yMwdhms])?\s*")
_SIZE = re.compile(r"(\d+)([kKmMgG]?)")
_SIZE_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_time(text: str) -> float:
    """Seconds in an nginx time value ("30s", "1h 30m", "500ms", "5" = 5 s)."""
    if not text or text != text.strip():
        raise ValueError(f"invalid time {text!r}")
    total = 0.0
    last_rank = -1
    pos = 0
    while pos < len(text):
        m = _TIME_PART.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"invalid time {text!r}")
        number, unit = int(m.group(1)), m.group(2)
        if unit is None:
            # A bare number is seconds, and only as the last component (nginx: "1h 30").
            if m.end() != len(text):
                raise ValueError(f"invalid time {text!r}")
            unit = "s"
            if last_rank >= _RANK["s"]:
                raise ValueError(f"invalid time {text!r}")
        if _RANK[unit] <= last_rank:
            raise ValueError(f"invalid time {text!r}: units out of order")
        last_rank = _RANK[unit]
        total += number * _TIME_UNITS[unit]
        pos = m.end()
    return total


def parse_size(text: str) -> int:
    """Bytes in an nginx size value ("64k", "1m", "1g", "512")."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid size {text!r}")
    return int(m.group(1)) * _SIZE_SCALE[m.group(2).lower()]


def parse_duration(value: str | int | float) -> float:
    """A duration from a project file or a JSON API body: a number is seconds, a string is an
    nginx time value. Raises ValueError naming what was expected."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "30s" or "500ms"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("expected a non-negative duration")
        return float(value)
    try:
        return parse_time(value)
    except ValueError:
        raise ValueError(f'invalid duration {value!r}: expected a duration such as "30s"') from None


def format_time(seconds: float) -> str:
    """The shortest nginx spelling: whole seconds as "5s", anything else in milliseconds."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


_BINARY = {"": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes binary quantity ("512Mi", "2Gi", "1048576") in bytes."""
    number = quantity.rstrip("KMGTi")
    return int(number) * _BINARY[quantity[len(number):]]
