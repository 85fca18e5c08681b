"""NGINX Plus `state FILE;`: an upstream's servers kept in a file the API writes.

The format is what NGINX Plus writes: one `server ADDRESS [parameters];` line per server, with
the parameters of the upstream `server` directive (weight=, max_conns=, max_fails=,
fail_timeout=, slow_start=, backup, down). A missing file means "no servers yet", as for NGINX
Plus, whose documentation lets the file be absent on the first start.

Writes are atomic (fileio.atomic_write: temporary file, fsync, rename) so that a crash or a
reload reading the file mid-write never sees half a server list.
"""

from __future__ import annotations

from collections.abc import Iterable

from hotdeploy import defaults as d
from hotdeploy.config.addresses import parse_server_address
from hotdeploy.config.model import ServerSpec, Source
from hotdeploy.errors import ConfigError
from hotdeploy.fileio import atomic_write
from hotdeploy.units import format_time, parse_duration
from hotdeploy.upstream.peer import Peer

_INT_PARAMS = ("weight", "max_conns", "max_fails")
_TIME_PARAMS = ("fail_timeout", "slow_start")
_FLAGS = ("backup", "down")


def load_state(path: str) -> list[ServerSpec]:
    """The servers listed in a state file; an empty list when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return parse_state(text, path)


def parse_state(text: str, path: str = "<state>") -> list[ServerSpec]:
    specs: list[ServerSpec] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        specs.append(_parse_line(line, path, lineno))
    return specs


def save_state(path: str, peers: Iterable[Peer]) -> None:
    """Write the peers' current (API-modified) parameters atomically to `path`."""
    atomic_write(path, format_state(peers))


def format_state(peers: Iterable[Peer]) -> str:
    return "".join(format_server(p) + "\n" for p in peers)


def format_server(peer: Peer) -> str:
    """`server ADDR [params];`, listing only the parameters that differ from nginx's defaults."""
    parts = ["server", peer.address]
    if peer.weight != d.DEFAULT_WEIGHT:
        parts.append(f"weight={peer.weight}")
    if peer.max_conns != d.DEFAULT_MAX_CONNS:
        parts.append(f"max_conns={peer.max_conns}")
    if peer.max_fails != d.DEFAULT_MAX_FAILS:
        parts.append(f"max_fails={peer.max_fails}")
    if peer.fail_timeout != d.DEFAULT_FAIL_TIMEOUT:
        parts.append(f"fail_timeout={format_time(peer.fail_timeout)}")
    if peer.slow_start != d.DEFAULT_SLOW_START:
        parts.append(f"slow_start={format_time(peer.slow_start)}")
    if peer.backup:
        parts.append("backup")
    if peer.down:
        parts.append("down")
    return " ".join(parts) + ";"


def _parse_line(line: str, path: str, lineno: int) -> ServerSpec:
    if not line.endswith(";"):
        raise ConfigError('unexpected end of line, expecting ";"', path, lineno)
    words = line[:-1].split()
    if len(words) < 2 or words[0] != "server":
        raise ConfigError(f'unknown directive "{words[0] if words else ""}"', path, lineno)
    try:
        host, port = parse_server_address(words[1])
    except ValueError as e:
        raise ConfigError(str(e), path, lineno) from None
    params: dict[str, object] = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        try:
            params[key] = _parse_param(key, sep, value)
        except ValueError:
            raise ConfigError(f'invalid parameter "{word}"', path, lineno) from None
    return ServerSpec(
        name=words[1], host=host, port=port, source=Source(path, lineno), **params  # type: ignore[arg-type]
    )


def _parse_param(key: str, sep: str, value: str) -> object:
    if key in _FLAGS and not sep:
        return True
    if key in _INT_PARAMS and sep and value.isdigit():
        if key == "weight" and int(value) < 1:  # nginx: weight must be positive
            raise ValueError(key)
        return int(value)
    if key in _TIME_PARAMS and sep:
        return parse_duration(value)
    raise ValueError(key)
