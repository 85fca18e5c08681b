"""Warnings `-t` prints for configurations that are valid but probably not what was meant. Pure."""

from __future__ import annotations

import ipaddress
import os

from hotdeploy.config.model import MainConfig, walk_locations


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def config_warnings(config: MainConfig) -> list[str]:
    warnings: list[str] = []
    from hotdeploy.upstream.zone import MAX_WORKERS

    if config.worker_processes > MAX_WORKERS:
        warnings.append(f'"worker_processes {config.worker_processes}" is more than the '
                        f"{MAX_WORKERS} workers the shared upstream table holds: "
                        f"{MAX_WORKERS} will run")
    if config.user is not None:
        where = config.user_source
        at = f" in {where.file}:{where.line}" if where else ""
        if os.geteuid() != 0:  # nginx's own warning
            warnings.append('the "user" directive makes sense only if the master process '
                            f"runs with super-user privileges, ignored{at}")
        else:  # nginx would switch its workers; hotdeploy does not (docs: "user")
            warnings.append(f'the "user" directive is not applied by hotdeploy{at}: it serves '
                            "as the user it was started as (root)")
    if config.http is None:
        return warnings
    for server in config.http.servers:
        public = [lst for lst in server.listens if not _is_loopback(lst.host)]
        if not public:
            continue
        for location in walk_locations(server.locations):
            if location.api_write and not location.settings.access_rules:
                source = location.source
                where = f" in {source.file}:{source.line}" if source else ""
                addr = f"{public[0].host}:{public[0].port}"
                warnings.append(
                    f'writable "api" is reachable from {addr} without "allow"/"deny"{where}'
                )
    return warnings
