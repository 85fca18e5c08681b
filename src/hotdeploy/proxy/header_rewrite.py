"""proxy_redirect, proxy_cookie_domain and proxy_cookie_path applied to an upstream response's
Location, Refresh and Set-Cookie headers, as ngx_http_proxy_module rewrites them.

- proxy_redirect: the first rule that matches wins. A string rule matches a prefix of the
  value (case-sensitive) and replaces that prefix; a regex rule is searched in the value and
  replaces all of it. In Refresh, only what follows `url=` is looked at. `default` is
  `proxy_redirect <proxy_pass URL> <location>` (without a URI part: `<URL>/ /`).
- A Location that a rule rewrote to a relative `/...` is made absolute with the request's
  host and the server port (nginx's header filter, absolute_redirect and port_in_redirect
  being on by default). A Location no rule matched is passed as it came.
- Cookies: the `domain=` value matches a string rule whole and case-insensitively (leading
  dots ignored), the `path=` value by prefix as a redirect does; regexes replace the value.

Only responses that carry one of these headers pay anything: the plan lists their names among
the headers the fast head builder takes out of its loop.
"""

from __future__ import annotations

from typing import Any

from hotdeploy.config.model import HeaderRewrite, LocationConfig, ProxySettings, Template
from hotdeploy.config.variables import compile_template

Rule = tuple[str, Any, Any]  # ("prefix", pattern Template, replacement Template)
#                              ("regex", compiled regex, pieces: str | Template | int)


def _compile(rule: HeaderRewrite) -> Rule:
    if rule.kind == "regex":
        pieces = tuple(p if isinstance(p, int) else compile_template(p) for p in rule.pieces)
        return ("regex", rule.regex, pieces)
    return ("prefix", rule.pattern, rule.replacement)


def _default(location: LocationConfig) -> Rule | None:
    pp = location.proxy_pass
    if pp is None:
        return None
    if pp.template is not None:
        # nginx takes the URL of a proxy_pass with variables as literal text here (the
        # default rule is not evaluated), so it matches only a Location holding "$...".
        return ("prefix", Template(pp.raw + "/", (pp.raw + "/",)), compile_template("/"))
    if pp.uri is not None:
        return ("prefix", compile_template(pp.raw), compile_template(location.path))
    return ("prefix", compile_template(pp.raw + "/"), compile_template("/"))


def _render_pieces(pieces: tuple[Any, ...], match: Any, req: Any) -> str:
    out = []
    for piece in pieces:
        if isinstance(piece, int):
            group = match.group(piece) if piece <= (match.re.groups or 0) else None
            out.append(group or "")
        else:
            out.append(piece.render(req))
    return "".join(out)


def _replace(rules: tuple[Rule, ...], value: str, start: int, req: Any,
             whole: bool = False) -> str | None:
    """The value with its part from `start` rewritten by the first matching rule, or None.
    `whole`: a string rule must match the entire part, case-insensitively (cookie domain)."""
    rest = value[start:]
    for kind, pattern, replacement in rules:
        if kind == "regex":
            # A cookie domain's regex sees (and replaces) the value with its leading dot.
            begin = 0 if whole else start
            match = pattern.search(value[begin:])
            if match is not None:
                return value[:begin] + _render_pieces(replacement, match, req)
            continue
        text = pattern.render(req)
        if whole:
            if rest.lower() == text.lower().lstrip("."):
                return value[:start] + replacement.render(req)
        elif rest.startswith(text):
            return value[:start] + replacement.render(req) + rest[len(text):]
    return None


class LocationRewrites:
    """The rewrite rules of one location, compiled once per configuration."""

    def __init__(self, redirects: tuple[Rule, ...], domains: tuple[Rule, ...],
                 paths: tuple[Rule, ...]) -> None:
        self.redirects = redirects
        self.domains = domains
        self.paths = paths
        names = set()
        if redirects:
            names |= {b"location", b"refresh"}
        if domains or paths:
            names.add(b"set-cookie")
        self.names = frozenset(names)

    def apply(self, lname: bytes, raw: bytes, req: Any) -> bytes:
        value = raw.decode("latin-1")
        if lname == b"location":
            out = _replace(self.redirects, value, 0, req)
            if out is not None and out.startswith("/"):
                out = _absolute(out, req)
        elif lname == b"refresh":
            at = value.lower().find("url=")
            out = _replace(self.redirects, value, at + 4, req) if at >= 0 else None
        else:
            out = self._cookie(value, req)
        return raw if out is None else out.encode("latin-1", "replace")

    def _cookie(self, value: str, req: Any) -> str | None:
        changed = False
        parts = value.split(";")
        for i, part in enumerate(parts[1:], 1):
            name, eq, attr = part.partition("=")
            key = name.strip().lower()
            if not eq or key not in ("domain", "path"):
                continue
            lead = len(attr) - len(attr.lstrip())
            body = attr.strip()
            if key == "domain" and self.domains:
                dot = 1 if body.startswith(".") else 0
                new = _replace(self.domains, body, dot, req, whole=True)
            elif key == "path" and self.paths:
                new = _replace(self.paths, body, 0, req)
            else:
                new = None
            if new is not None:
                parts[i] = f"{name}={attr[:lead]}{new}"
                changed = True
        return ";".join(parts) if changed else None


def _absolute(location: str, req: Any) -> str:
    host = req.host or req.server_addr
    port = "" if req.server_port == 80 else f":{req.server_port}"
    return f"http://{host}{port}{location}"


def build(proxy: ProxySettings, location: LocationConfig | None) -> LocationRewrites | None:
    """The location's rules, or None when it has none (proxy_redirect off, no cookie rules)."""
    if location is None or location.proxy_pass is None:
        return None
    redirects: list[Rule] = []
    for rule in proxy.redirects if proxy.redirects is not None else (HeaderRewrite("default"),):
        compiled = _default(location) if rule.kind == "default" else _compile(rule)
        if compiled is not None:
            redirects.append(compiled)
    domains = tuple(_compile(r) for r in proxy.cookie_domains)
    paths = tuple(_compile(r) for r in proxy.cookie_paths)
    if not (redirects or domains or paths):
        return None
    return LocationRewrites(tuple(redirects), domains, paths)

