"""`server { ... }` blocks of http: listen, server_name, return, locations, settings."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from hotdeploy.config import settings
from hotdeploy.config import values as v
from hotdeploy.config.listen import ListenRegistry, parse_listen
from hotdeploy.config.locations import LocationDraft, check_duplicates, parse_location
from hotdeploy.config.model import Listen
from hotdeploy.config.reader import Node
from hotdeploy.config.regex import compile_regex
from hotdeploy.config.rewrite import SCRIPT_DIRECTIVES, ScriptDraft, parse_script_directive


@dataclass(slots=True)
class ServerDraft:
    node: Node
    index: int
    level: v.Level = field(default_factory=v.Level)
    listens: list[Listen] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    script: ScriptDraft = field(default_factory=ScriptDraft)  # rewrite module, return
    locations: list[LocationDraft] = field(default_factory=list)


def _server_names(node: Node) -> list[str]:
    names = []
    for raw in node.args:
        if raw.startswith("~"):
            compile_regex(node, raw[1:], caseless=True)  # validate now, with file:line
            names.append(raw)
        elif raw == "$hostname":
            names.append(socket.gethostname().lower())
        else:
            # nginx compares host names case-insensitively and stores them lower-cased.
            names.append(raw.lower())
    return names


def _server_directive(child: Node, srv: ServerDraft, env: settings.Env,
                      listens: ListenRegistry) -> None:
    if child.name == "listen":
        found, has_options = parse_listen(child)
        for listen in found:
            listens.add(child, srv.index, listen, has_options)
        srv.listens.extend(found)
    elif child.name == "server_name":
        srv.names.extend(_server_names(child))
    elif child.name == "location":
        srv.locations.append(parse_location(child, None, env))
    elif child.name in SCRIPT_DIRECTIVES:
        # nginx creates no location for an `if` in a server: only the script goes there.
        parse_script_directive(child, srv.script, env, False, lambda node, draft: False)
    elif not settings.apply(child, srv.level, env):
        raise child.error(f'"{child.name}" directive is not allowed here')


def parse_server(node: Node, index: int, env: settings.Env,
                 listens: ListenRegistry) -> ServerDraft:
    assert node.children is not None
    srv = ServerDraft(node, index)
    for child in node.children:
        _server_directive(child, srv, env, listens)
    check_duplicates(srv.locations)
    return srv
