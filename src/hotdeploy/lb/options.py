"""The `hotdeploy lb` command line, as data: nginx's flags after parsing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LbOptions:
    conf: str | None = None  # -c
    prefix: str | None = None  # -p
    error_log: str | None = None  # -e
    globals_: str | None = None  # -g
    test: bool = False  # -t
    dump: bool = False  # -T
    quiet: bool = False  # -q
    signal: str | None = None  # -s
    version: bool = False  # -v
    version_full: bool = False  # -V
