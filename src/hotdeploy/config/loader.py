"""Load an nginx configuration file into the merged model (`config/model.py`).

Paths resolve as nginx resolves them: `-c` against the prefix (`-p`); `include` against the
configuration prefix (the main file's directory); `pid`, `error_log`, `access_log` and
`state` against the prefix. `-g` directives are parsed first, as main-context directives
whose errors say "in command line".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hotdeploy import defaults as d
from hotdeploy.config import process
from hotdeploy.config import values as v
from hotdeploy.config.directives import MAIN
from hotdeploy.config.http import parse_http
from hotdeploy.config.model import ErrorLog, HttpConfig, LogFormat, MainConfig
from hotdeploy.config.reader import COMMAND_LINE, Node, ReadState, parse_text, read_text
from hotdeploy.config.settings import Env, error_log_target
from hotdeploy.config.variables import compile_template
from hotdeploy.errors import ConfigError
from hotdeploy.tls.contexts import load_contexts


@dataclass(slots=True)
class _Main:
    env: Env
    state: ReadState
    values: dict[str, object] = field(default_factory=dict)
    error_logs: list[ErrorLog] = field(default_factory=list)
    http: HttpConfig | None = None
    seen_events: bool = False


def _worker_processes(node: Node) -> int:
    value = node.args[0]
    if value == "auto":
        from hotdeploy.cpus import usable_cores

        return len(usable_cores())  # nginx: the CPUs it may run on, not all the machine's
    if not value.isdigit():
        raise node.error(f'"{node.name}" directive invalid value')
    return int(value)


def _worker_cpu_affinity(node: Node) -> tuple[frozenset[int], ...] | str:
    from hotdeploy.cpus import parse_affinity

    try:
        return parse_affinity(node.args)
    except ValueError as exc:
        raise node.error(str(exc)) from None


def _events(node: Node, m: _Main) -> None:
    if m.seen_events:
        raise v.duplicate_error(node)
    m.seen_events = True
    assert node.children is not None
    for child in node.children:
        if child.name == "multi_accept":
            _set_once(child, m, "multi_accept", v.flag(child))
            continue
        if child.name == "use":
            process.check_event_method(child)
            _set_once(child, m, "use", child.args[0])
            continue
        if "worker_connections" in m.values:
            raise v.duplicate_error(child)
        if not child.args[0].isdigit():
            raise child.error(f'invalid number "{child.args[0]}"')
        m.values["worker_connections"] = int(child.args[0])


def _set_once(node: Node, m: _Main, key: str, value: object) -> None:
    if key in m.values:
        raise v.duplicate_error(node)
    m.values[key] = value


def _main_directive(node: Node, m: _Main) -> None:
    if node.name == "daemon":
        _set_once(node, m, "daemon", v.flag(node))
    elif node.name == "pid":
        _set_once(node, m, "pid", m.env.path(node.args[0]))
    elif node.name == "worker_processes":
        _set_once(node, m, "worker_processes", _worker_processes(node))
    elif node.name == "worker_cpu_affinity":
        _set_once(node, m, "worker_cpu_affinity", _worker_cpu_affinity(node))
    elif node.name == "error_log":
        m.error_logs.append(error_log_target(node, m.env))
    elif node.name == "events":
        _events(node, m)
    elif node.name == "user":
        _set_once(node, m, "user", process.parse_user(node))
        m.values["user_source"] = node.source
    elif node.name == "worker_rlimit_nofile":
        _set_once(node, m, "worker_rlimit_nofile", process.parse_rlimit_nofile(node))
    elif node.name == "load_module":
        process.refuse_load_module(node)
    elif node.name == "http":
        if m.http is not None or "http" in m.values:
            raise v.duplicate_error(node)
        m.values["http"] = True
        m.http = parse_http(node, m.env, m.state)
    else:  # the directive table only lets main-context directives through
        raise node.error(f'"{node.name}" directive is not allowed here')


def _absolute_prefix(prefix: str | None) -> str:
    prefix = os.path.abspath(prefix or d.DEFAULT_PREFIX)
    return prefix.rstrip("/") + "/"


def resolve_conf_path(path: str | None, prefix: str | None = None) -> str:
    """nginx's `-c`: relative to the prefix; default `conf/nginx.conf`."""
    raw = path or d.DEFAULT_CONF_PATH
    return os.path.normpath(raw if os.path.isabs(raw) else os.path.join(_absolute_prefix(prefix),
                                                                         raw))


def load_config(path: str, prefix: str | None = None, globals_: str | None = None) -> MainConfig:
    """Read, validate and merge an nginx configuration; raises `ConfigError` like `nginx -t`."""
    abs_prefix = _absolute_prefix(prefix)
    conf_path = resolve_conf_path(path, abs_prefix)
    state = ReadState(conf_prefix=os.path.dirname(conf_path) + "/")
    combined = LogFormat("combined", compile_template(d.COMBINED_LOG_FORMAT))
    m = _Main(Env(abs_prefix, {"combined": combined}), state)
    nodes: list[Node] = []
    if globals_:
        nodes.extend(parse_text(globals_, COMMAND_LINE, state, MAIN))
    text = read_text(conf_path, None)
    nodes.extend(parse_text(text, conf_path, state, MAIN))
    for node in nodes:
        _main_directive(node, m)
    if not m.seen_events:
        raise ConfigError('no "events" section in configuration')
    if not m.error_logs:
        m.error_logs.append(ErrorLog(m.env.path(d.DEFAULT_ERROR_LOG_PATH)))
    vals = m.values
    return MainConfig(
        path=conf_path,
        prefix=abs_prefix,
        http=m.http,
        daemon=bool(vals.get("daemon", d.DEFAULT_DAEMON)),
        pid_path=str(vals.get("pid", m.env.path(d.DEFAULT_PID_PATH))),
        error_logs=tuple(m.error_logs),
        worker_processes=int(vals.get("worker_processes", d.DEFAULT_WORKER_PROCESSES)),  # type: ignore[call-overload]
        worker_cpu_affinity=vals.get("worker_cpu_affinity", ()),  # type: ignore[arg-type]
        worker_connections=int(vals.get("worker_connections",  # type: ignore[call-overload]
                                        d.DEFAULT_WORKER_CONNECTIONS)),
        user=vals.get("user"),  # type: ignore[arg-type]
        user_source=vals.get("user_source"),  # type: ignore[arg-type]
        worker_rlimit_nofile=int(vals.get("worker_rlimit_nofile", 0)),  # type: ignore[call-overload]
        files=tuple(state.texts),
        file_texts=tuple(state.texts.values()),
        tls=load_contexts(m.http, state.conf_prefix),
    )


def dump_config(config: MainConfig) -> str:
    """What `nginx -T` prints after its two status lines: every file read, in order."""
    out: list[str] = []
    for path, text in zip(config.files, config.file_texts, strict=False):
        out.append(f"# configuration file {path}:\n{text}\n")
    return "".join(out)
