"""`hotdeploy lb` from parsed flags to a running balancer (or a test, a dump, a signal)."""

from __future__ import annotations

import os
import platform
import sys

from hotdeploy import LB_VERSION
from hotdeploy.config.loader import dump_config, load_config
from hotdeploy.config.model import MainConfig
from hotdeploy.errors import ConfigError, HotdeployError
from hotdeploy.lb.checks import config_warnings
from hotdeploy.lb.options import LbOptions
from hotdeploy.lb.paths import resolve_conf_path, resolve_error_log, resolve_prefix

PROGRAM = "hotdeploy"


def _say(level: str | None, message: str) -> None:
    # nginx prints its start-up messages on stderr as "nginx: [emerg] ..." (no level for -t's
    # success lines); we keep that shape with our name.
    tag = f"[{level}] " if level else ""
    print(f"{PROGRAM}: {tag}{message}", file=sys.stderr, flush=True)


def _print_version(full: bool) -> None:
    print(f"{PROGRAM} version: {LB_VERSION}", file=sys.stderr)
    if full:
        print(f"built with Python {platform.python_version()} ({platform.python_implementation()})",
              file=sys.stderr)
        print("configure arguments: --with-http_upstream_hc_module --with-http_api_module",
              file=sys.stderr)
        from hotdeploy.proxy.compiled import COMPILED_MODULES, compiled_modules

        compiled = len(compiled_modules())
        state = (f"compiled with mypyc ({compiled} of {len(COMPILED_MODULES)} modules)"
                 if compiled else "interpreted")
        print(f"request path: {state}", file=sys.stderr)


def _test(config_path: str, config: MainConfig, options: LbOptions) -> int:
    for warning in config_warnings(config):
        _say("warn", warning)
    if not options.quiet:
        _say(None, f"the configuration file {config_path} syntax is ok")
        _say(None, f"configuration file {config_path} test is successful")
    if options.dump:
        sys.stdout.write(dump_config(config))
        sys.stdout.flush()
    return 0


def run_lb(options: LbOptions) -> int:
    if options.version or options.version_full:
        _print_version(options.version_full)
        if not (options.test or options.dump):
            return 0
    prefix = resolve_prefix(options.prefix, os.getcwd())
    config_path = resolve_conf_path(options.conf, prefix)
    testing = options.test or options.dump
    try:
        config = load_config(config_path, prefix, options.globals_)
    except ConfigError as exc:
        _say("emerg", str(exc))
        if testing:
            _say(None, f"configuration file {config_path} test failed")
        return 1
    if testing:
        return _test(config_path, config, options)
    try:
        if options.signal:
            from hotdeploy.lb.signals import send_signal

            send_signal(options.signal, config.pid_path or "")
            return 0
        from hotdeploy.lb.process_settings import apply_rlimit_nofile
        from hotdeploy.lb.serve import serve

        alert = apply_rlimit_nofile(config)
        if alert is not None:
            _say("alert", alert)

        return serve(config, config_path, options, resolve_error_log(options.error_log, prefix))
    except HotdeployError as exc:
        _say("emerg" if not options.signal else "error", str(exc))
        return 1
