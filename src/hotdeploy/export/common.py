"""What every export shares: the release each service is exported at, the image name of a
release, and names that platforms with stricter rules than hotdeploy.toml accept. Pure."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hotdeploy.errors import ProjectError
from hotdeploy.project.model import Project

# A service exported with no release and no `version` key runs the image tagged so.
FALLBACK_VERSION = "latest"
# Kubernetes object names that are DNS-1035 labels (Services) may not be longer.
DNS_LABEL_MAX = 63
_IMAGE_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class ExportError(ProjectError):
    """The project cannot be expressed on the target platform (the message says why and
    what to do instead)."""


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """The release a service is exported at. `digest` is None when no release was built yet
    (the version then comes from the project file or is FALLBACK_VERSION)."""

    version: str
    digest: str | None = None


def release_for(project: Project, releases: dict[str, ReleaseInfo], name: str) -> ReleaseInfo:
    known = releases.get(name)
    if known is not None:
        return known
    return ReleaseInfo(project.deployables()[name].version or FALLBACK_VERSION)


def image_tag(version: str) -> str:
    """A release name as an image tag, for the Docker runtime and every export. Tags allow
    `[A-Za-z0-9_.-]{1,128}` only, so the `+` of `VERSION+DIGEST` names becomes `_`, as Helm
    spells semver build metadata in OCI tags."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", version)[:128]


def image_ref(registry: str, project: str, service: str, version: str) -> str:
    """`REGISTRY/hotdeploy/<project>-<service>:<tag>`: the name a container runtime gives the
    image of a release (no registry: the local name, `hotdeploy/<project>-<service>:<tag>`)."""
    repository = f"{project}-{service}"
    if not _IMAGE_COMPONENT.fullmatch(repository):
        raise ExportError(f"{project}-{service} is not a valid image repository name "
                          f"(lower-case letters and digits separated by single '.', '_' or "
                          f"'-'): rename the service")
    prefix = f"{registry.rstrip('/')}/" if registry else ""
    return f"{prefix}hotdeploy/{repository}:{image_tag(version)}"


def dns_label(*parts: str) -> str:
    """A DNS-1035 label from name parts joined by '-': `_` becomes `-`, and a name longer than
    63 characters keeps its start and gets a hash of the whole, so it stays unique and stable."""
    text = "-".join(part.replace("_", "-").strip("-") for part in parts)
    text = re.sub(r"-{2,}", "-", text)
    if len(text) > DNS_LABEL_MAX:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        text = f"{text[: DNS_LABEL_MAX - 9].rstrip('-')}-{digest}"
    return text


def check_unique_names(project: Project) -> dict[str, str]:
    """Service/unit -> its DNS form; two names that become one (`a_b`, `a-b`) are an error."""
    seen: dict[str, str] = {}
    for name in project.deployables():
        label = dns_label(name)
        if label in seen:
            raise ExportError(f"{project.key_of(name)} and {project.key_of(seen[label])} both "
                              f"become {label!r} in DNS names: rename one")
        seen[label] = name
    return {name: label for label, name in seen.items()}
