"""What every balancer process shares: the signals it handles and where it logs before and
after the configuration names its error logs."""

from __future__ import annotations

import signal

from hotdeploy import defaults
from hotdeploy.config.model import MainConfig

HANDLED_SIGNALS = {signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}


def error_log_targets(config: MainConfig, override: str | None) -> list[tuple[str, str]]:
    targets = [(log.path, log.level) for log in config.error_logs]
    if override is not None:
        targets.append((override, defaults.DEFAULT_ERROR_LOG_LEVEL))
    return targets or [("stderr", defaults.DEFAULT_ERROR_LOG_LEVEL)]
