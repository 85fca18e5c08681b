"""The release store: snapshots, digests, names, retention. Real files in a temporary dir."""

from __future__ import annotations

import os

import pytest

from hotdeploy.cli.watch import affected
from hotdeploy.orchestrator.releases import (
    ReleaseError,
    ReleaseSettings,
    ReleaseStore,
    SourceFilter,
)

SETTINGS = ReleaseSettings(health="/health", app="app:app")


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text("A = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "run.sh", 0o755)
    for junk in (".git/HEAD", "__pycache__/x.pyc", ".hotdeploy/state.json", "pkg/debug.log",
                 "build/out.bin"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("junk")
    return root


def test_a_release_is_a_snapshot_without_the_excluded_paths(tmp_path, source):
    store = ReleaseStore(tmp_path / "releases")
    built = store.build("svc", SourceFilter(source, ("*.log", "build/")), SETTINGS, None)
    release = built.release
    code = tmp_path / "releases" / "svc" / release.version / "code"
    files = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    assert files == ["pkg/app.py", "run.sh"]
    assert os.access(code / "run.sh", os.X_OK)
    assert release.version == release.digest[:12] and release.files == 2
    assert not [p for p in (tmp_path / "releases" / "svc").iterdir() if p.name.startswith(".")]


def test_the_digest_covers_bytes_paths_and_settings(tmp_path, source):
    store = ReleaseStore(tmp_path / "r")
    one = store.build("svc", SourceFilter(source), SETTINGS, None).release
    again = store.build("svc", SourceFilter(source), SETTINGS, None)
    assert again.reused and again.release.digest == one.digest
    env = ReleaseSettings(health="/health", app="app:app", env={"A": "1"})
    assert store.build("svc", SourceFilter(source), env, None).release.digest != one.digest
    (source / "pkg" / "app.py").write_text("A = 2\n")
    assert store.build("svc", SourceFilter(source), SETTINGS, None).release.digest != one.digest


def test_a_name_taken_by_live_content_is_refused_or_suffixed_and_a_failed_one_replaced(
        tmp_path, source):
    store = ReleaseStore(tmp_path / "r")
    first = store.build("svc", SourceFilter(source), SETTINGS, "1.0").release
    (source / "pkg" / "app.py").write_text("A = 2\n")
    # Never went live (a failed deploy's release): the name may be reused.
    replaced = store.build("svc", SourceFilter(source), SETTINGS, "1.0")
    assert "never went live" in replaced.note and replaced.release.digest != first.digest
    store.record_live(replaced.release, "rolling")
    (source / "pkg" / "app.py").write_text("A = 3\n")
    with pytest.raises(ReleaseError, match=r"version 1\.0 already exists with different"):
        store.build("svc", SourceFilter(source), SETTINGS, "1.0")
    suffixed = store.build("svc", SourceFilter(source), SETTINGS, "1.0", on_conflict="suffix")
    assert suffixed.release.version == f"1.0+{suffixed.release.digest[:12]}"


def test_pruning_keeps_the_newest_and_never_the_protected(tmp_path, source):
    store = ReleaseStore(tmp_path / "r")
    for n in range(6):
        (source / "pkg" / "app.py").write_text(f"A = {n}\n")
        store.build("svc", SourceFilter(source), SETTINGS, f"v{n}")
    removed = store.prune("svc", keep=2, protected={"v0", "v1"})
    assert sorted(removed) == ["v2", "v3"]
    assert [r.version for r in store.list("svc")] == ["v5", "v4", "v1", "v0"]
    with pytest.raises(ReleaseError, match="no release 'v2'"):
        store.get("svc", "v2")


def test_watch_reacts_to_the_files_a_release_would_include(tmp_path, source):
    filters = {"svc": SourceFilter(source, ("*.log",)), "other": SourceFilter(tmp_path / "x")}
    assert affected(filters, {source / "pkg" / "app.py"}) == ["svc"]
    assert affected(filters, {source / "pkg" / "debug.log"}) == []
    assert affected(filters, {source / "__pycache__" / "x.pyc"}) == []
    assert affected(filters, {source / ".hotdeploy" / "state.json"}) == []
