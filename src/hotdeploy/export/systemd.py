"""hotdeploy.toml -> systemd units for one machine (a VM reached over SSH). Pure.

Each service or unit gets a template unit `hotdeploy-<project>-<name>@.service` whose
instance name is its port, so a hot deploy by hand is: start `...@NEWPORT`, check its health,
add it to the balancer through the API, drain and remove the old one, stop `...@OLDPORT`.
The balancer is `hotdeploy lb` under its own unit, with the nginx.conf the control process
would write and state files that list the first instances.

The machine's directory (`root`, default /srv/hotdeploy/<project>) mirrors `.hotdeploy/`:
`releases/<name>/<version>/code` are release snapshots copied from the project, and
`releases/<name>/current` is a symlink to the one new instances run (a running instance keeps
the directory it started in, so switching the link changes nothing that runs).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from hotdeploy import defaults as d
from hotdeploy.dataplane.builtin.config import LbPaths, render
from hotdeploy.export import systemd_units as units
from hotdeploy.export.common import ExportError, ReleaseInfo
from hotdeploy.project.model import Project, ServiceSection, UnitSection, split_host_port
from hotdeploy.project.topology import topology_of, upstream_name
from hotdeploy.units import format_time

# The balancer's API port on the machine when admin_listen leaves it to chance (port 0).
ADMIN_PORT = 9900
PORT_BLOCK = 100  # ports per service: BASE + 100*N + 1 ... (instances are at most 64)


@dataclass(frozen=True, slots=True)
class SystemdOptions:
    root: str | None = None  # the project's directory on the machine
    venv: str = "/opt/hotdeploy"  # the virtualenv hotdeploy is installed in there
    user: str = "hotdeploy"
    base_port: int = 9000
    admin_port: int | None = None
    source: str = "hotdeploy.toml"


def root_of(project: Project, options: SystemdOptions) -> str:
    return (options.root or f"/srv/hotdeploy/{project.project.name}").rstrip("/")


def unit_name(project: Project, name: str) -> str:
    """The template unit of a service: `hotdeploy-<project>-<name>@.service`."""
    return units.template_name(project.project.name, name)


def _instance(project: Project, name: str, port: int) -> str:
    return units.instance_name(project.project.name, name, str(port))


def lb_unit(project: Project) -> str:
    return f"hotdeploy-{project.project.name}-lb.service"


def target_unit(project: Project) -> str:
    return f"hotdeploy-{project.project.name}.target"


def ports(project: Project, options: SystemdOptions) -> dict[str, list[int]]:
    """The first instances' ports: the Nth service or unit (from 1, in file order) gets
    BASE + 100*N + 1 .. + instances; the rest of its block is for the instances of later
    deploys."""
    out = {}
    for index, (name, spec) in enumerate(project.deployables().items(), start=1):
        first = options.base_port + PORT_BLOCK * index + 1
        if first + PORT_BLOCK - 2 > 65535:
            raise ExportError(f"--base-port {options.base_port}: the ports of "
                              f"{project.key_of(name)} would pass 65535")
        out[name] = [first + i for i in range(spec.instances)]
    return out


def admin_port(project: Project, options: SystemdOptions) -> int:
    _, port = split_host_port(project.balancer.admin_listen)
    return port or options.admin_port or ADMIN_PORT


def export_systemd(project: Project, releases: dict[str, ReleaseInfo] | None = None,
                   options: SystemdOptions = SystemdOptions()) -> dict[str, str]:
    """File name -> text: the units, nginx.conf, the state files and README.md (whose install
    steps copy each service's current release)."""
    root = root_of(project, options)
    files = {target_unit(project): _target(project),
             lb_unit(project): _lb_service(project, options, root)}
    for name, spec in project.deployables().items():
        files[unit_name(project, name)] = _instance_template(project, name, spec, options, root)
    topology = topology_of(project)
    files["nginx.conf"] = with_metrics(render(topology, LbPaths(root),
                                              admin_port(project, options), options.source))
    for name, instance_ports in ports(project, options).items():
        files[f"lb/{upstream_name(project, name)}.state"] = _state(project, instance_ports)
    files["README.md"] = _readme(project, releases or {}, options, root)
    return dict(sorted(files.items()))


def with_metrics(conf: str) -> str:
    """The balancer's Prometheus endpoint beside its API (loopback only, as the API): on a VM
    nothing else publishes the balancer's numbers, where the control process's `status` does
    locally."""
    api = "        location /api {"
    if conf.count(api) != 1:
        raise AssertionError("the built-in balancer's configuration changed: update systemd.py")
    metrics = ["        location = /metrics {", "            metrics;",
               "            allow 127.0.0.1;", "            deny all;", "        }"]
    return conf.replace(api, "\n".join([*metrics, api]))


# --- units -----------------------------------------------------------------------------------

def _header(project: Project, options: SystemdOptions) -> list[str]:
    return [f"# Generated by `hotdeploy export systemd` from {options.source} (project "
            f"{project.project.name}): do not edit by hand."]


def _target(project: Project) -> str:
    return "\n".join([
        f"# Groups every unit of project {project.project.name}: `systemctl stop` it to stop "
        f"them all.",
        "[Unit]", f"Description=hotdeploy project {project.project.name}", "",
        "[Install]", "WantedBy=multi-user.target", ""])


def _instance_template(project: Project, name: str, spec: ServiceSection | UnitSection,
                       options: SystemdOptions, root: str) -> str:
    workdir = f"{root}/releases/{name}/current/code"
    env = {"PORT": "%i", "HOTDEPLOY_PROJECT": project.project.name, "HOTDEPLOY_SERVICE": name,
           "HOTDEPLOY_INSTANCE": f"{name}@%i", "PYTHONUNBUFFERED": "1",
           # Bytecode caches would be written into the release snapshot.
           "PYTHONDONTWRITEBYTECODE": "1"}
    if "PORT" in spec.env:
        raise ExportError(f"{project.key_of(name)}.env.PORT: the port is the unit's instance "
                          f"name (%i): remove it from env")
    # After hotdeploy's own: a later Environment= wins, as the service's env wins locally.
    environment = [*env.items(), *((key, _escape_specifiers(value))
                                   for key, value in sorted(spec.env.items()))]
    resources = project.runtime_of(name)
    return units.render_template(units.InstanceTemplate(
        comments=(_header(project, options)[0].removeprefix("# "),
                  f"One instance per port: `systemctl start "
                  f"{_instance(project, name, 9101)}` runs {name} on 127.0.0.1:9101."),
        description=f"hotdeploy {project.project.name}/{name} on port %i",
        part_of=target_unit(project), restart=project.deploy.restart, user=options.user,
        working_directory=workdir, environment=tuple(environment),
        exec_start=_exec_start(project, name, spec, options, workdir),
        stop_grace=project.deploy.stop_grace, memory=resources.memory, cpus=resources.cpus))


def _lb_service(project: Project, options: SystemdOptions, root: str) -> str:
    hotdeploy = f"{options.venv.rstrip('/')}/bin/hotdeploy"
    args = f"-p {root}/ -c {root}/nginx.conf"
    return "\n".join([
        *_header(project, options),
        "[Unit]",
        f"Description=hotdeploy balancer of {project.project.name}",
        "After=network.target",
        f"PartOf={target_unit(project)}",
        "",
        "[Service]",
        "Type=exec",
        f"User={options.user}",
        f"WorkingDirectory={root}",
        # A configuration the balancer refuses never replaces a running one.
        f"ExecStartPre={hotdeploy} lb {args} -t -q",
        f"ExecStart={hotdeploy} lb {args} -g \"daemon off;\"",
        # SIGHUP: re-read nginx.conf without closing the listening sockets; servers live in
        # the state files and survive it.
        "ExecReload=/bin/kill -HUP $MAINPID",
        # SIGQUIT: stop accepting, let requests in flight finish, exit.
        "KillSignal=SIGQUIT",
        f"TimeoutStopSec={_seconds(d.DEFAULT_QUIT_TIMEOUT + 5)}",
        "Restart=on-failure",
        "RestartSec=1",
        "NoNewPrivileges=yes",
        "",
        "[Install]",
        f"WantedBy={target_unit(project)}",
        ""])


def _exec_start(project: Project, name: str, spec: ServiceSection | UnitSection,
                options: SystemdOptions, workdir: str) -> str:
    health = project.health_of(name)
    if isinstance(spec, ServiceSection) and spec.command is not None:
        argv = shlex.split(spec.command)
        # The local runtime runs the command from the release directory: a relative program
        # path is relative to it (systemd wants it absolute).
        if "/" in argv[0] and not argv[0].startswith("/"):
            argv[0] = f"{workdir}/{argv[0].removeprefix('./')}"
        return " ".join(_quote(part).replace("{port}", "%i") for part in argv)
    python = f"{options.venv.rstrip('/')}/bin/python"
    argv = [python, "-m", "hotdeploy.runtimes.host", "--port", "%i", "--health", health]
    if isinstance(spec, ServiceSection):
        argv += ["--app", spec.app or ""]
    else:
        for artifact, ref in spec.artifacts.items():
            argv += ["--mount", f"{artifact}={ref}"]
    return " ".join(part if part == "%i" else _quote(part) for part in argv)


def _quote(arg: str) -> str:
    """One ExecStart argument: `%` and `$` are systemd's specifiers and variables, so they are
    doubled to stay literal (the local runtime passes arguments without a shell)."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and all(c.isalnum() or c in "-_./:=,+@{}" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape_specifiers(value: str) -> str:
    return value.replace("%", "%%")


def _seconds(value: float) -> str:
    """A systemd time span: nginx's spelling ("30s", "500ms") is systemd's too."""
    return format_time(value)


def _state(project: Project, instance_ports: list[int]) -> str:
    """The first instances, as the balancer's state file lists servers (the control process
    adds them with these parameters)."""
    bal = project.balancer
    lines = []
    for index, port in enumerate(instance_ports):
        parts = [f"server 127.0.0.1:{port}", f"max_fails={bal.max_fails}",
                 f"fail_timeout={format_time(bal.fail_timeout)}"]
        if bal.slow_start:
            parts.append(f"slow_start={format_time(bal.slow_start)}")
        # Active-passive: the first instance is the primary, the others its backups.
        if bal.strategy == "active-passive" and index > 0:
            parts.append("backup")
        lines.append(" ".join(parts) + ";")
    return "".join(line + "\n" for line in lines)


# --- README ----------------------------------------------------------------------------------

def _copy_releases(project: Project, releases: dict[str, ReleaseInfo], root: str) -> str:
    lines = []
    for name in project.deployables():
        release = releases.get(name)
        if release is None or release.digest is None:
            lines.append(f"# {name}: no release built yet: `hotdeploy up` builds it")
            continue
        lines += [f"rsync -a .hotdeploy/releases/{name}/{release.version} "
                  f"{root}/releases/{name}/",
                  f"ln -sfn {release.version} {root}/releases/{name}/current"]
    return "\n".join(lines)


def _readme(project: Project, releases: dict[str, ReleaseInfo], options: SystemdOptions,
            root: str) -> str:
    p = project.project.name
    admin = f"http://127.0.0.1:{admin_port(project, options)}/api/9/http/upstreams"
    first = ports(project, options)
    name = next(iter(project.deployables()))
    old, new = first[name][0], first[name][-1] + 1
    upstream = upstream_name(project, name)
    instances = " ".join(_instance(project, n, port) for n, ps in first.items() for port in ps)
    drain = math.ceil(project.deploy.drain_timeout)
    bal = project.balancer
    add_body = (f'{{"server": "127.0.0.1:{new}", "max_fails": {bal.max_fails}, '
                f'"fail_timeout": "{format_time(bal.fail_timeout)}"}}')
    return f"""# {p} on systemd

Generated by `hotdeploy export systemd` from {options.source}. Everything runs on one machine
as user `{options.user}`, from `{root}` (which mirrors the project's `.hotdeploy/`):

| Path on the machine | What |
|---|---|
| `{root}/releases/NAME/VERSION/code` | a release snapshot, copied from `.hotdeploy/releases/` |
| `{root}/releases/NAME/current` | symlink to the release new instances start from |
| `{root}/nginx.conf`, `{root}/lb/*.state` | the balancer's configuration and its servers |
| `{root}/logs/` | the balancer's error log (instances log to the journal) |

## Install

```sh
python3 -m venv {options.venv} && {options.venv}/bin/pip install hotdeploy
useradd --system --home {root} {options.user}
mkdir -p {root}/releases {root}/lb {root}/logs
# each service's current release, from the project directory (`hotdeploy releases NAME`):
{_copy_releases(project, releases, root)}
cp nginx.conf {root}/ && cp lb/*.state {root}/lb/
chown {options.user} {root} && chown -R {options.user} {root}/lb {root}/logs
cp *.service *.target /etc/systemd/system/ && systemctl daemon-reload
systemctl enable --now {target_unit(project)} {lb_unit(project)}
systemctl enable --now {instances}
```

The state files already list those instances' ports: the balancer sends them traffic as soon
as their health checks pass. Each service has a block of 100 ports (`{name}`: {first[name][0]}
onwards); pick the next free one in its block for a new instance.

## Hot deploy by hand (no downtime)

For `{name}`, replacing the instance on port {old} by one of release NEW:

```sh
# 1. the release, and the link new instances start from (running ones keep theirs)
rsync -a NEW {root}/releases/{name}/ && ln -sfn NEW {root}/releases/{name}/current
# 2. start the new instance and check its health
systemctl enable --now {_instance(project, name, new)}
curl -fsS http://127.0.0.1:{new}{project.health_of(name)}
# 3. add it to the balancer (it gets traffic once its health check passes)
curl -s -X POST -d '{add_body}' {admin}/{upstream}/servers
# 4. drain the old one: find its id, stop new requests, wait for "active": 0
curl -s {admin}/{upstream}/servers
curl -s -X PATCH -d '{{"drain": true}}' {admin}/{upstream}/servers/ID
curl -s {admin}/{upstream}    # repeat until the server shows "active": 0 (at most {drain} s)
# 5. remove it and stop it
curl -s -X DELETE {admin}/{upstream}/servers/ID
systemctl disable --now {_instance(project, name, old)}
```

Repeat steps 2-5 per instance (rolling); for blue-green start every new instance before
draining any old one; for a canary add the new instance with `"weight": 1` beside heavier old
ones, watch its 5xx and latency (`curl {admin}/{upstream}`), then continue. Rollback is the
same procedure with the previous release. `systemctl reload {lb_unit(project)}` re-reads
nginx.conf after `hotdeploy export systemd` changed it (servers stay: they are in the state
files).
"""
