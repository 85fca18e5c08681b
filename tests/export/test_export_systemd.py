"""`hotdeploy export systemd`: template units per service (instance = port), the balancer's
unit and configuration, the first instances in its state files; `systemd-analyze verify`
accepts every unit and `hotdeploy lb -t` the configuration."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from kube_helpers import project
from typer.testing import CliRunner

from hotdeploy.cli import export as export_cli
from hotdeploy.export import systemd as sd
from hotdeploy.export.common import ExportError, ReleaseInfo
from hotdeploy.project.loader import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "hotdeploy.toml"
# systemd before 254 does not know these two (exponential restart back-off): it warns and
# keeps the fixed RestartSec, which is the documented fallback.
NEWER_KEYS = ("RestartSteps", "RestartMaxDelaySec")


def sections(text):
    out: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], {})
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return out


def service_of(files, name):
    return sections(files[f"hotdeploy-shop-{name}@.service"])["Service"]


@pytest.fixture(scope="module")
def files():
    p = project(services={
        "orders": {"app": "orders.api:app", "instances": 3,
                   "runtime": {"memory": "512Mi", "cpus": 1.5},
                   "env": {"GREETING": 'say "hi" 100%', "B": "x\\y"}},
        "worker": {"command": "./bin/run --port {port} --cost $5", "route": "/work"},
    }, deploy={"stop_grace": "12s", "drain_timeout": "20s",
               "restart": {"backoff": "2s", "max_backoff": "1m", "max_restarts": 4,
                           "window": "2m"}})
    return sd.export_systemd(p, {"orders": ReleaseInfo("1.4", "ab" * 32)},
                             sd.SystemdOptions(root="/srv/x"))


def test_the_files_and_same_input_same_bytes(files):
    assert set(files) == {"README.md", "hotdeploy-shop.target", "hotdeploy-shop-lb.service",
                          "hotdeploy-shop-orders@.service", "hotdeploy-shop-worker@.service",
                          "hotdeploy-shop-backoffice@.service", "nginx.conf",
                          "lb/svc_orders.state", "lb/svc_worker.state",
                          "lb/unit_backoffice.state"}
    again = sd.export_systemd(load_project(EXAMPLE))
    assert again == sd.export_systemd(load_project(EXAMPLE))


def test_instance_template_stop_restart_and_resources(files):
    service = service_of(files, "orders")
    unit = sections(files["hotdeploy-shop-orders@.service"])["Unit"]
    assert service["WorkingDirectory"] == ["/srv/x/releases/orders/current/code"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["TimeoutStopSec"] == ["12s"]
    assert service["Restart"] == ["on-failure"]
    assert (service["RestartSec"], service["RestartMaxDelaySec"]) == (["2s"], ["60s"])
    assert (unit["StartLimitIntervalSec"], unit["StartLimitBurst"]) == (["120s"], ["5"])
    assert service["MemoryMax"] == ["512M"] and service["CPUQuota"] == ["150%"]
    env = service["Environment"]
    assert '"PORT=%i"' in env
    # Quotes and backslashes escaped, `%` doubled (systemd's specifier character).
    assert '"GREETING=say \\"hi\\" 100%%"' in env and '"B=x\\\\y"' in env
    assert service["ExecStart"] == ["/opt/hotdeploy/bin/python -m hotdeploy.runtimes.host "
                                    "--port %i --health /health --app orders.api:app"]


def test_command_and_unit_entry_points(files):
    # A relative program is relative to the release, {port} is the instance, `$` is literal.
    assert service_of(files, "worker")["ExecStart"] == [
        '/srv/x/releases/worker/current/code/bin/run --port %i --cost "$$5"']
    assert service_of(files, "backoffice")["ExecStart"] == [
        "/opt/hotdeploy/bin/python -m hotdeploy.runtimes.host --port %i --health /health "
        "--mount invoices=invoices.api:app --mount reports=reports.api:app"]


def test_balancer_unit_reload_and_graceful_stop(files):
    service = sections(files["hotdeploy-shop-lb.service"])["Service"]
    assert service["ExecStart"] == ['/opt/hotdeploy/bin/hotdeploy lb -p /srv/x/ -c '
                                    '/srv/x/nginx.conf -g "daemon off;"']
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["KillSignal"] == ["SIGQUIT"]
    assert "-t" in service["ExecStartPre"][0]


def test_state_files_list_the_first_instances(files):
    assert files["lb/svc_orders.state"] == "".join(
        f"server 127.0.0.1:{port} max_fails=3 fail_timeout=30s;\n" for port in (9101, 9102, 9103))
    assert sd.ports(project(), sd.SystemdOptions(base_port=20000))["search"] == \
        [20301 + i for i in range(4)]
    passive = project(balancer={"strategy": "active-passive"})
    lines = sd.export_systemd(passive)["lb/svc_search.state"].splitlines()
    assert not lines[0].endswith("backup;") and all(x.endswith(" backup;") for x in lines[1:])
    with pytest.raises(ExportError, match="65535"):
        sd.ports(project(), sd.SystemdOptions(base_port=65400))


def test_readme_says_how_to_install_and_hot_deploy(files):
    readme = files["README.md"]
    assert "rsync -a .hotdeploy/releases/orders/1.4 /srv/x/releases/orders/" in readme
    assert "# worker: no release built yet" in readme
    for step in ("systemctl enable --now hotdeploy-shop-orders@9104.service",
                 "curl -fsS http://127.0.0.1:9104/health", "-X POST", '{"drain": true}',
                 "-X DELETE", "systemctl disable --now hotdeploy-shop-orders@9101.service",
                 "systemctl reload hotdeploy-shop-lb.service"):
        assert step in readme


def test_env_port_is_refused():
    with pytest.raises(ExportError, match=r"env\.PORT"):
        sd.export_systemd(project(services={"a": {"app": "a:b", "env": {"PORT": "1"}}},
                                  units={}))


def written(tmp_path):
    """The example exported for a machine whose root is tmp_path/root, with this test's
    interpreter as the machine's virtualenv (so every ExecStart program exists)."""
    root = tmp_path / "root"
    p = project(services={
        "orders": {"app": "orders.api:app", "instances": 2,
                   "runtime": {"memory": "64Mi", "cpus": 0.5}},
        "worker": {"command": "./run.sh --port {port}", "route": "/work"}})
    files = sd.export_systemd(p, {}, sd.SystemdOptions(root=str(root), venv=sys.prefix))
    out = tmp_path / "units"
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    script = root / "releases" / "worker" / "current" / "code" / "run.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return p, files, root, out


def verify(p, out):
    """`systemd-analyze verify` on the target, the balancer and one instance of each template:
    (exit code, problems other than the keys older systemd does not know)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package `systemd`)")
    units = [out / sd.target_unit(p), out / sd.lb_unit(p)]
    for name, ports in sd.ports(p, sd.SystemdOptions()).items():
        template = sd.unit_name(p, name)
        instance = out / template.replace("@", f"@{ports[0]}")
        if not instance.exists():
            instance.symlink_to(template)  # how systemd instantiates a template
        units.append(instance)
    result = subprocess.run([tool, "verify", *map(str, units)], capture_output=True,
                            text=True, timeout=120, check=False)
    problems = [line for line in result.stderr.splitlines()
                if line.strip() and not any(f"Unknown key '{key}'" in line or
                                            f"Unknown key name '{key}'" in line
                                            for key in NEWER_KEYS)]
    if result.returncode != 0 and any("Failed to" in line and ("bus" in line or "manager"
                                                               in line) for line in problems):
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    return result.returncode, problems


def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    p, _, _, out = written(tmp_path)
    code, problems = verify(p, out)
    assert code == 0 and not problems, problems


def test_systemd_analyze_verify_would_catch_a_broken_unit(tmp_path):
    # The check above means something: a program that does not exist fails it.
    p, _, _, out = written(tmp_path)
    (tmp_path / "root" / "releases" / "worker" / "current" / "code" / "run.sh").unlink()
    code, problems = verify(p, out)
    assert code != 0 and any("run.sh" in line for line in problems), problems


def test_the_balancer_accepts_its_configuration_and_state_files(tmp_path):
    _, _, root, out = written(tmp_path)
    (root / "lb").mkdir(parents=True)
    (root / "logs").mkdir()
    shutil.copy(out / "nginx.conf", root / "nginx.conf")
    for state in (out / "lb").iterdir():
        shutil.copy(state, root / "lb" / state.name)
    result = subprocess.run(
        [sys.executable, "-c", "from hotdeploy.cli import main; main()", "lb", "-p",
         f"{root}/", "-c", str(root / "nginx.conf"), "-t"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr + result.stdout


def test_cli_writes_the_units(tmp_path):
    app = typer.Typer()
    app.callback()(lambda: None)
    export_cli.register(app)
    out = tmp_path / "units"
    result = CliRunner().invoke(app, ["export", "systemd", "-f", str(EXAMPLE), "-o", str(out),
                                      "--root", "/srv/shop", "--admin-port", "9999"])
    assert result.exit_code == 0, result.output
    assert (out / "hotdeploy-shop-orders@.service").is_file()
    conf = (out / "nginx.conf").read_text()
    assert "listen 127.0.0.1:9999;" in conf
    assert "location = /metrics {\n            metrics;" in conf
    assert "/srv/shop/releases/orders/current/code" in \
        (out / "hotdeploy-shop-orders@.service").read_text()
