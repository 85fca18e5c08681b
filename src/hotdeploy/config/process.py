"""Main and events directives about the process rather than HTTP: `user`, `worker_rlimit_nofile`,
`load_module` (refused: hotdeploy has no dynamic modules), `multi_accept`, `use`.

What each does in hotdeploy (docs/configuration.md, "Main and events"):
- `user` is checked as nginx checks it (the user and group must exist, only when running as
  root); hotdeploy does not switch to it (see the docs) and `-t` warns as nginx does when not
  root.
- `worker_rlimit_nofile` raises RLIMIT_NOFILE at start (lb/process_settings.py).
- `multi_accept` and `use` have no observable effect: the event loop (libuv) always uses epoll
  on Linux and accepts every pending connection per readiness event.
"""

from __future__ import annotations

import grp
import os
import pwd

from hotdeploy.config.reader import Node

EVENT_METHODS = ("epoll", "poll", "select")  # the Linux ones nginx knows


def parse_user(node: Node) -> tuple[str, str]:
    name = node.args[0]
    # nginx: without a group, the group of the same name as the user.
    group = node.args[1] if len(node.args) == 2 else name
    if os.geteuid() == 0:  # ngx_set_user checks the names only when it could switch to them
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise node.error(f'getpwnam("{name}") failed') from None
        try:
            grp.getgrnam(group)
        except KeyError:
            raise node.error(f'getgrnam("{group}") failed') from None
    return name, group


def parse_rlimit_nofile(node: Node) -> int:
    value = node.args[0]
    if not value.isdigit():
        raise node.error(f'invalid number "{value}"')
    return int(value)


def refuse_load_module(node: Node) -> None:
    path = node.args[0]
    module = os.path.basename(path).removesuffix(".so")
    raise node.error(f'load_module "{path}": hotdeploy has no dynamic modules, '
                     f'"{module}" cannot be loaded (remove the line or its include)')


def check_event_method(node: Node) -> None:
    if node.args[0] not in EVENT_METHODS:
        raise node.error(f'invalid event type "{node.args[0]}"')
