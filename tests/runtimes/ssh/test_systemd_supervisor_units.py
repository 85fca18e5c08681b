"""The systemd supervisor's pieces without a host: the template unit it installs (accepted by
`systemd-analyze verify`, stop and restart rules from the project), the EnvironmentFile, and
how "auto" reads a host's `systemctl is-system-running`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotdeploy.export import systemd_units as units
from hotdeploy.orchestrator.releases import ReleaseSettings, ReleaseStore, SourceFilter
from hotdeploy.runtimes.base import InstanceSpec
from hotdeploy.runtimes.ssh import SshHost, SshSettings
from hotdeploy.runtimes.ssh.launch import launch_of
from hotdeploy.runtimes.ssh.systemd_supervisor import (
    HostFacts,
    Scope,
    instance_env,
    template_text,
)

SHOP = Path(__file__).resolve().parents[3] / "examples" / "shop"


def settings(tmp_path: Path, **extra) -> SshSettings:
    return SshSettings(hosts=(SshHost.parse("root@127.0.0.2:2222"),),
                       remote_dir=str(tmp_path / "remote"), python=sys.executable,
                       project="shop", stop_grace=7.0, **extra)


def sections(text: str) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], {})
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return out


def test_the_template_stops_as_stop_grace_says_and_leaves_restarts_to_hotdeploy(tmp_path):
    text = template_text(settings(tmp_path, memory="256Mi", cpus=0.5), "orders",
                         Scope(user=False))
    unit, service = sections(text)["Unit"], sections(text)["Service"]
    where = f"{tmp_path}/remote/instances"
    assert service["WorkingDirectory"] == [f"{where}/%i.release/code"]
    assert service["EnvironmentFile"] == [f"{where}/%i.env"]
    assert service["ExecStart"] == ["/bin/sh -c ${HOTDEPLOY_EXEC}"]
    assert (service["KillSignal"], service["TimeoutStopSec"]) == (["SIGTERM"], ["7s"])
    assert service["Restart"] == ["no"] and unit["StartLimitIntervalSec"] == ["0"]
    assert (service["MemoryMax"], service["CPUQuota"]) == (["256M"], ["50%"])
    assert service["PrivateTmp"] == ["yes"] and "User" not in service
    assert "Install" not in sections(text)  # started by hotdeploy, not at boot
    user = sections(template_text(settings(tmp_path), "orders", Scope(user=True)))["Service"]
    assert "PrivateTmp" not in user  # a user manager cannot always set it up
    # A `%` in remote_dir stays a `%` (systemd's specifier character is doubled).
    odd = template_text(SshSettings(hosts=(), remote_dir="/srv/100%", project="shop"),
                        "orders", Scope(user=False))
    assert "WorkingDirectory=/srv/100%%/instances/%i.release/code" in odd


def test_the_environment_file_keeps_every_value_as_it_is():
    text = units.environment_file({"B": 'say "hi" $HOME `x` \\n', "A": "plain"})
    assert text == 'A="plain"\nB="say \\"hi\\" \\$HOME \\`x\\` \\\\n"\n'


@pytest.mark.parametrize(("output", "systemd"), [
    ("0\nrunning\n", True), ("1000\ndegraded\n", True), ("0\nstarting\n", True),
    ("0\noffline\n", False), ("0\n\n", False), ("0\n", False)])
def test_auto_picks_systemd_where_is_system_running_answers(output, systemd):
    assert HostFacts.parse(output).has_systemd is systemd


def release_spec(tmp_path: Path) -> InstanceSpec:
    store = ReleaseStore(tmp_path / "releases")
    release = store.build("orders", SourceFilter(SHOP),
                          ReleaseSettings(health="/health", app="orders.api:app",
                                          env={"GREETING": "100% $real"}), "1.0.0")
    return InstanceSpec("shop", "orders", "orders-1", release.release, "/health")


def test_systemd_analyze_verify_accepts_an_installed_instance(tmp_path):
    """The template as installed on a host, with one instance's EnvironmentFile and release
    link in place: what `systemctl start hotdeploy-shop-orders@orders-1` would load."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package `systemd`; .ci/run "
                    "installs it)")
    how = settings(tmp_path)
    spec = release_spec(tmp_path)
    release = tmp_path / "remote" / "releases" / "orders" / "1.0.0"
    shutil.copytree(spec.release.code_dir, release / "code")
    where = tmp_path / "remote" / "instances"
    where.mkdir(parents=True)
    (where / "orders-1.release").symlink_to(release)
    launch = launch_of(spec, how, str(release), 9101)
    (where / "orders-1.env").write_text(units.environment_file(instance_env(launch)))
    out = tmp_path / "units"
    out.mkdir()
    template = out / units.template_name("shop", "orders")
    template.write_text(template_text(how, "orders", Scope(user=False)))
    instance = out / units.instance_name("shop", "orders", "orders-1")
    instance.symlink_to(template.name)
    result = subprocess.run([tool, "verify", str(instance)], capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0 and "Failed to" in result.stderr and (
            "bus" in result.stderr or "manager" in result.stderr):
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    # The check means something: it parses what it is given (a bad signal is refused).
    template.write_text(template.read_text().replace("KillSignal=SIGTERM", "KillSignal=SIGNO"))
    broken = subprocess.run([tool, "verify", str(instance)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert "Failed to parse signal name" in broken.stderr, broken.stderr
    # What the unit's `/bin/sh -c ${HOTDEPLOY_EXEC}` runs: the local runtime's command line.
    env = (where / "orders-1.env").read_text()
    assert f'HOTDEPLOY_EXEC="exec {sys.executable} -m hotdeploy.runtimes.host --port 9101 ' \
           f'--health /health --app orders.api:app --host 0.0.0.0"' in env
    assert 'GREETING="100% \\$real"' in env and 'PORT="9101"' in env
