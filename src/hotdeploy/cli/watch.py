"""`up --watch`: local development with quick feedback. When files under a service's source
directory change (ignoring what its releases exclude), wait for the edits to settle, then
deploy a new release of that service with its strategy; a release that fails its health check
is rolled back by the deploy, the reason is printed, and watching goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import watchfiles
from rich.console import Console

from hotdeploy import defaults as d
from hotdeploy.errors import HotdeployError
from hotdeploy.orchestrator import client
from hotdeploy.orchestrator.commands.deploy import DeployArgs
from hotdeploy.orchestrator.releases import SourceFilter
from hotdeploy.orchestrator.state import ProjectPaths
from hotdeploy.project.model import Project


def source_filters(paths: ProjectPaths, project: Project) -> dict[str, SourceFilter]:
    return {name: SourceFilter(paths.source_dir(dep.path), tuple(dep.exclude))
            for name, dep in project.deployables().items()}


def affected(filters: dict[str, SourceFilter], changed: set[Path]) -> list[str]:
    """The services whose releases would include one of the changed paths."""
    return [name for name, source in filters.items()
            if any(not source.excludes_path(path) for path in changed)]


def watch_and_deploy(paths: ProjectPaths, project: Project, console: Console,
                     progress: Callable[[str], None],
                     stop: Callable[[], bool] | None = None) -> None:
    filters = source_filters(paths, project)
    roots = sorted({str(f.root) for f in filters.values()})
    for changes in watchfiles.watch(*roots, debounce=int(d.WATCH_DEBOUNCE * 1000), step=100):
        names = affected(filters, {Path(path) for _, path in changes})
        for name in names:
            console.print(f"[bold]{name}[/bold]: files changed; deploying a new release")
            try:
                result = client.request(paths, "deploy", DeployArgs(service=name),
                                        on_event=progress)
            except HotdeployError as exc:
                console.print(f"[red]{name}: deploy failed[/red]: {exc}", highlight=False)
                continue
            console.print(f"[green]{name}[/green] {result.get('message') or 'live'}: version "
                          f"{result['version']}", highlight=False)
        if stop is not None and stop():
            return
