"""Releases: immutable, content-addressed snapshots of a service's code plus its settings.

A release lives in `.hotdeploy/releases/<service>/<version>/`: `code/` holds the snapshot of
the service's source directory (less the excluded paths) and `manifest.json` says what it is.
It is built in a temporary directory and renamed into place, so a release either exists whole
or not at all. Every runtime consumes releases (runs the snapshot, builds an image from it,
uploads it), so a crash restart, a rollback and a scale-up run the same bytes as the first
instance of that release.

The digest is sha256 over every file's relative path, executable bit and bytes, in path
order, and over the settings (entry point, env, health path): a changed env is a new release,
as a changed file is.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hotdeploy import defaults as d
from hotdeploy.errors import DeployError
from hotdeploy.fileio import atomic_write

MANIFEST = "manifest.json"
CODE = "code"
HISTORY = "history.json"


class ReleaseError(DeployError):
    """A release cannot be built or found (the message names it and says what to do)."""


@dataclass(frozen=True, slots=True)
class ReleaseSettings:
    """What a release runs: exactly one of app, artifacts, command."""

    health: str
    app: str | None = None
    artifacts: dict[str, str] | None = None
    command: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseSettings:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Release:
    service: str
    version: str
    digest: str  # sha256 hex of the files and the settings
    created: float  # wall-clock time it was built
    size: int  # bytes of the snapshot
    files: int
    settings: ReleaseSettings
    root: str  # the release directory (absolute)

    @property
    def code_dir(self) -> str:
        return os.path.join(self.root, CODE)

    @property
    def short_digest(self) -> str:
        return self.digest[: d.RELEASE_DIGEST_CHARS]

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "version": self.version, "digest": self.digest,
                "created": self.created, "size": self.size, "files": self.files,
                "settings": self.settings.to_json(), "root": self.root}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        return cls(service=data["service"], version=data["version"], digest=data["digest"],
                   created=float(data["created"]), size=int(data["size"]),
                   files=int(data["files"]), settings=ReleaseSettings.from_json(data["settings"]),
                   root=data["root"])


@dataclass(frozen=True, slots=True)
class SourceFilter:
    """Which files under a service's source directory belong to its releases. The same rule
    decides what `up --watch` reacts to.

    Patterns are gitignore-like: `name` matches a file or directory of that name at any depth,
    `name/` only directories, a pattern with a slash inside is matched against the path from
    the source directory; `*`, `?` and `[...]` as in fnmatch.
    """

    root: Path
    patterns: tuple[str, ...] = ()

    @property
    def all_patterns(self) -> tuple[str, ...]:
        return (*d.RELEASE_ALWAYS_EXCLUDED, *self.patterns)

    def excluded(self, relative: str, is_dir: bool) -> bool:
        name = relative.rsplit("/", 1)[-1]
        for pattern in self.all_patterns:
            dir_only = pattern.endswith("/")
            body = pattern.rstrip("/")
            if dir_only and not is_dir:
                continue
            if "/" in body:
                if fnmatch.fnmatchcase(relative, body.lstrip("/")):
                    return True
            elif fnmatch.fnmatchcase(name, body):
                return True
        return False

    def excludes_path(self, path: Path) -> bool:
        """For a changed path reported by a watcher: is it (or a parent) left out?"""
        try:
            relative = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return True  # not under this source directory at all
        parts = relative.parts
        for depth in range(1, len(parts) + 1):
            if self.excluded("/".join(parts[:depth]), is_dir=depth < len(parts)
                             or path.is_dir()):
                return True
        return False

    def files(self) -> Iterator[tuple[str, Path]]:
        """(relative path with "/", absolute path) of every included file, in path order."""
        for current, dirs, names in os.walk(self.root, followlinks=False):
            base = Path(current)
            prefix = base.relative_to(self.root).as_posix()
            prefix = "" if prefix == "." else prefix + "/"
            dirs[:] = sorted(x for x in dirs if not self.excluded(prefix + x, is_dir=True)
                             and not (base / x).is_symlink())
            for name in sorted(names):
                relative = prefix + name
                path = base / name
                if self.excluded(relative, is_dir=False) or not path.is_file():
                    continue  # dangling symlinks, sockets, fifos are not code
                yield relative, path
        # os.walk visits directories depth-first in the sorted order set above; the caller
        # sorts again so that the digest does not depend on the walk order.


@dataclass(frozen=True, slots=True)
class Built:
    release: Release
    reused: bool  # the same content under the same name existed: nothing was written
    note: str = ""  # what happened to the name, when it was not taken as given


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def service_dir(self, service: str) -> Path:
        return self.root / service

    # --- building ---------------------------------------------------------------------------
    def build(self, service: str, source: SourceFilter, settings: ReleaseSettings,
              version: str | None, *, on_conflict: str = "refuse",
              live: frozenset[str] = frozenset()) -> Built:
        """Snapshot `source` as release `version` (default: its digest's first characters).

        A name already used by different content is refused (`on_conflict="refuse"`, for
        `deploy --version`) or gets the digest appended (`"suffix"`, for `up` from the
        project file), unless that release never went live and runs nowhere (a failed
        deploy's): then it is replaced, since nobody can depend on it.
        """
        if not source.root.is_dir():
            raise ReleaseError(f"{service}: source directory {source.root} does not exist "
                               f"(`path` in hotdeploy.toml)")
        service_dir = self.service_dir(service)
        service_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=service_dir))
        try:
            digest, size, count = _snapshot(source, settings, tmp / CODE)
            name = version or digest[: d.RELEASE_DIGEST_CHARS]
            note = ""
            existing = self._manifest(service, name)
            if existing is not None and existing.digest != digest:
                if name not in live and not self.went_live(service, name):
                    note = (f"release {name} (digest {existing.short_digest}) never went "
                            f"live: replaced")
                    self._discard(service_dir / name)
                    existing = None
                elif on_conflict == "suffix" and version is not None:
                    note = (f"version {version} already names other content (digest "
                            f"{existing.short_digest}): this release is "
                            f"{version}+{digest[: d.RELEASE_DIGEST_CHARS]}")
                    name = f"{version}+{digest[: d.RELEASE_DIGEST_CHARS]}"
                    existing = self._manifest(service, name)
                else:
                    raise ReleaseError(
                        f"{service}: version {name} already exists with different content "
                        f"(digest {existing.short_digest}, built "
                        f"{_when(existing.created)}; this build is "
                        f"{digest[: d.RELEASE_DIGEST_CHARS]}): choose a new --version, or "
                        f"leave it out to name the release by its digest")
            if existing is not None:
                return Built(existing, reused=True, note=note)
            release = Release(service=service, version=name, digest=digest,
                              created=time.time(), size=size, files=count, settings=settings,
                              root=str(service_dir / name))
            atomic_write(tmp / MANIFEST, json.dumps(release.to_json(), indent=1))
            os.rename(tmp, service_dir / name)  # atomic: the release appears whole
            return Built(release, reused=False, note=note)
        finally:
            if tmp.exists():
                self._discard(tmp)

    # --- reading ------------------------------------------------------------------------------
    def get(self, service: str, version: str) -> Release:
        release = self._manifest(service, version)
        if release is None:
            kept = ", ".join(r.version for r in self.list(service)) or "none"
            raise ReleaseError(f"{service} has no release {version!r} (kept: {kept})")
        return release

    def list(self, service: str) -> list[Release]:
        """Every kept release of `service`, newest first."""
        service_dir = self.service_dir(service)
        if not service_dir.is_dir():
            return []
        found = [self._manifest(service, entry.name) for entry in service_dir.iterdir()
                 if entry.is_dir() and not entry.name.startswith(".")]
        return sorted((r for r in found if r is not None), key=lambda r: r.created, reverse=True)

    def _manifest(self, service: str, version: str) -> Release | None:
        path = self.service_dir(service) / version / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        # The store may have been moved with the project: the directory is where it is now.
        return replace(Release.from_json(data), root=str(path.parent))

    # --- history: which releases went live ----------------------------------------------------
    def history(self, service: str) -> list[dict[str, Any]]:
        path = self.service_dir(service) / HISTORY
        try:
            return list(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return []

    def went_live(self, service: str, version: str) -> bool:
        return any(entry["version"] == version for entry in self.history(service))

    def record_live(self, release: Release, how: str) -> None:
        entries = self.history(release.service)
        entries.append({"version": release.version, "digest": release.digest,
                        "at": time.time(), "how": how})
        atomic_write(self.service_dir(release.service) / HISTORY,
                     json.dumps(entries[-200:], indent=1))

    # --- retention ----------------------------------------------------------------------------
    def prune(self, service: str, keep: int, protected: set[str]) -> list[str]:
        """Remove all but the `keep` newest releases; never one in `protected` (the current
        and previous releases, and any that an instance runs)."""
        removed = []
        for release in self.list(service)[keep:]:
            if release.version in protected:
                continue
            self._discard(Path(release.root))
            removed.append(release.version)
        return removed

    def discard(self, service: str, version: str) -> None:
        self._discard(self.service_dir(service) / version)

    @staticmethod
    def _discard(path: Path) -> None:
        # Rename first so that a half-deleted release is never visible under its name.
        trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)


def _snapshot(source: SourceFilter, settings: ReleaseSettings,
              target: Path) -> tuple[str, int, int]:
    """Copy the included files into `target`, hashing what is copied (not what is on disk a
    moment later): the digest is the digest of the snapshot. Returns (digest, bytes, files)."""
    digest = hashlib.sha256()
    size = count = 0
    for relative, path in sorted(source.files()):
        data = path.read_bytes()
        executable = os.access(path, os.X_OK)
        dest = target / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        os.chmod(dest, 0o755 if executable else 0o644)
        digest.update(f"{relative}\0{int(executable)}\0{len(data)}\0".encode())
        digest.update(data)
        size += len(data)
        count += 1
    target.mkdir(parents=True, exist_ok=True)  # an empty source is still a release
    digest.update(b"settings\0" + json.dumps(settings.to_json(), sort_keys=True).encode())
    return digest.hexdigest(), size, count


def _when(created: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
