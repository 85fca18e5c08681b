"""Main-context settings applied to the serving process at start: `worker_rlimit_nofile`.

nginx sets RLIMIT_NOFILE (soft and hard) in each worker to the value; failing to is an alert,
not fatal (the worker runs with the old limit). hotdeploy does the same in the process that
serves (before it binds), and reports the failure the same way.
"""

from __future__ import annotations

import resource

from hotdeploy.config.model import MainConfig


def apply_rlimit_nofile(config: MainConfig) -> str | None:
    """Set RLIMIT_NOFILE to `worker_rlimit_nofile`; the alert text when that failed."""
    wanted = config.worker_rlimit_nofile
    if wanted <= 0:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (OSError, ValueError) as exc:
        errno = getattr(exc, "errno", None) or 1
        return f"setrlimit(RLIMIT_NOFILE, {wanted}) failed ({errno}: {exc})"
    return None
