"""`supervisor = "process"`: an instance is a detached process on its host (its own session,
every stream redirected), tracked by pid file; for hosts without systemd."""

from __future__ import annotations

import shlex

from hotdeploy.runtimes.ssh.connection import Connections
from hotdeploy.runtimes.ssh.launch import Launch
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings


class ProcessSupervisor:
    name = "process"

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    async def start(self, host: SshHost, how: SshSettings, launch: Launch) -> dict[str, str]:
        spec = launch.spec
        run_dir = f"{how.remote_dir}/run"
        log = f"{how.remote_dir}/logs/{spec.instance_id}.log"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(launch.env.items()))
        # Only the instance itself goes to the background, with every stream redirected, or
        # the SSH channel would stay open as long as it runs.
        command = (f"mkdir -p {shlex.quote(run_dir)} {shlex.quote(how.remote_dir)}/logs "
                   f"&& cd {shlex.quote(launch.release_dir)}/code || exit 1\n"
                   f"echo '--- start {spec.instance_id} version={spec.release.version} "
                   f"port={launch.port}' >> {shlex.quote(log)}\n"
                   f"env {exports} setsid nohup {shlex.join(launch.argv)} >> "
                   f"{shlex.quote(log)} 2>&1 < /dev/null &\n"
                   f"echo $! > {shlex.quote(run_dir)}/{spec.instance_id}.pid && echo $!")
        pid = (await self._conns.run(host, how, command)).strip()
        return {"pid": pid, "log": log}

    async def stop(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   grace: float) -> None:
        pid = int(details["pid"])
        # setsid made the instance a process group leader: signal the group, as locally.
        script = (f"kill -TERM -- -{pid} 2>/dev/null || exit 0; "
                  f"for i in $(seq {max(1, int(grace * 10))}); do "
                  f"kill -0 {pid} 2>/dev/null || exit 0; sleep 0.1; done; "
                  f"kill -KILL -- -{pid} 2>/dev/null; exit 0")
        await self._conns.run(host, how, script)

    async def running(self, host: SshHost, how: SshSettings, details: dict[str, str]) -> bool:
        pid = int(details["pid"])
        out = await self._conns.run(host, how, f"kill -0 {pid} 2>/dev/null && echo up || true")
        return out.strip() == "up"

    async def logs(self, host: SshHost, how: SshSettings, details: dict[str, str],
                   lines: int) -> list[str]:
        log = shlex.quote(details.get("log", ""))
        out = await self._conns.run(host, how, f"tail -n {int(lines)} {log} 2>/dev/null || true")
        return out.splitlines()
