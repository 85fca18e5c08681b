"""proxy_redirect, proxy_cookie_domain, proxy_cookie_path (rewriting upstream response
headers), and the proxy buffer directives, parsed as ngx_http_proxy_module does.

Each of the three rewrite directives is an array: a level that writes none inherits its
parent's, `off` (nginx also takes `false` for proxy_redirect) makes an empty one. A level
where proxy_redirect was never written anywhere uses `default`, resolved per location from
its proxy_pass by the data plane (proxy.header_rewrite).
"""

from __future__ import annotations

import re
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.config import values as v
from hotdeploy.config.model import HeaderRewrite
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.variables import compile_template

_CAPTURE = re.compile(r"\$(\d)|\$\{(\d)\}")
KEYS = {"proxy_redirect": "redirects", "proxy_cookie_domain": "cookie_domains",
        "proxy_cookie_path": "cookie_paths"}
# proxy_ignore_headers: the values nginx knows.
IGNORE_VALUES = frozenset({"x-accel-redirect", "x-accel-expires", "x-accel-limit-rate",
                           "x-accel-buffering", "x-accel-charset", "expires", "cache-control",
                           "set-cookie", "vary"})


def _replacement(node: Node, raw: str, regex: bool) -> tuple[tuple[str | int, ...], Any]:
    """A replacement: for a regex, the text split around `$1`..`$9` (ints) with variables
    compiled; otherwise one template."""
    if not regex:
        return (), compile_template(raw, node.source)
    parts: list[str | int] = []
    last = 0
    for match in _CAPTURE.finditer(raw):
        parts.append(raw[last:match.start()])
        parts.append(int(match.group(1) or match.group(2)))
        last = match.end()
    parts.append(raw[last:])
    # The literal pieces may still hold variables: each is checked like any complex value.
    for piece in parts:
        if isinstance(piece, str):
            compile_template(piece, node.source)
    return tuple(parts), None


def parse_rule(node: Node) -> HeaderRewrite | None:
    """One directive: a rule, or None for `off`."""
    args = node.args
    if len(args) == 1:
        if args[0] == "off" or (node.name == "proxy_redirect" and args[0] == "false"):
            return None
        if node.name == "proxy_redirect" and args[0] == "default":
            return HeaderRewrite("default")
        raise node.error(f'invalid parameter "{args[0]}"')
    pattern, replacement = args
    if pattern.startswith("~"):
        caseless = pattern.startswith("~*")
        source = pattern[2:] if caseless else pattern[1:]
        regex = compile_regex(node, source, caseless=caseless)
        pieces, _ = _replacement(node, replacement, True)
        return HeaderRewrite("regex", regex=regex, pieces=pieces)
    if node.name == "proxy_cookie_domain" and pattern.startswith("."):
        pattern = pattern[1:]  # nginx ignores a leading dot of a cookie domain
    _, template = _replacement(node, replacement, False)
    return HeaderRewrite("prefix", pattern=compile_template(pattern, node.source),
                         replacement=template)


def apply(node: Node, level: v.Level) -> None:
    if node.name in KEYS:
        key = "rewrite." + KEYS[node.name]
        rule = parse_rule(node)
        if rule is None:
            level.touch(key)  # off: an empty list, nothing inherited
        else:
            level.append(key, rule)
    elif node.name == "proxy_ignore_headers":
        for arg in node.args:
            if arg.lower() not in IGNORE_VALUES:  # nginx compares them case-insensitively
                raise node.error(f'invalid value "{arg}"')
        level.set(node, "proxy.ignore_headers",
                  frozenset(a.lower() for a in node.args))
    elif node.name == "proxy_buffers":
        count = node.args[0]
        size = v.size(node, node.args[1])
        if not count.isdigit() or int(count) == 0 or size == 0:
            raise node.error(f'"{node.name}" directive invalid value')
        level.set(node, "proxy.buffers", (int(count), size))
    elif node.name == "proxy_busy_buffers_size":
        level.set(node, "proxy.busy_buffers_size", v.size(node))
    else:  # proxy_max_temp_file_size
        level.set(node, "proxy.max_temp_file_size", v.size(node))


def merge_values(level: v.Level) -> dict[str, Any]:
    """The ProxySettings fields this level sets (arrays replace the parent's as a whole)."""
    return {key: tuple(level.lists["rewrite." + key]) for key in KEYS.values()
            if "rewrite." + key in level.lists}


def check_buffers(proxy: Any) -> str | None:
    """nginx's merge-time checks of the buffer sizes (the same texts), or None."""
    number, size = proxy.buffers
    if number < 2:
        return "there must be at least 2 \"proxy_buffers\""
    busy = proxy.busy_buffers_size or d.PROXY_BUSY_BUFFERS_FACTOR * proxy.buffer_size
    if busy < max(size, proxy.buffer_size):
        return ('"proxy_busy_buffers_size" must be equal to or greater than the maximum of '
                'the value of "proxy_buffer_size" and one of the "proxy_buffers"')
    if busy > (number - 1) * size:
        return ('"proxy_busy_buffers_size" must be less than the size of all '
                '"proxy_buffers" minus one buffer')
    temp = proxy.max_temp_file_size
    if temp is not None and temp != 0 and temp < max(size, proxy.buffer_size):
        return ('"proxy_max_temp_file_size" must be equal to zero to disable temporary '
                'files usage or must be equal to or greater than the maximum of the value '
                'of "proxy_buffer_size" and one of the "proxy_buffers"')
    return None


DIRECTIVE_NAMES = frozenset({*KEYS, "proxy_ignore_headers", "proxy_buffers",
                             "proxy_busy_buffers_size", "proxy_max_temp_file_size"})
