"""`releases SERVICE`: the releases kept, newest first, marking the current and previous.

Read from the release store and the state file, so it answers whether or not the control
process runs."""

from __future__ import annotations

from hotdeploy.errors import ControlError
from hotdeploy.orchestrator.commands.base import Result, ServiceArgs
from hotdeploy.orchestrator.model import ControlState
from hotdeploy.orchestrator.releases import ReleaseStore


class ReleaseRow(Result):
    version: str
    digest: str
    created: float
    size: int
    files: int
    current: bool
    previous: bool
    went_live: bool
    running: int  # instances running it now


class ReleasesResult(Result):
    service: str
    releases: list[ReleaseRow]


def run(store: ReleaseStore, state: ControlState | None, services: list[str],
        args: ServiceArgs) -> ReleasesResult:
    if args.service not in services:
        raise ControlError(f"unknown service {args.service!r}: expected one of "
                           f"{', '.join(sorted(services))}")
    svc = state.services.get(args.service) if state else None
    history = store.history(args.service)
    current = svc.release.version if svc else (history[-1]["version"] if history else None)
    previous = svc.previous.version if svc and svc.previous else None
    rows = []
    for release in store.list(args.service):
        running = sum(1 for i in (svc.instances if svc else []) if i.version == release.version)
        rows.append(ReleaseRow(
            version=release.version, digest=release.digest, created=release.created,
            size=release.size, files=release.files, current=release.version == current,
            previous=release.version == previous,
            went_live=any(h["version"] == release.version for h in history), running=running))
    return ReleasesResult(service=args.service, releases=rows)
