"""Read nginx configuration text into a tree of directives, as ngx_conf_parse does.

Tokens come from crossplane's lexer; the tree is built here so that errors follow nginx's
rules and wording: brace errors (`unexpected "}"`, `unexpected end of file, expecting "}"`),
the context/arity checks of ngx_conf_handler, and `include` expanded in place, in the context
where it appears, relative to the configuration prefix (the main file's directory).
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from crossplane.lexer import _lex_file_object  # the file-object lexer; `lex()` wants a path

from hotdeploy.config.directives import (
    DIRECTIVES,
    MAIN,
    RAW_CONTEXTS,
    TYPES,
    TYPES_ENTRY,
    DirectiveSpec,
)
from hotdeploy.config.model import Source
from hotdeploy.errors import ConfigError

COMMAND_LINE = "command line"  # nginx's "file" name for -g directives
_MAX_INCLUDE_DEPTH = 32  # nginx has no limit but recursion would exhaust file descriptors
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "t": "\t", "r": "\r", "n": "\n"}


@dataclass(slots=True)
class Node:
    """One directive: `name args... ;` or `name args... { children }`."""

    name: str
    args: list[str]
    file: str
    line: int | None
    children: list[Node] | None = None  # None for a simple directive
    end_line: int | None = None  # line of a block's closing "}" (nginx reports some errors there)

    @property
    def source(self) -> Source:
        return Source(self.file, self.line or 0)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, self.file, self.line)


@dataclass(slots=True)
class ReadState:
    """Files read so far, in order, with their text (for `-T`)."""

    conf_prefix: str
    texts: dict[str, str] = field(default_factory=dict)
    depth: int = 0


def _unescape(word: str) -> str:
    # nginx applies these escapes to every word, quoted or not (ngx_conf_read_token).
    if "\\" not in word:
        return word
    out: list[str] = []
    i = 0
    while i < len(word):
        ch = word[i]
        if ch == "\\" and i + 1 < len(word) and word[i + 1] in _ESCAPES:
            out.append(_ESCAPES[word[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


Token = tuple[str, int, bool]


def _tokens(text: str) -> Iterator[Token]:
    for token, line, quoted in _lex_file_object(io.StringIO(text)):
        if not quoted and token.startswith("#"):
            continue
        yield token, line, quoted


def _find_spec(name: str, ctx: str, file: str, line: int | None) -> DirectiveSpec:
    if ctx == TYPES:
        # ngx_http_core_type: a MIME type line (`include` is the one directive nginx runs
        # here; it would be read as a type named "include" otherwise).
        return DIRECTIVES["include"][0] if name == "include" else TYPES_ENTRY
    specs = DIRECTIVES.get(name)
    if specs is None:
        raise ConfigError(f'unknown directive "{name}"', file, line)
    for spec in specs:
        if ctx in spec.contexts:
            return spec
    raise ConfigError(f'"{name}" directive is not allowed here', file, line)


def _check(node: Node, spec: DirectiveSpec, terminator: str) -> None:
    if spec.block and terminator != "{":
        raise node.error(f'directive "{node.name}" has no opening "{{"')
    if not spec.block and terminator != ";":
        raise node.error(f'directive "{node.name}" is not terminated by ";"')
    if not spec.min_args <= len(node.args) <= spec.max_args:
        raise node.error(f'invalid number of arguments in "{node.name}" directive')


class _Parser:
    def __init__(self, state: ReadState, file: str, text: str) -> None:
        self.state = state
        self.file = file
        self.text = text
        self.tokens = _tokens(text)

    def _eof_line(self) -> int | None:
        if self.file == COMMAND_LINE:
            return None
        return self.text.count("\n") + 1

    def parse(self, ctx: str, in_block: bool, owner: Node | None = None) -> list[Node]:
        nodes: list[Node] = []
        words: list[str] = []
        first_line: int | None = None
        for token, line, quoted in self.tokens:
            line_no = None if self.file == COMMAND_LINE else line
            if quoted or token not in ("{", "}", ";"):
                if not words:
                    first_line = line_no
                words.append(_unescape(token))
                continue
            if token == "}":
                if words or not in_block:
                    raise ConfigError('unexpected "}"', self.file, line_no)
                if owner is not None:
                    owner.end_line = line_no
                return nodes
            if not words:
                raise ConfigError(f'unexpected "{token}"', self.file, line_no)
            nodes.extend(self._directive(words, first_line, token, ctx))
            words = []
        if in_block:
            raise ConfigError('unexpected end of file, expecting "}"', self.file, self._eof_line())
        if words:
            raise ConfigError(
                'unexpected end of file, expecting ";" or "}"', self.file, self._eof_line()
            )
        return nodes

    def _directive(self, words: list[str], line: int | None, term: str, ctx: str) -> list[Node]:
        node = Node(words[0], words[1:], self.file, line)
        if ctx in RAW_CONTEXTS and node.name != "include":
            if term != ";":
                raise ConfigError(f'unexpected "{term}"', self.file, line)
            return [node]  # the block's own handler reads these words (e.g. map keys)
        spec = _find_spec(node.name, ctx, self.file, line)
        _check(node, spec, term)
        if node.name == "include":
            return include(node, ctx, self.state)
        if spec.block:
            assert spec.opens is not None
            node.children = self.parse(spec.opens, in_block=True, owner=node)
        return [node]


def _included_files(node: Node, state: ReadState) -> list[str]:
    pattern = node.args[0]
    if not os.path.isabs(pattern):
        pattern = os.path.join(state.conf_prefix, pattern)
    if glob.has_magic(pattern):
        # A pattern that matches nothing is fine for nginx; matches are read in sorted order.
        return sorted(glob.glob(pattern))
    return [pattern]


def include(node: Node, ctx: str, state: ReadState) -> list[Node]:
    """Expand `include` in place: nginx parses the file(s) in the including context."""
    if state.depth >= _MAX_INCLUDE_DEPTH:
        raise node.error(f'too deep include of "{node.args[0]}"')
    nodes: list[Node] = []
    for path in _included_files(node, state):
        text = read_text(path, node)
        state.texts.setdefault(path, text)
        state.depth += 1
        try:
            nodes.extend(_Parser(state, path, text).parse(ctx, in_block=False))
        finally:
            state.depth -= 1
    return nodes


def read_text(path: str, by: Node | None) -> str:
    """A file's text; failures read like nginx's `open() "/x" failed (2: No such file...)`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError as exc:
        message = f'open() "{path}" failed ({exc.errno}: {exc.strerror})'
        if by is None:
            raise ConfigError(message) from exc
        raise by.error(message) from exc


def parse_text(text: str, file: str, state: ReadState, ctx: str = MAIN) -> list[Node]:
    """Parse one file's (or the -g string's) text in `ctx` and return its directives."""
    if file != COMMAND_LINE:
        state.texts.setdefault(file, text)
    return _Parser(state, file, text).parse(ctx, in_block=False)
