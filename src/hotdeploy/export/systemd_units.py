"""The instance template unit of a service, `hotdeploy-<project>-<name>@.service`: one home for
its text. `hotdeploy export systemd` writes it for people who run a VM by hand; the SSH
runtime's systemd supervisor installs it on each host and starts one instance of it per
hotdeploy instance. Pure.

What differs between the two is given (`InstanceTemplate`): where the code is, how the
environment arrives, the program, who restarts a crashed instance (systemd by itself for the
export; hotdeploy for the runtime, which reads the unit's state and restarts with its own
back-off through the balancer). The stop rule is the same: `KillSignal=SIGTERM`, SIGKILL after
`TimeoutStopSec` = `stop_grace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotdeploy.project.model import RestartSection
from hotdeploy.units import format_time


def template_name(project: str, name: str) -> str:
    """`hotdeploy-<project>-<name>@.service`."""
    return f"hotdeploy-{project}-{name}@.service"


def instance_name(project: str, name: str, instance: str) -> str:
    """The unit of one instance: `hotdeploy-<project>-<name>@<instance>.service`."""
    return template_name(project, name).replace("@", f"@{instance}")


@dataclass(frozen=True, slots=True)
class InstanceTemplate:
    description: str  # may use %i, the instance name
    working_directory: str
    exec_start: str  # already in systemd's quoting
    stop_grace: float
    comments: tuple[str, ...] = ()  # the file's first lines, "# " prepended
    environment: tuple[tuple[str, str], ...] = ()  # Environment= lines (values: systemd text)
    environment_file: str | None = None
    user: str | None = None  # None: the manager's user (the SSH user's units)
    # systemd restarts a crashed instance with this back-off; None: it does not (hotdeploy
    # does, and must be the only one that decides).
    restart: RestartSection | None = None
    memory: str | None = None  # "512Mi"
    cpus: float | None = None
    part_of: str | None = None  # a target that groups the project's units (and wants them)
    private_tmp: bool = True  # user managers cannot always set it up


def render_template(t: InstanceTemplate) -> str:
    lines = [f"# {line}" for line in t.comments]
    lines += ["[Unit]", f"Description={t.description}", "After=network.target"]
    if t.part_of is not None:
        lines.append(f"PartOf={t.part_of}")
    if t.restart is not None:
        # More than max_restarts crashes within the window: stop restarting and stay failed,
        # as the control process reports the instance instead of restarting it forever.
        lines += [f"StartLimitIntervalSec={_seconds(t.restart.window)}",
                  f"StartLimitBurst={t.restart.max_restarts + 1}"]
    else:
        # hotdeploy starts the unit again after each crash (with its own back-off): systemd's
        # start limit must not refuse it.
        lines.append("StartLimitIntervalSec=0")
    lines += ["", "[Service]", "Type=exec"]
    if t.user is not None:
        lines.append(f"User={t.user}")
    lines.append(f"WorkingDirectory={t.working_directory}")
    if t.environment_file is not None:
        lines.append(f"EnvironmentFile={t.environment_file}")
    lines += [environment_line(key, value) for key, value in t.environment]
    lines += [
        f"ExecStart={t.exec_start}",
        # hotdeploy's stop: SIGTERM, SIGKILL after stop_grace. The instance is drained through
        # the balancer first: by then it has no requests left.
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={_seconds(t.stop_grace)}",
    ]
    if t.restart is not None:
        lines += [
            "Restart=on-failure",
            f"RestartSec={_seconds(t.restart.backoff)}",
            # Exponential back-off up to max_backoff (systemd 254+; older versions warn and
            # keep the fixed RestartSec).
            "RestartSteps=5",
            f"RestartMaxDelaySec={_seconds(t.restart.max_backoff)}",
        ]
    else:
        lines.append("Restart=no")
    if t.memory is not None:
        lines.append(f"MemoryMax={systemd_size(t.memory)}")
    if t.cpus is not None:
        lines.append(f"CPUQuota={round(t.cpus * 100)}%")
    lines.append("NoNewPrivileges=yes")
    if t.private_tmp:
        lines.append("PrivateTmp=yes")
    if t.part_of is not None:
        lines += ["", "[Install]", f"WantedBy={t.part_of}"]
    return "\n".join([*lines, ""])


def environment_line(key: str, value: str) -> str:
    """`Environment="KEY=VALUE"`: quotes and backslashes escaped (specifiers are the caller's:
    `%i` may be meant)."""
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'Environment="{key}={quoted}"'


def environment_file(env: dict[str, str]) -> str:
    """An EnvironmentFile: `KEY="VALUE"` lines, with the characters systemd unescapes in
    double quotes (`"`, `\\`, `` ` ``, `$`) escaped, so every value arrives as it is."""
    lines = []
    for key, value in sorted(env.items()):
        escaped = "".join(f"\\{c}" if c in '"\\`$' else c for c in value)
        lines.append(f'{key}="{escaped}"')
    return "".join(line + "\n" for line in lines)


def systemd_size(memory: str) -> str:
    """"512Mi" -> "512M": systemd's K, M, G, T are powers of 1024 already."""
    for binary, plain in (("Ki", "K"), ("Mi", "M"), ("Gi", "G"), ("Ti", "T")):
        if memory.endswith(binary):
            return memory.removesuffix(binary) + plain
    return memory


def _seconds(value: float) -> str:
    """A systemd time span: nginx's spelling ("30s", "500ms") is systemd's too."""
    return format_time(value)
