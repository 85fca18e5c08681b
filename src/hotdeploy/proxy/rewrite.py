"""Running the rewrite module's scripts for a request, as nginx's phases do. Pure: no I/O
besides the `if (-f ...)` file tests (a stat), no asyncio.

Order (ngx_http_core_module phases): the server's script (SERVER_REWRITE) runs before the
location search; then the location's (REWRITE). A changed URI (`rewrite ... last`, or a
rewrite without flag that changed it) searches the location again with the new URI, at most
10 times (then 500, "rewrite or internal redirection cycle"). `break` ends the script and keeps
the location; `return` and redirects end the request's processing with an answer.

The request must offer: `path` ($uri), `args`, `captures`, `vars` (dict or None),
`uri_rewritten`, `runtime` (whose `maps` holds the map tables) and `variable(name)`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

from hotdeploy.config.model import LocationConfig, Return, ServerConfig, Template
from hotdeploy.config.script import Break, Condition, If, MapConfig, ReturnOp, Rewrite, Script

# nginx: NGX_HTTP_MAX_URI_CHANGES (10) changes; the 11th is the cycle error.
MAX_URI_CHANGES = 10

# `req.uri_rewritten`: how the proxied request line is built (proxy.uri.upstream_uri).
URI_KEPT, URI_CHANGED, URI_CHANGED_BREAK = 0, 1, 2

Log = Callable[[str, str], None]  # (level, message)


class Outcome:
    """Where the script left the request: the location whose content applies (an `if`'s
    implicit one, or None for the server), and an answer when the script gave one."""

    __slots__ = ("location", "ret", "status")

    def __init__(self, location: LocationConfig | None, ret: Return | None = None,
                 status: int = 0) -> None:
        self.location = location
        self.ret = ret
        self.status = status  # 500: an internal error (cycle, empty URI)


class _State:
    __slots__ = ("location", "ret", "status", "uri_changed")

    def __init__(self, location: LocationConfig | None) -> None:
        self.location = location
        self.ret: Return | None = None
        self.status = 0
        self.uri_changed = False


def _constant(text: str) -> Template:
    return Template(text, (text,))


# NGX_ESCAPE_ARGS: space # % & + ; ? besides controls and bytes >= 0x7f.
_ARGS_UNSAFE = frozenset(b" #%&+;?")


def escape_args(text: str) -> str:
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(f"%{b:02X}" if b < 0x21 or b >= 0x7F or b in _ARGS_UNSAFE else chr(b)
                   for b in raw)


def _quoted_request(req: Any) -> bool:
    """nginx's quoted_uri / plus_in_uri: the client's path had `%XX` or `+`."""
    path = req.raw_uri.partition("?")[0]
    return "%" in path or "+" in path


def _render(template: Template, req: Any, escape_captures: bool) -> str:
    """A replacement; `$1`..`$9` escaped as arguments when `escape_captures` (nginx's
    ngx_http_script_copy_capture_code, for the arguments part and for redirects)."""
    if not escape_captures:
        return template.render(req)
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif len(part.name) == 1 and "1" <= part.name <= "9":
            out.append(escape_args(req.variable(part.name)))
        else:
            out.append(req.variable(part.name))
    return "".join(out)


def unescape_redirect(text: str) -> str:
    """NGX_UNESCAPE_REDIRECT up to the first `?`: `%XX` of a printable character above `%`
    is decoded, the others (space, controls, `%`, `#`, `"`, ...) stay escaped."""
    head, mark, tail = text.partition("?")
    if "%" not in head:
        return text
    out = []
    i = 0
    while i < len(head):
        ch = head[i]
        if ch == "%" and _is_hex(head[i + 1:i + 3]):
            value = int(head[i + 1:i + 3], 16)
            if 0x25 < value < 0x7F:
                out.append(chr(value))
                i += 3
                continue
        out.append(ch)
        i += 1
    return "".join(out) + mark + tail


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def set_captures(req: Any, match: Any) -> None:
    """A successful regex match: `$1`..`$9` and the named captures are its groups now."""
    req.captures = (match.group(0), *(g or "" for g in match.groups()))
    names = match.re.groupindex
    if names:
        if req.vars is None:
            req.vars = {}
        for name in names:
            req.vars[name.lower()] = match.group(name) or ""


def _file_test(op: str, path: str) -> bool:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        found = False
    else:
        kind = op.lstrip("!")
        if kind == "-f":
            found = stat.S_ISREG(info.st_mode)
        elif kind == "-d":
            found = stat.S_ISDIR(info.st_mode)
        elif kind == "-x":
            found = bool(info.st_mode & stat.S_IXUSR)  # nginx's ngx_is_exec
        else:
            found = True  # -e: file, directory or link target
    return not found if op.startswith("!") else found


def test_condition(cond: Condition, req: Any, log: Log | None) -> bool:
    op = cond.op
    if op == "truth":
        value = req.variable(cond.variable)
        return value != "" and value != "0"
    if op in ("=", "!="):
        assert cond.value is not None
        equal = req.variable(cond.variable) == cond.value.render(req)
        return equal if op == "=" else not equal
    if op in ("~", "!~"):
        assert cond.regex is not None
        subject = req.variable(cond.variable)
        match = cond.regex.search(subject)
        if log is not None:
            verdict = "matches" if match else "does not match"
            log("notice", f'"{cond.regex.pattern}" {verdict} "{subject}"')
        if match is not None:
            set_captures(req, match)
        return (match is not None) == (op == "~")
    assert cond.value is not None
    return _file_test(op, cond.value.render(req))


def _rewrite(op: Rewrite, req: Any, st: _State, log: Log | None) -> bool:
    """One `rewrite`; True when it ends the script."""
    match = op.regex.search(req.path)
    if log is not None:
        verdict = "matches" if match else "does not match"
        log("notice", f'"{op.regex.pattern}" {verdict} "{req.path}"')
    if match is None:
        return False
    set_captures(req, match)
    quoted = _quoted_request(req)
    if op.status:
        target = unescape_redirect(_render(op.uri, req, quoted))
        if op.add_args and req.args:
            target += ("&" if op.args is not None else "?") + req.args
        if log is not None:
            log("notice", f'rewritten redirect: "{target}"')
        st.ret = Return(op.status, _constant(target))
        return True
    uri = op.uri.render(req)
    if op.args is not None:
        args = _render(op.args, req, quoted)
        if op.add_args and req.args:
            args += "&" + req.args
    else:
        args = req.args if op.add_args else ""
    if not uri:
        if log is not None:
            log("error", "the rewritten URI has a zero length")
        st.status = 500
        return True
    req.path, req.args = uri, args
    if log is not None:
        log("notice", f'rewritten data: "{uri}", args: "{args}"')
    if op.flag == "break":
        req.uri_rewritten = URI_CHANGED_BREAK
        st.uri_changed = False
        return True
    if req.uri_rewritten == URI_KEPT:
        req.uri_rewritten = URI_CHANGED
    st.uri_changed = True
    return op.flag == "last"


def run_script(script: Script, req: Any, st: _State, log: Log | None) -> bool:
    """Run the directives in order; True when one ended the script (last, break, return)."""
    notices = log if script.log else None
    for op in script.ops:
        if isinstance(op, Rewrite):
            if _rewrite(op, req, st, notices):
                return True
        elif isinstance(op, If):
            if test_condition(op.condition, req, notices):
                if op.location is not None:
                    st.location = op.location
                if run_script(op.body, req, st, log):
                    return True
        elif isinstance(op, ReturnOp):
            text = op.ret.text.render(req) if op.ret.text is not None else None
            st.ret = Return(op.ret.code, _constant(text) if text is not None else None)
            return True
        elif isinstance(op, Break):
            st.uri_changed = False
            return True
        else:  # SetVar
            value = op.value.render(req)
            if op.name == "args":
                req.args = value
                if req.uri_rewritten == URI_KEPT:
                    req.uri_rewritten = URI_CHANGED  # nginx then sends the new arguments
            else:
                if req.vars is None:
                    req.vars = {}
                req.vars[op.name] = value
    return False


def process(req: Any, server: ServerConfig,
            find_location: Callable[[ServerConfig, str], LocationConfig | None],
            log: Log | None) -> Outcome:
    """The server's script, then location search and the location's script, repeated while
    the URI changes (see the module doc)."""
    if server.rewrites is not None:
        for regex in server.rewrites.host_regexes:
            match = regex.search(req.host)
            if match is not None:
                set_captures(req, match)
                break
        st = _State(None)
        run_script(server.rewrites, req, st, log)
        if st.ret is not None or st.status:
            return Outcome(None, st.ret, st.status)
    changes = MAX_URI_CHANGES + 1
    while True:
        location = find_location(server, req.path)
        if location is None or location.rewrites is None:
            return Outcome(location)
        if location.regex is not None:
            match = location.regex.search(req.path)
            if match is not None:
                set_captures(req, match)
        st = _State(location)
        run_script(location.rewrites, req, st, log)
        if st.ret is not None or st.status or not st.uri_changed:
            return Outcome(st.location, st.ret, st.status)
        changes -= 1
        if changes == 0:
            if log is not None:
                log("error", f'rewrite or internal redirection cycle while processing '
                             f'"{req.path}"')
            return Outcome(st.location, None, 500)


# --------------------------------------------------------------------------------------------
# map and the variables the rewrite module adds
# --------------------------------------------------------------------------------------------


def _longest_head(table: dict[str, Template], key: str) -> Template | None:
    i = key.find(".")
    while i >= 0:
        found = table.get(key[i:])
        if found is not None:
            return found
        i = key.find(".", i + 1)
    return None


def _longest_tail(table: dict[str, Template], key: str) -> Template | None:
    i = key.rfind(".")
    while i >= 0:
        found = table.get(key[: i + 1])
        if found is not None:
            return found
        i = key.rfind(".", 0, i)
    return None


def map_value(table: MapConfig, req: Any) -> str:
    """nginx's ngx_http_map_find: exact (case-insensitive), masks, regexes, default."""
    key = table.source.render(req)
    lookup = key.lower()
    if table.hostnames and lookup.endswith("."):
        lookup = lookup[:-1]
    found = table.exact.get(lookup)
    if found is None and table.hostnames and lookup:
        found = _longest_head(table.head, lookup) if table.head else None
        if found is None and table.tail:
            found = _longest_tail(table.tail, lookup)
    if found is None:
        for regex, value in table.regexes:
            match = regex.search(key)
            if match is not None:
                set_captures(req, match)
                found = value
                break
    if found is None:
        found = table.default
    return found.render(req) if found is not None else ""


def script_variable(req: Any, name: str) -> str:
    """`$1`..`$9`, a `set` variable, a named capture or a map target; "" when none."""
    if len(name) == 1 and "1" <= name <= "9":
        captures = req.captures
        index = int(name)
        return captures[index] if index < len(captures) else ""
    values = req.vars
    if values is not None:
        value = values.get(name)
        if value is not None:
            return value
    runtime = req.runtime
    maps = runtime.maps if runtime is not None else None
    table = maps.get(name) if maps else None
    if table is None:
        if runtime is not None and name in runtime.set_names:
            runtime.uninitialized(req, name)
        return ""
    value = map_value(table, req)
    if not table.volatile:  # nginx caches a map's value for the request unless volatile
        if req.vars is None:
            req.vars = {}
        req.vars[name] = value
    return value
