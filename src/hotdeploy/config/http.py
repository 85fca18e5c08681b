"""The `http` block: parse it in order (as nginx does), resolve upstream references at the
end (an upstream may be defined after the proxy_pass that names it), then merge settings
down http -> server -> location into the frozen model."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hotdeploy import defaults as d
from hotdeploy.config import proxy_rewrites, settings, tls
from hotdeploy.config import values as v
from hotdeploy.config.addresses import key_text
from hotdeploy.config.health import HealthCheckDraft, parse_match
from hotdeploy.config.listen import ListenRegistry, default_listen
from hotdeploy.config.locations import LocationDraft, ProxyPassRef
from hotdeploy.config.maps import parse_map
from hotdeploy.config.model import (
    HealthCheckConfig,
    HttpConfig,
    LocationConfig,
    LogFormat,
    MatchConfig,
    ProxyPass,
    Return,
    ServerConfig,
    UpstreamConfig,
    walk_locations,
)
from hotdeploy.config.reader import Node, ReadState
from hotdeploy.config.regex import python_flags, to_python
from hotdeploy.config.rewrite import (
    IfDraft,
    ScriptDraft,
    build_script,
    declared_names,
    needs_script,
    set_names,
    uses_captures,
)
from hotdeploy.config.script import MapConfig, ReturnOp, Script
from hotdeploy.config.servers import ServerDraft, parse_server
from hotdeploy.config.upstream import implicit_upstream, parse_upstream
from hotdeploy.config.variables import compile_template, declared_variables
from hotdeploy.errors import ConfigError

_ESCAPES = ("default", "json", "none")


@dataclass(slots=True)
class _Http:
    env: settings.Env
    state: ReadState
    level: v.Level = field(default_factory=v.Level)
    upstreams: dict[str, UpstreamConfig] = field(default_factory=dict)
    upstream_nodes: dict[str, Node] = field(default_factory=dict)
    matches: dict[str, MatchConfig] = field(default_factory=dict)
    maps: dict[str, MapConfig] = field(default_factory=dict)
    servers: list[ServerDraft] = field(default_factory=list)
    listens: ListenRegistry = field(default_factory=ListenRegistry)


def _log_format(node: Node, formats: dict[str, LogFormat]) -> None:
    name, parts = node.args[0], node.args[1:]
    escape = "default"
    if parts[0].startswith("escape="):
        escape = parts[0][7:]
        if escape not in _ESCAPES:
            raise node.error(f'unknown log format escaping "{escape}"')
        parts = parts[1:]
        if not parts:
            raise node.error(f'invalid number of arguments in "{node.name}" directive')
    if name in formats:
        raise node.error(f'duplicate "log_format" name "{name}"')
    formats[name] = LogFormat(name, compile_template("".join(parts), node.source), escape)


def _http_directive(child: Node, h: _Http) -> None:
    if child.name == "server":
        h.servers.append(parse_server(child, len(h.servers), h.env, h.listens))
    elif child.name == "upstream":
        name = child.args[0]
        if name.lower() in h.upstream_nodes:
            raise child.error(f'duplicate upstream "{name}"')
        h.upstream_nodes[name.lower()] = child
        h.upstreams[name] = parse_upstream(child, h.env, h.state)
    elif child.name == "match":
        if child.args[0] in h.matches:
            raise child.error(f'duplicate match "{child.args[0]}"')
        h.matches[child.args[0]] = parse_match(child)
    elif child.name == "map":
        parse_map(child, h.maps)
    elif child.name == "log_format":
        _log_format(child, h.env.log_formats)
    elif not settings.apply(child, h.level, h.env):
        raise child.error(f'"{child.name}" directive is not allowed here')


# --- upstream references ----------------------------------------------------------------------


class _Resolver:
    """Turns proxy_pass targets into upstream names, as ngx_http_upstream_add does."""

    def __init__(self, h: _Http) -> None:
        self.h = h
        self.by_lower = {name.lower(): name for name in h.upstreams}

    def proxy_pass(self, ref: ProxyPassRef) -> ProxyPass:
        if ref.template is not None:  # resolved per request (proxy/variable_pass.py)
            return ProxyPass(ref.node.args[0], "", "", None, template=ref.template)
        explicit = self.by_lower.get(ref.host.lower())
        if explicit is not None:
            if ref.port is not None:
                raise ref.node.error(f'upstream "{explicit}" may not have port {ref.port}')
            return ProxyPass(ref.node.args[0], explicit, ref.authority, ref.uri,
                             port=d.DEFAULT_UPSTREAM_TLS_PORT if ref.https
                             else d.DEFAULT_UPSTREAM_PORT)
        default_port = d.DEFAULT_UPSTREAM_TLS_PORT if ref.https else d.DEFAULT_UPSTREAM_PORT
        port = ref.port if ref.port is not None else default_port
        name = key_text(ref.host, port)
        if name not in self.h.upstreams:
            self.h.upstreams[name] = implicit_upstream(ref.authority, ref.host, port, ref.node)
        # $proxy_host leaves out the default port of the scheme (ngx_http_proxy_set_vars).
        proxy_host = ref.authority
        if ref.port == default_port:
            proxy_host = ref.authority[: -len(f":{port}")]
        return ProxyPass(ref.node.args[0], name, proxy_host, ref.uri, port=port)


# --- building the model ------------------------------------------------------------------------


def _health_check(draft: HealthCheckDraft, pp: ProxyPass | None, eff: settings.Effective,
                  matches: dict[str, MatchConfig]) -> HealthCheckConfig:
    if pp is None:
        raise draft.node.error('"health_check" requires "proxy_pass" to an upstream group')
    match = None
    if draft.match_name is not None:
        match = matches.get(draft.match_name)
        if match is None:
            raise draft.node.error(f'match "{draft.match_name}" not found')
    proxy = eff.settings.proxy
    host = next((t for n, t in proxy.set_headers if n.lower() == "host"), None)
    return HealthCheckConfig(
        upstream=pp.upstream, match=match, connect_timeout=proxy.connect_timeout,
        read_timeout=proxy.read_timeout, host_header=host, source=draft.node.source,
        **draft.params,
    )


def _reads_captures(eff: settings.Effective, groups: frozenset[str] | None) -> bool:
    """A regex location whose proxy_set_header or add_header values read its captures."""
    if groups is None:
        return False
    templates = [t for _, t in eff.settings.proxy.set_headers]
    templates += [h.value for h in eff.settings.add_headers]
    return any(uses_captures(t, groups) for t in templates)


def _script(draft: ScriptDraft, eff: settings.Effective, groups: frozenset[str] | None,
            make_location: Callable[[IfDraft], LocationConfig | None],
            ) -> tuple[Script | None, Return | None]:
    """(script, None) when the rewrite directives need the script path (or the location's
    captures are read), else (None, the leading `return` or None): a lone `return` keeps the
    request path it always had."""
    if needs_script(draft, groups) or _reads_captures(eff, groups):
        return build_script(draft, make_location, eff.settings.rewrite_log), None
    first = draft.ops[0] if draft.ops else None
    return None, first.ret if isinstance(first, ReturnOp) else None


def _with_resolver(pp: ProxyPass, eff: settings.Effective) -> ProxyPass:
    """A proxy_pass with variables takes the location's resolver and resolver_timeout."""
    resolver = eff.server.get("resolver")
    if pp.template is None or resolver is None:
        return pp
    timeout = eff.server.get("resolver_timeout", d.DEFAULT_RESOLVER_TIMEOUT)
    return dataclasses.replace(pp, resolver=dataclasses.replace(resolver, timeout=timeout))


def _location(loc: LocationDraft, parent: settings.Effective, r: _Resolver) -> LocationConfig:
    eff = settings.merge(parent, loc.level)
    pp = _with_resolver(r.proxy_pass(loc.proxy_pass), eff) \
        if loc.proxy_pass is not None else None
    if pp is not None and loc.proxy_pass is not None and loc.proxy_pass.https:
        pp = dataclasses.replace(pp, tls=tls.upstream_tls(eff.server, pp.proxy_host))
    checks = tuple(_health_check(hc, pp, eff, r.h.matches) for hc in loc.health_checks)

    def if_location(draft: IfDraft) -> LocationConfig:
        # The implicit location of an `if`: its own settings over the location's, and, as
        # nginx's "noname" locations do, the location's proxy_pass unless it has its own.
        if_eff = settings.merge(eff, draft.level)
        if_pp = _with_resolver(r.proxy_pass(draft.proxy_pass), if_eff) if isinstance(
            draft.proxy_pass, ProxyPassRef) else pp
        return LocationConfig(
            modifier=loc.modifier,  # type: ignore[arg-type]
            path=loc.path, regex=None, settings=if_eff.settings, proxy_pass=if_pp,
            api_write=loc.api_write, metrics=loc.metrics, source=draft.node.source)

    groups = frozenset(name.lower() for name in loc.regex.groupindex) \
        if loc.regex is not None else None
    script, return_ = _script(loc.script, eff, groups, if_location)
    return LocationConfig(
        modifier=loc.modifier,  # type: ignore[arg-type]
        path=loc.path, regex=loc.regex, settings=eff.settings, proxy_pass=pp,
        return_=return_, health_checks=checks, api_write=loc.api_write,
        metrics=loc.metrics, stub_status=loc.stub_status,
        locations=tuple(_location(c, eff, r) for c in loc.children),
        rewrites=script, source=loc.node.source,
    )


def _capturing_names(names: list[str]) -> tuple[re.Pattern[str], ...]:
    found = []
    for name in names:
        if name.startswith("~"):
            regex = re.compile(to_python(name[1:]), python_flags(caseless=True))
            if regex.groups:
                found.append(regex)
    return tuple(found)


def _server(srv: ServerDraft, http_eff: settings.Effective, r: _Resolver) -> ServerConfig:
    eff = settings.merge(http_eff, srv.level)
    extra = eff.server
    script, return_ = _script(srv.script, eff, None, lambda draft: None)
    host_regexes = _capturing_names(srv.names)
    if host_regexes:
        if script is None:  # the leading return (if any) runs in the script then
            script = build_script(srv.script, lambda draft: None, eff.settings.rewrite_log)
            return_ = None
        script = dataclasses.replace(script, host_regexes=host_regexes)
    return ServerConfig(
        listens=tuple(srv.listens) or (default_listen(),),
        server_names=tuple(srv.names) or ("",),
        settings=eff.settings,
        client_header_timeout=extra.get("client_header_timeout",
                                        d.DEFAULT_CLIENT_HEADER_TIMEOUT),
        client_header_buffer_size=extra.get("client_header_buffer_size",
                                            d.DEFAULT_CLIENT_HEADER_BUFFER_SIZE),
        large_client_header_buffers=extra.get("large_client_header_buffers",
                                              d.DEFAULT_LARGE_CLIENT_HEADER_BUFFERS),
        underscores_in_headers=extra.get("underscores_in_headers", False),
        ignore_invalid_headers=extra.get("ignore_invalid_headers", True),
        merge_slashes=extra.get("merge_slashes", True),
        return_=return_,
        rewrites=script,
        locations=tuple(_location(loc, eff, r) for loc in srv.locations),
        source=srv.node.source,
        tls=tls.server_tls(extra),
    )


def _check_proxy_buffers(servers: tuple[ServerConfig, ...], node: Node) -> None:
    """nginx checks the buffer sizes when it merges each server and location into its parent,
    at the end of `http` (so an http block without servers is never checked)."""
    levels = [s.settings for s in servers] + [
        loc.settings for s in servers for loc in walk_locations(s.locations)]
    for settings_ in levels:
        problem = proxy_rewrites.check_buffers(settings_.proxy)
        if problem is not None:
            raise ConfigError(problem, node.file, node.end_line)


def parse_http(node: Node, env: settings.Env, state: ReadState) -> HttpConfig:
    assert node.children is not None
    with declared_variables(declared_names(node.children)):
        return _parse_http(node, env, state)


def _parse_http(node: Node, env: settings.Env, state: ReadState) -> HttpConfig:
    assert node.children is not None
    h = _Http(env, state)
    for child in node.children:
        _http_directive(child, h)
    for name, upstream in h.upstreams.items():
        if not upstream.servers and upstream.state_file is None:
            node = h.upstream_nodes[name.lower()]
            # nginx notices when the block closes, and reports the line of its "}".
            raise ConfigError("no servers are inside upstream", node.file, node.end_line)
    resolver = _Resolver(h)
    access_log = env.path(d.DEFAULT_ACCESS_LOG_PATH)
    http_eff = settings.merge(settings.root(access_log, env.log_formats), h.level)
    servers = tuple(_server(s, http_eff, resolver) for s in h.servers)
    tls.check_ssl_listens(servers)
    _check_proxy_buffers(servers, node)
    env.limits.check_references()
    return HttpConfig(upstreams=h.upstreams, servers=servers, matches=h.matches,
                      log_formats=dict(env.log_formats), maps=h.maps,
                      set_variables=set_names(node.children),
                      limit_zones=dict(env.limits.zones))
