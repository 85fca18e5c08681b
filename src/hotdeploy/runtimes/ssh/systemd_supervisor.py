"""`supervisor = "systemd"`: each instance is a unit of the service's template
`hotdeploy-<project>-<service>@.service` (instance name: the hotdeploy instance id), rendered
by export.systemd_units like `hotdeploy export systemd`'s.

The template is installed under /etc/systemd/system when the SSH user is root, else as a user
unit (~/.config/systemd/user, `systemctl --user`: the user needs lingering, `loginctl
enable-linger USER`, or the user's manager stops the units with the last session). Per
instance, `remote_dir/instances/<id>.env` (its EnvironmentFile: PORT, HOTDEPLOY_*, the
release's env, and HOTDEPLOY_EXEC, the command line) and `remote_dir/instances/<id>.release`
(a link to its release's directory, the unit's working directory is its `code/`). State is
read from `systemctl show -p ActiveState,SubState,MainPID`, logs from `journalctl -u`.

systemd does not restart the units (Restart=no): hotdeploy sees the unit inactive or failed,
takes the instance out of the balancer and starts it again with its own back-off, as with
every runtime.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from hotdeploy.export import systemd_units as units
from hotdeploy.runtimes.ssh.connection import Connections, HostError
from hotdeploy.runtimes.ssh.launch import Launch
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings

# `systemctl is-system-running` answers one of these where systemd runs the machine (the exit
# status says whether it is "running" exactly; any of them will do). "offline" (systemd is
# not PID 1), "unknown" or no systemctl at all: it does not.
SYSTEMD_STATES = frozenset({"initializing", "starting", "running", "degraded", "maintenance",
                            "stopping"})
ACTIVE_STATES = frozenset({"active", "activating", "reloading"})
PROBE = "id -u; systemctl is-system-running 2>/dev/null || true"
LOG_JOURNAL_LINES = 20


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What `PROBE` found on a host."""

    uid: int
    system_state: str  # is-system-running's answer, "" without systemctl

    @property
    def has_systemd(self) -> bool:
        return self.system_state in SYSTEMD_STATES

    @classmethod
    def parse(cls, output: str) -> HostFacts:
        lines = output.split("\n")
        state = lines[1].strip() if len(lines) > 1 else ""
        return cls(uid=int(lines[0].strip()), system_state=state)


@dataclass(frozen=True, slots=True)
class Scope:
    """The system manager (root) or the SSH user's own."""

    user: bool

    @classmethod
    def named(cls, name: str) -> Scope:
        return cls(user=name == "user")

    @property
    def name(self) -> str:
        return "user" if self.user else "system"

    @property
    def systemctl(self) -> str:
        return "systemctl --user" if self.user else "systemctl"

    @property
    def journalctl(self) -> str:
        return "journalctl --user" if self.user else "journalctl"

    @property
    def prelude(self) -> str:
        """A non-interactive SSH session may lack the variable `systemctl --user` needs."""
        return 'export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}"' \
            if self.user else ":"

    @property
    def units_dir(self) -> str:
        """As shell text (the user's directory is under $HOME)."""
        return '"$HOME/.config/systemd/user"' if self.user else "/etc/systemd/system"


def instances_dir(how: SshSettings) -> str:
    return f"{how.remote_dir}/instances"


def template_text(how: SshSettings, service: str, scope: Scope) -> str:
    """The service's template unit on the hosts."""
    where = instances_dir(how).replace("%", "%%")  # `%` starts a systemd specifier
    return units.render_template(units.InstanceTemplate(
        comments=(f"Installed by hotdeploy's SSH runtime (supervisor \"systemd\") for "
                  f"project {how.project}: one instance per hotdeploy instance,",
                  "started and stopped by its control process. Rewritten at the next start: "
                  "do not edit."),
        description=f"hotdeploy {how.project}/{service} instance %i",
        working_directory=f"{where}/%i.release/code",
        environment_file=f"{where}/%i.env",
        # The command line differs per release: it comes with the instance's environment.
        exec_start="/bin/sh -c ${HOTDEPLOY_EXEC}",
        stop_grace=how.stop_grace, memory=how.memory, cpus=how.cpus,
        private_tmp=not scope.user))


def instance_env(launch: Launch) -> dict[str, str]:
    """The EnvironmentFile's variables: the instance's, and the command line to run."""
    return {**launch.env, "HOTDEPLOY_EXEC": "exec " + shlex.join(launch.argv)}


class SystemdSupervisor:
    name = "systemd"

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    async def start(self, host: SshHost, how: SshSettings, launch: Launch,
                    scope: Scope) -> dict[str, str]:
        spec = launch.spec
        template = units.template_name(how.project, spec.service)
        unit = units.instance_name(how.project, spec.service, spec.instance_id)
        where, q, ctl = shlex.quote(instances_dir(how)), shlex.quote, scope.systemctl
        staged = f'"$units"/{template}.new-{spec.instance_id}'
        script = "\n".join([
            "set -e", scope.prelude, f"units={scope.units_dir}",
            f'mkdir -p "$units" {where}',
            # A template that changed (the project file did) is replaced and reloaded; the
            # same one is left alone.
            f"cat > {staged} <<'HOTDEPLOY_UNIT_END'",
            template_text(how, spec.service, scope) + "HOTDEPLOY_UNIT_END",
            f'if cmp -s {staged} "$units"/{template}; then rm -f {staged}; '
            f'else mv {staged} "$units"/{template} && {ctl} daemon-reload; fi',
            "umask 077",  # the environment may hold secrets
            f"cat > {where}/{spec.instance_id}.env <<'HOTDEPLOY_ENV_END'",
            units.environment_file(instance_env(launch)) + "HOTDEPLOY_ENV_END",
            f"ln -sfn {q(launch.release_dir)} {where}/{spec.instance_id}.release",
            f"{ctl} reset-failed {unit} 2>/dev/null || true",
            f"if ! {ctl} start {unit}; then {scope.journalctl} --no-pager -o cat "
            f"-n {LOG_JOURNAL_LINES} -u {unit} >&2 || true; exit 1; fi",
            f"{ctl} show -p MainPID --value {unit}",
        ])
        pid = (await self._conns.run(host, how, script,
                                     what=f"starting {unit} ({scope.systemctl})")).strip()
        env_file = f"{instances_dir(how)}/{spec.instance_id}.env"
        return {"unit": unit, "scope": scope.name, "pid": pid, "env_file": env_file}

    async def stop(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   grace: float) -> None:
        """`systemctl stop`: SIGTERM, SIGKILL after the unit's TimeoutStopSec (stop_grace)."""
        scope, unit = Scope.named(details["scope"]), details["unit"]
        env_file = details["env_file"]
        release_link = env_file.removesuffix(".env") + ".release"
        await self._conns.run(host, how, "\n".join([
            scope.prelude, f"{scope.systemctl} stop {unit} || true",
            f"{scope.systemctl} reset-failed {unit} 2>/dev/null || true",
            f"rm -f {shlex.quote(env_file)} {shlex.quote(release_link)}"]))

    async def running(self, host: SshHost, how: SshSettings, details: dict[str, str]) -> bool:
        return (await self.show(host, how, details)).get("ActiveState") in ACTIVE_STATES

    async def show(self, host: SshHost, how: SshSettings,
                   details: dict[str, str]) -> dict[str, str]:
        scope, unit = Scope.named(details["scope"]), details["unit"]
        out = await self._conns.run(host, how, f"{scope.prelude}; {scope.systemctl} show -p "
                                               f"ActiveState,SubState,MainPID {unit}")
        shown = dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)
        if "ActiveState" not in shown:
            raise HostError(f"{host}: `systemctl show {unit}` said {out.strip()[:200]!r}")
        return shown

    async def logs(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   lines: int) -> list[str]:
        scope, unit = Scope.named(details["scope"]), details["unit"]
        out = await self._conns.run(host, how, f"{scope.prelude}; {scope.journalctl} "
                                               f"--no-pager -o cat -n {int(lines)} -u {unit} "
                                               f"2>&1 || true")
        return out.splitlines()
