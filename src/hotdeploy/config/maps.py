"""`map source $target { ... }` blocks (ngx_http_map_module), with nginx's checks.

The block's lines are key/value words (the reader passes them through raw, `include` expanded):
`default V;`, `hostnames;`, `volatile;`, `~regex V;`, `~*regex V;`, `\\~literal V;`, `key V;`.
"""

from __future__ import annotations

import re

from hotdeploy.config.model import Template
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.script import MapConfig
from hotdeploy.config.variables import KNOWN_VARIABLES, compile_template


def _wildcard_key(node: Node, key: str) -> tuple[str, str] | None:
    """("head"|"tail", lookup key) for a `hostnames` mask, None for a plain name."""
    if key.startswith("*."):
        return "head", key[1:]
    if key.startswith("."):
        return "head", key
    if key.endswith(".*"):
        return "tail", key[:-1]
    if "*" in key:
        raise node.error(f'invalid hostname or wildcard "{key}"')
    return None


class _MapBuilder:
    def __init__(self, node: Node) -> None:
        source, target = node.args
        if not target.startswith("$") or len(target) < 2:
            raise node.error(f'invalid variable name "{target}"')
        self.target = target[1:].lower()
        if self.target in KNOWN_VARIABLES:
            raise node.error(f'the duplicate "{self.target}" variable')
        self.source = compile_template(source, node.source)
        self.exact: dict[str, Template] = {}
        self.head: dict[str, Template] = {}
        self.tail: dict[str, Template] = {}
        self.regexes: list[tuple[re.Pattern[str], Template]] = []
        self.default: Template | None = None
        self.hostnames = False
        self.volatile = False

    def line(self, node: Node) -> None:
        words = [node.name, *node.args]
        if words == ["hostnames"]:
            self.hostnames = True
            return
        if words == ["volatile"]:
            self.volatile = True
            return
        if len(words) != 2:
            raise node.error("invalid number of the map parameters")
        key, raw_value = words
        value = compile_template(raw_value, node.source)
        if key == "default":
            if self.default is not None:
                raise node.error("duplicate default map parameter")
            self.default = value
            return
        if key.startswith("~"):
            caseless = key.startswith("~*")
            self.regexes.append((compile_regex(node, key[2 if caseless else 1:], caseless),
                                 value))
            return
        if key.startswith("\\"):
            key = key[1:]  # "\~x" and "\default" are literal keys
        self._add(node, key.lower(), value)

    def _add(self, node: Node, key: str, value: Template) -> None:
        table, lookup = self.exact, key
        if self.hostnames:
            wildcard = _wildcard_key(node, key)
            if wildcard is not None:
                kind, lookup = wildcard
                table = self.head if kind == "head" else self.tail
                if key.startswith("."):  # ".x.com" also matches "x.com" itself
                    self._put(node, self.exact, key[1:], value, key)
        if lookup in table:
            raise node.error(f'conflicting parameter "{key}"')
        table[lookup] = value

    @staticmethod
    def _put(node: Node, table: dict[str, Template], lookup: str, value: Template,
             key: str) -> None:
        if lookup in table:
            raise node.error(f'conflicting parameter "{key}"')
        table[lookup] = value

    def build(self) -> MapConfig:
        return MapConfig(self.target, self.source, self.exact, self.head, self.tail,
                         tuple(self.regexes), self.default, self.hostnames, self.volatile)


def parse_map(node: Node, maps: dict[str, MapConfig]) -> None:
    assert node.children is not None
    builder = _MapBuilder(node)
    for child in node.children:
        builder.line(child)
    if builder.target in maps:
        # nginx: the second map of a variable is refused when the variable is added again.
        raise node.error(f'the duplicate "{builder.target}" variable')
    maps[builder.target] = builder.build()
