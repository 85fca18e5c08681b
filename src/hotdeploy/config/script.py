"""The rewrite module's directives as a script, and `map` tables: pure data.

nginx compiles `rewrite`, `return`, `set`, `if` and `break` of a server or location into one
code array that runs in order (ngx_http_rewrite_module); `Script` is that array. An `if` in a
location also carries the implicit location nginx creates for it ("if is evil": when the
condition holds, that location's configuration is the one the request ends up using).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from hotdeploy.config.model import LocationConfig, Return, Source, Template

RewriteFlag = Literal["", "last", "break", "redirect", "permanent"]
ConditionOp = Literal["truth", "=", "!=", "~", "!~", "-f", "!-f", "-d", "!-d", "-e", "!-e",
                      "-x", "!-x"]


@dataclass(frozen=True, slots=True)
class Rewrite:
    """`rewrite regex replacement [flag];`

    `uri` is the replacement up to its first literal `?`, `args` the rest (None without `?`);
    `add_args` is False when the replacement ends with `?` (the request's arguments are then
    dropped). `status` is 0 for an internal rewrite, 301/302 for a redirect."""

    regex: re.Pattern[str]
    uri: Template
    args: Template | None
    flag: RewriteFlag
    status: int
    add_args: bool
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class SetVar:
    """`set $name value;`"""

    name: str
    value: Template


@dataclass(frozen=True, slots=True)
class ReturnOp:
    """`return ...;` inside a script (ran in order with the other directives)."""

    ret: Return


@dataclass(frozen=True, slots=True)
class Break:
    """`break;`"""


@dataclass(frozen=True, slots=True)
class Condition:
    """The parenthesised test of `if`: a variable's truth, a comparison, a regex match or a
    file test on a value."""

    op: ConditionOp
    variable: str = ""  # the tested variable's name (truth, =, !=, ~, !~)
    value: Template | None = None  # the compared string or the tested path
    regex: re.Pattern[str] | None = None
    raw: str = ""  # the condition as written (rewrite_log)


@dataclass(frozen=True, slots=True)
class If:
    """`if (condition) { ... }`. `location` is the implicit location of an `if` inside a
    location (None inside a server, where nginx creates none)."""

    condition: Condition
    body: Script
    location: LocationConfig | None = None


Op = Rewrite | SetVar | ReturnOp | Break | If


@dataclass(frozen=True, slots=True)
class Script:
    ops: tuple[Op, ...] = ()
    log: bool = False  # rewrite_log: notice-level lines for each rewrite and regex test
    # A server's `server_name` regexes that capture: nginx's server selection leaves their
    # captures ($1, named ones) to the request, so the server's script matches them first.
    host_regexes: tuple[re.Pattern[str], ...] = ()


# --------------------------------------------------------------------------------------------
# map
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MapConfig:
    """`map source $target { ... }`: lookups in nginx's order of priority (exact strings, the
    longest `*.x`/`.x` and `x.*` masks with `hostnames`, then regexes in order), else default."""

    target: str
    source: Template
    exact: dict[str, Template] = field(default_factory=dict)  # keys lower-case (nginx hashes)
    head: dict[str, Template] = field(default_factory=dict)  # "*.x.com"/".x.com" -> ".x.com"
    tail: dict[str, Template] = field(default_factory=dict)  # "www.x.*" -> "www.x."
    regexes: tuple[tuple[re.Pattern[str], Template], ...] = ()
    default: Template | None = None
    hostnames: bool = False
    volatile: bool = False


def script_locations(script: Script) -> list[LocationConfig]:
    """The implicit locations of a script's `if` blocks, nested ones too (each has a plan)."""
    found: list[LocationConfig] = []
    for op in script.ops:
        if isinstance(op, If):
            if op.location is not None:
                found.append(op.location)
            found.extend(script_locations(op.body))
    return found
