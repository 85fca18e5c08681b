"""Where the exports learn each service's current release: the control process's state file,
else the release store's history of what went live. Reads files; no sockets."""

from __future__ import annotations

from hotdeploy.export.common import ReleaseInfo
from hotdeploy.orchestrator.releases import ReleaseStore
from hotdeploy.orchestrator.state import ProjectPaths, load_state
from hotdeploy.project.model import Project


def current_releases(project: Project, paths: ProjectPaths) -> dict[str, ReleaseInfo]:
    """Service -> the release it runs now (state file), or last ran (history: a project that
    was `down`ed keeps its releases). Services with neither are left out: the exports then use
    the `version` key."""
    found: dict[str, ReleaseInfo] = {}
    state = load_state(paths.state_file)
    store = ReleaseStore(paths.releases)
    for name in project.deployables():
        service = state.services.get(name) if state is not None else None
        if service is not None:
            found[name] = ReleaseInfo(service.release.version, service.release.digest)
            continue
        history = store.history(name)
        if history:
            found[name] = ReleaseInfo(history[-1]["version"], history[-1].get("digest"))
    return found
