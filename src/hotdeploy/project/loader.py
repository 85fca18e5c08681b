"""Read hotdeploy.toml and turn every problem into a ProjectError that names the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hotdeploy.errors import ProjectError
from hotdeploy.project.model import Project

_EXPECTED = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "dict_type": "expected a table",
    "tuple_type": "expected an array",
}


def load_project(path: str | Path) -> Project:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{file}: no such project file (create hotdeploy.toml or use -f)") \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{file}: invalid TOML: {exc}") from None
    return parse_project(data, str(file))


def parse_project(data: dict[str, Any], origin: str = "hotdeploy.toml") -> Project:
    try:
        return Project.model_validate(data)
    except ValidationError as exc:
        raise ProjectError(format_errors(exc, origin)) from None


def format_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        message = _EXPECTED.get(err["type"], err["msg"])
        if message.startswith("Input should be "):
            message = "expected " + message.removeprefix("Input should be ")
        message = message.removeprefix("Value error, ")
        got = "" if err["type"] in ("missing", "extra_forbidden") else _got(err.get("input"))
        lines.append(f"{origin}: {key + ': ' if key else ''}{message}{got}")
    return "\n".join(lines)


def _got(value: object) -> str:
    if isinstance(value, dict | list):
        return ""
    return f" (got {value!r})"
