"""`location` blocks: modifiers, nesting rules and the location-only directives
(proxy_pass, return, health_check, api, metrics), as ngx_http_core_location checks them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hotdeploy.config import settings
from hotdeploy.config import values as v
from hotdeploy.config.addresses import split_host_port, valid_port
from hotdeploy.config.health import HealthCheckDraft, parse_api, parse_health_check
from hotdeploy.config.model import Template
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.rewrite import (
    SCRIPT_DIRECTIVES,
    IfDraft,
    ScriptDraft,
    parse_script_directive,
)
from hotdeploy.config.variables import compile_template

_MODIFIERS = ("=", "^~", "~*", "~")  # longest first for the joined form `location ~*\.php`


@dataclass(slots=True)
class ProxyPassRef:
    """A `proxy_pass` target before upstream resolution (done at the end of `http`)."""

    node: Node
    host: str
    port: int | None  # None: written without a port
    uri: str | None
    authority: str  # host[:port] as written: the value of $proxy_host
    https: bool = False  # `proxy_pass https://`
    template: Template | None = None  # with variables: the URL, evaluated per request


@dataclass(slots=True)
class LocationDraft:
    node: Node
    modifier: str
    path: str
    regex: re.Pattern[str] | None
    level: v.Level = field(default_factory=v.Level)
    proxy_pass: ProxyPassRef | None = None
    script: ScriptDraft = field(default_factory=ScriptDraft)  # rewrite module, return
    health_checks: list[HealthCheckDraft] = field(default_factory=list)
    api_write: bool | None = None
    metrics: bool = False
    stub_status: bool = False
    children: list[LocationDraft] = field(default_factory=list)


def _modifier(node: Node) -> tuple[str, str]:
    if len(node.args) == 2:
        mod, path = node.args
        if mod not in _MODIFIERS:
            raise node.error(f'invalid location modifier "{mod}"')
        return mod, path
    arg = node.args[0]
    if arg.startswith("@"):
        return "@", arg
    for mod in _MODIFIERS:
        if arg.startswith(mod) and len(arg) > len(mod):
            return mod, arg[len(mod) :]
    return "", arg


def _check_nesting(node: Node, mod: str, path: str, parent: LocationDraft | None) -> None:
    if parent is None:
        return
    if parent.modifier == "=":
        raise node.error(f'location "{path}" cannot be inside the exact location "{parent.path}"')
    if parent.modifier == "@":
        raise node.error(f'location "{path}" cannot be inside the named location "{parent.path}"')
    if mod == "@":
        raise node.error(f'named location "{path}" can be on the server level only')
    if mod not in ("~", "~*") and not path.startswith(parent.path):
        raise node.error(f'location "{path}" is outside location "{parent.path}"')


def parse_proxy_pass(node: Node, location: LocationDraft | None) -> ProxyPassRef:
    """`location` is None for a proxy_pass inside `if` (which may have no URI part)."""
    raw = node.args[0]
    if "$" in raw:
        # nginx compiles the URL as a script and parses it per request (its prefix too).
        return ProxyPassRef(node, "", None, None, "", raw[:8].lower() == "https://",
                            compile_template(raw, node.source))
    https = raw[:8].lower() == "https://"
    if raw[:7].lower() != "http://" and not https:
        raise node.error("invalid URL prefix")
    rest = raw[8:] if https else raw[7:]
    slash = rest.find("/")
    authority, uri = (rest, None) if slash < 0 else (rest[:slash], rest[slash:])
    if uri is not None and (location is None or location.modifier in ("~", "~*", "@")):
        raise node.error(
            '"proxy_pass" cannot have URI part in location given by regular expression, '
            'or inside named location, or inside "if" statement, '
            'or inside "limit_except" block'
        )
    try:
        host, port_text = split_host_port(authority)
    except ValueError:
        raise node.error(f'invalid host in upstream "{authority}"') from None
    if not host:
        raise node.error(f'no host in upstream "{authority}"')
    port = None if port_text is None else valid_port(port_text)
    if port_text is not None and port is None:
        raise node.error(f'invalid port in upstream "{authority}"')
    return ProxyPassRef(node, host, port, uri, authority, https)


def _location_directive(child: Node, loc: LocationDraft, env: settings.Env) -> None:
    if child.name == "location":
        loc.children.append(parse_location(child, loc, env))
    elif child.name == "proxy_pass":
        if loc.proxy_pass is not None:
            raise v.duplicate_error(child)
        loc.proxy_pass = parse_proxy_pass(child, loc)
    elif child.name in SCRIPT_DIRECTIVES:
        parse_script_directive(child, loc.script, env, True, _if_directive)
    elif child.name == "health_check":
        loc.health_checks.append(parse_health_check(child))
    elif child.name == "api":
        if loc.api_write is not None:
            raise v.duplicate_error(child)
        loc.api_write = parse_api(child)
    elif child.name == "metrics":
        if loc.metrics:
            raise v.duplicate_error(child)
        loc.metrics = True
    elif child.name == "stub_status":
        # nginx 1.7.5+ takes no argument; the old `stub_status on|off` is still accepted.
        loc.stub_status = True
    elif not settings.apply(child, loc.level, env):
        raise child.error(f'"{child.name}" directive is not allowed here')


def _if_directive(child: Node, draft: IfDraft) -> bool:
    """What an `if` in a location holds besides the rewrite directives and settings."""
    if child.name != "proxy_pass":
        return False
    if draft.proxy_pass is not None:
        raise v.duplicate_error(child)
    draft.proxy_pass = parse_proxy_pass(child, None)
    return True


def check_duplicates(locations: list[LocationDraft]) -> None:
    """nginx: `duplicate location "/a"` (exact and prefix of one path may coexist)."""
    seen: set[tuple[str, str]] = set()
    for loc in locations:
        if loc.modifier in ("~", "~*"):
            continue
        kind = "prefix" if loc.modifier in ("", "^~") else loc.modifier
        if (kind, loc.path) in seen:
            raise loc.node.error(f'duplicate location "{loc.path}"')
        seen.add((kind, loc.path))


def parse_location(node: Node, parent: LocationDraft | None, env: settings.Env) -> LocationDraft:
    assert node.children is not None
    mod, path = _modifier(node)
    _check_nesting(node, mod, path, parent)
    regex = compile_regex(node, path, caseless=mod == "~*") if mod in ("~", "~*") else None
    loc = LocationDraft(node, mod, path, regex)
    for child in node.children:
        _location_directive(child, loc, env)
    check_duplicates(loc.children)
    return loc
