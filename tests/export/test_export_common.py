"""The exports' shared parts: the YAML writer (what it writes reads back as the same data),
image names, DNS names, and where the current release comes from."""

from __future__ import annotations

import json

import pytest
import yaml
from kube_helpers import project

from hotdeploy.export import yamltext
from hotdeploy.export.common import ExportError, ReleaseInfo, dns_label, image_ref, release_for
from hotdeploy.export.sources import current_releases
from hotdeploy.orchestrator.state import ProjectPaths

TRICKY = ["yes", "No", "on", "OFF", "y", "null", "~", "true", "1.0", "012", "0x1f", "1e3",
          "1_000", "12:30", "", " lead", "trail ", "a: b", "#x", "x #y", "- x", "-x", "*ref",
          "&a", "!tag", "@at", "`bt", "%p", "{a}", "[a]", "'q'", '"d"', "a\nb", "tab\t",
          "é ü 日本", "\x01", ".inf", ".nan", "/health", "$remote_addr", "error timeout"]


def test_written_yaml_reads_back_as_the_same_data():
    doc = {"strings": TRICKY, "ints": [0, -1, 80], "bools": [True, False], "none": None,
           "empty_map": {}, "empty_list": [], "nested": [{"a": [1, {"b": "c"}]}, [1, [2]]],
           **{f"key {i}": value for i, value in enumerate(TRICKY)}}
    assert yaml.safe_load(yamltext.dump(doc)) == doc
    # The YAML 1.1 reader too (PyYAML is one): "yes" and "on" stay strings.
    assert yaml.load(yamltext.dump(doc), Loader=yaml.BaseLoader)["strings"] == TRICKY


def test_dump_all_with_a_header():
    text = yamltext.dump_all([{"a": 1}, {"b": 2}], ["one", "", "two"])
    assert text.startswith("# one\n#\n# two\na: 1\n---\nb: 2\n")
    assert list(yaml.safe_load_all(text)) == [{"a": 1}, {"b": 2}]


def test_floats_are_refused():
    with pytest.raises(TypeError):
        yamltext.dump({"cpu": 0.5})


def test_image_ref_and_tags():
    assert image_ref("", "shop", "orders", "1.0.0") == "hotdeploy/shop-orders:1.0.0"
    assert image_ref("r.io:5000/team/", "shop", "orders", "2+ab12") == \
        "r.io:5000/team/hotdeploy/shop-orders:2_ab12"
    with pytest.raises(ExportError, match="image repository"):
        image_ref("", "shop", "a-", "1")


def test_dns_labels():
    assert dns_label("shop", "my_svc") == "shop-my-svc"
    long = dns_label("p" * 40, "s" * 40, "canary")
    assert len(long) == 63 and long == dns_label("p" * 40, "s" * 40, "canary")
    assert long != dns_label("p" * 40, "s" * 40, "blue")


def test_release_for_falls_back_to_the_version_key_then_latest():
    p = project()
    assert release_for(p, {}, "orders") == ReleaseInfo("1.0.0")
    assert release_for(p, {}, "search") == ReleaseInfo("latest")
    assert release_for(p, {"search": ReleaseInfo("7", "d")}, "search") == ReleaseInfo("7", "d")


def test_current_releases_from_the_history_of_what_went_live(tmp_path):
    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    history = paths.releases / "orders" / "history.json"
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps([{"version": "1", "digest": "aa", "at": 1, "how": "deploy"},
                                   {"version": "2", "digest": "bb", "at": 2, "how": "deploy"}]))
    assert current_releases(project(), paths) == {"orders": ReleaseInfo("2", "bb")}


def test_the_state_file_wins_over_the_history(tmp_path):
    from hotdeploy.orchestrator.model import ControlState, ServiceState
    from hotdeploy.orchestrator.releases import Release, ReleaseSettings
    from hotdeploy.orchestrator.state import save_state

    paths = ProjectPaths.for_file(tmp_path / "hotdeploy.toml")
    history = paths.releases / "orders" / "history.json"
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps([{"version": "old", "digest": "aa", "at": 1, "how": "up"}]))
    release = Release("orders", "3.1", "cc" * 32, 0.0, 0, 0, ReleaseSettings("/health"), "/x")
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    save_state(paths.state_file, ControlState(services={"orders": ServiceState("orders",
                                                                               release)}))
    assert current_releases(project(), paths) == {"orders": ReleaseInfo("3.1", "cc" * 32)}
