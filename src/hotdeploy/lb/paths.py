"""Where `hotdeploy lb` finds its files: nginx's rules for the prefix and the configuration path.

Pure functions. nginx resolves `-c` against the prefix, and the prefix defaults to the build-time
one; `-p` may be relative to the current directory. A trailing slash is kept on the prefix because
nginx joins it with relative names by concatenation.
"""

from __future__ import annotations

import os

from hotdeploy import defaults


def resolve_prefix(prefix: str | None, cwd: str) -> str:
    path = prefix if prefix else defaults.DEFAULT_PREFIX
    path = os.path.normpath(os.path.join(cwd, path))
    return path if path.endswith("/") else path + "/"


def resolve_conf_path(conf: str | None, prefix: str) -> str:
    path = conf if conf else defaults.DEFAULT_CONF_PATH
    return os.path.normpath(os.path.join(prefix, path))


def resolve_error_log(path: str | None, prefix: str) -> str | None:
    """`-e stderr` or a file (relative to the prefix, as nginx)."""
    if path is None:
        return None
    if path == "stderr":
        return path
    return os.path.normpath(os.path.join(prefix, path))
