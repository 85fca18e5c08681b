"""Parsing the rewrite module's directives (`rewrite`, `return`, `set`, `if`, `break`) into
script drafts, with ngx_http_rewrite_module's checks and messages.

A server or location collects its directives in order (`ScriptDraft`); `if` blocks are drafts
of their own (`IfDraft`) because the implicit location of an `if` in a location is built only
when the settings are merged (config.http), like every other location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hotdeploy.config import settings
from hotdeploy.config import values as v
from hotdeploy.config.model import LocationConfig, Return, Template, Var
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.script import (
    Break,
    Condition,
    If,
    Op,
    ReturnOp,
    Rewrite,
    Script,
    SetVar,
)
from hotdeploy.config.variables import KNOWN_VARIABLES, compile_template, is_capture

if TYPE_CHECKING:
    from collections.abc import Callable

SCRIPT_DIRECTIVES = frozenset({"rewrite", "return", "set", "if", "break"})
_FLAGS = {"last": 0, "break": 0, "redirect": 302, "permanent": 301}
_REDIRECT_PREFIXES = ("http://", "https://", "$scheme")
# Built-in variables `set` may assign (ngx_http_core_variables marks them CHANGEABLE).
_CHANGEABLE = frozenset({"args"})


@dataclass(slots=True)
class IfDraft:
    node: Node
    condition: Condition
    body: ScriptDraft
    in_location: bool
    level: v.Level = field(default_factory=v.Level)
    proxy_pass: object = None  # locations.ProxyPassRef, resolved with the other ones


@dataclass(slots=True)
class ScriptDraft:
    ops: list[Op | IfDraft] = field(default_factory=list)


def parse_return_args(node: Node) -> Return:
    """`return code [text|URL];` / `return URL;` (ngx_http_rewrite_return)."""
    first = node.args[0]
    if len(node.args) == 1 and first.startswith(_REDIRECT_PREFIXES):
        return Return(302, compile_template(first, node.source))
    if not first.isdigit() or int(first) > 999:
        raise node.error(f'invalid return code "{first}"')
    code = int(first)
    text = compile_template(node.args[1], node.source) if len(node.args) == 2 else None
    return Return(code, text)


def _split_args(template: Template) -> tuple[Template, Template | None]:
    """Split a replacement at its first literal `?` (nginx: the arguments start there; a `?`
    inside a variable's value stays in the URI)."""
    for i, part in enumerate(template.parts):
        if isinstance(part, str) and "?" in part:
            before, _, after = part.partition("?")
            uri_parts = (*template.parts[:i], *((before,) if before else ()))
            arg_parts = (*((after,) if after else ()), *template.parts[i + 1:])
            raw_uri, _, raw_args = template.raw.partition("?")
            return Template(raw_uri, tuple(uri_parts)), Template(raw_args, tuple(arg_parts))
    return template, None


def parse_rewrite(node: Node) -> Rewrite:
    pattern, replacement = node.args[0], node.args[1]
    if not replacement:
        raise node.error("empty replacement")
    regex = compile_regex(node, pattern)
    status = 302 if replacement.startswith(_REDIRECT_PREFIXES) else 0
    flag = ""
    if len(node.args) == 3:
        flag = node.args[2]
        if flag not in _FLAGS:
            raise node.error(f'invalid parameter "{flag}"')
        status = _FLAGS[flag] or status
    add_args = not replacement.endswith("?")
    if not add_args:
        replacement = replacement[:-1]
    template = compile_template(replacement, node.source)
    if status:  # a redirect's Location keeps its `?` (nginx appends with "&" then)
        uri, args = template, (Template("", ()) if "?" in replacement else None)
    else:
        uri, args = _split_args(template)
    return Rewrite(regex, uri, args, flag, status, add_args, node.source)  # type: ignore[arg-type]


def parse_set(node: Node) -> SetVar:
    name = node.args[0]
    if not name.startswith("$") or len(name) < 2:
        raise node.error(f'invalid variable name "{name}"')
    name = name[1:].lower()
    if (name in KNOWN_VARIABLES and name not in _CHANGEABLE) or is_capture(name):
        raise node.error(f'the duplicate "{name}" variable')
    return SetVar(name, compile_template(node.args[1], node.source))


def _variable_name(node: Node, word: str) -> str:
    # The tested variable is a plain `$name` (ngx_http_rewrite_variable), not a complex value.
    name = word[1:]
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    template = compile_template("$" + name, node.source)  # unknown variables fail here
    part = template.parts[0] if len(template.parts) == 1 else None
    if not isinstance(part, Var):
        raise node.error(f'invalid condition "{word}"')
    return part.name


def parse_condition(node: Node) -> Condition:
    """The words of `if (...)` as ngx_http_rewrite_if_condition reads them."""
    words = list(node.args)
    raw = " ".join(words)
    if not words[0].startswith("("):
        raise node.error(f'invalid condition "{words[0]}"')
    if words[0] == "(":
        words = words[1:]
    else:
        words[0] = words[0][1:]
    if not words or not words[-1].endswith(")"):
        raise node.error(f'invalid condition "{(words or node.args)[-1]}"')
    if words[-1] == ")":
        words = words[:-1]
    else:
        words[-1] = words[-1][:-1]
    if not words:
        raise node.error(f'invalid condition "{node.args[0]}"')
    first = words[0]
    if len(first) > 1 and first.startswith("$"):
        if len(words) not in (1, 3):
            raise node.error(f'invalid condition "{first}"')
        name = _variable_name(node, first)
        if len(words) == 1:
            return Condition("truth", name, raw=raw)
        op, operand = words[1], words[2]
        if op in ("=", "!="):
            return Condition(op, name, compile_template(operand, node.source), raw=raw)
        if op in ("~", "~*", "!~", "!~*"):
            regex = compile_regex(node, operand, caseless=op.endswith("*"))
            return Condition("!~" if op.startswith("!") else "~", name, regex=regex, raw=raw)
        raise node.error(f'unexpected "{op}" in condition')
    if first in ("-f", "-d", "-e", "-x", "!-f", "!-d", "!-e", "!-x"):
        if len(words) != 2:
            raise node.error(f'invalid condition "{first}"')
        return Condition(first, value=compile_template(words[1], node.source),  # type: ignore[arg-type]
                         raw=raw)
    raise node.error(f'invalid condition "{first}"')


def parse_script_directive(child: Node, script: ScriptDraft, env: settings.Env,
                           in_location: bool,
                           location_directive: Callable[[Node, IfDraft], bool]) -> bool:
    """Add `child` to `script` if it is a rewrite module directive; False if it is not.
    `location_directive` takes what an `if` in a location may hold besides the script
    (proxy_pass; settings are applied here)."""
    name = child.name
    if name == "rewrite":
        script.ops.append(parse_rewrite(child))
    elif name == "return":
        script.ops.append(ReturnOp(parse_return_args(child)))
    elif name == "set":
        script.ops.append(parse_set(child))
    elif name == "break":
        script.ops.append(Break())
    elif name == "if":
        script.ops.append(parse_if(child, env, in_location, location_directive))
    else:
        return False
    return True


def parse_if(node: Node, env: settings.Env, in_location: bool,
             location_directive: Callable[[Node, IfDraft], bool]) -> IfDraft:
    assert node.children is not None
    draft = IfDraft(node, parse_condition(node), ScriptDraft(), in_location)
    for child in node.children:
        if parse_script_directive(child, draft.body, env, in_location, location_directive):
            continue
        if in_location and location_directive(child, draft):
            continue
        # The directive table lets only if-context directives through; settings remain.
        if not settings.apply(child, draft.level, env):
            raise child.error(f'"{child.name}" directive is not allowed here')
    return draft


def build_script(draft: ScriptDraft, make_location: Callable[[IfDraft], LocationConfig | None],
                 log: bool) -> Script:
    """The frozen script; `make_location` builds the implicit location of an `if` draft."""
    ops: list[Op] = []
    for op in draft.ops:
        if isinstance(op, IfDraft):
            body = build_script(op.body, make_location, log)
            ops.append(If(op.condition, body, make_location(op) if op.in_location else None))
        else:
            ops.append(op)
    return Script(tuple(ops), log)


def uses_captures(template: Template | None, named: frozenset[str]) -> bool:
    """True when `template` reads `$1`..`$9` or one of the `named` captures."""
    if template is None:
        return False
    return any(isinstance(p, Var) and (is_capture(p.name) or p.name in named)
               for p in template.parts)


def needs_script(draft: ScriptDraft, regex_groups: frozenset[str] | None) -> bool:
    """False when the directives are at most a leading `return` whose text does not read the
    captures of the location's own regex: such a location keeps the plain `return` path."""
    if not draft.ops:
        return False
    first = draft.ops[0]
    if not isinstance(first, ReturnOp):
        return True
    return regex_groups is not None and uses_captures(first.ret.text, regex_groups)


# A named group in a PCRE pattern: (?<name>...), (?P<name>...), (?'name'...).
_NAMED_GROUP = re.compile(r"\(\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")
# Directives whose arguments may hold regexes with named captures.
_REGEX_BEARING = frozenset({"rewrite", "location", "if", "server_name"})


def named_groups(pattern: str) -> set[str]:
    return {(a or b).lower() for a, b in _NAMED_GROUP.findall(pattern)}


def set_names(nodes: list[Node]) -> frozenset[str]:
    """The variables `set` directives under `nodes` assign (uninitialized_variable_warn)."""
    found: set[str] = set()
    for node in nodes:
        if node.name == "set" and node.args and node.args[0].startswith("$"):
            found.add(node.args[0][1:].lower())
        elif node.children and node.name != "map":
            found |= set_names(node.children)
    return frozenset(found)


def declared_names(nodes: list[Node]) -> frozenset[str]:
    """Every variable the configuration declares under `nodes`: `set $x`, `map ... $x` and the
    named captures of its regexes. nginx adds them while parsing and checks the uses once the
    whole configuration is read, so a use may come before the declaration."""
    found: set[str] = set()
    for node in nodes:
        if node.name == "set" and node.args and node.args[0].startswith("$"):
            found.add(node.args[0][1:].lower())
        elif node.name == "map" and len(node.args) == 2 and node.args[1].startswith("$"):
            found.add(node.args[1][1:].lower())
            for line in node.children or ():
                if line.name.startswith("~"):
                    found |= named_groups(line.name)
        elif node.name in _REGEX_BEARING:
            for arg in node.args:
                found |= named_groups(arg)
        if node.children and node.name != "map":
            found |= declared_names(node.children)
    return frozenset(found)
