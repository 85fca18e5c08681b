"""End to end, real processes and sockets: the two bugs of issue 8.

- A one-service project whose route is "/" did not start (`duplicate location "/"`).
- `rollback` did not roll the code back: every instance ran the project directory as it was on
  disk, so the "old" version ran the new code, and so did a crash restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from hd_e2e_harness import CLI, Load, cli, free_port, pid_of, service

APP = """
import os

CODE = {code!r}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = f"{{CODE}} {{os.environ['HOTDEPLOY_VERSION']}}".encode()
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()),
                            (b"x-version", CODE.encode())]}})
    await send({{"type": "http.response.body", "body": body}})
"""


def write_app(root: Path, code: str) -> None:
    (root / "web.py").write_text(APP.format(code=code))


def catch_all_project(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "site"
    root.mkdir()
    write_app(root, "old-code")
    port = free_port()
    (root / "hotdeploy.toml").write_text(f"""
[project]
name = "site"

[balancer]
listen = "127.0.0.1:{port}"
strategy = "active-active"
retry_non_idempotent = true

[services.web]
app = "web:app"
route = "/"
instances = 3

[deploy]
drain_timeout = "5s"
health_timeout = "10s"
stop_grace = "3s"
""")
    return root / "hotdeploy.toml", f"http://127.0.0.1:{port}"


def body(base: str, path: str = "/any/path") -> str:
    return httpx.get(base + path, timeout=5, trust_env=False).text


def test_a_catch_all_service_comes_up_hot_deploys_and_rolls_back_its_code(tmp_path):
    file, base = catch_all_project(tmp_path)
    up = cli(file, "up", "--detach")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        first = body(base)
        assert first.startswith("old-code ")
        assert body(base, "/") == first  # "/" and any other path reach the one service

        write_app(file.parent, "new-code")
        with Load(base, path="/orders/1") as load:
            deployed = cli(file, "deploy", "web")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert load.failures == [], load.failures[:5]
        assert load.total > 50
        assert body(base).startswith("new-code ")

        with Load(base, path="/") as load:
            back = cli(file, "rollback", "web")
        assert back.returncode == 0, back.stdout + back.stderr
        assert load.failures == [], load.failures[:5]
        assert {body(base) for _ in range(6)} == {first}  # the old bytes answer again
        assert "new-code" in (file.parent / "web.py").read_text()  # the disk is unchanged

        listing = cli(file, "releases", "web")
        old_version, new_version = first.split()[1], None
        for line in listing.stdout.splitlines():
            if "previous" in line:
                new_version = line.split("│")[1].strip()
        assert old_version[:8] in listing.stdout and new_version is not None

        web = service(file, "web")
        assert web["identical"] and {i["version"] for i in web["instances"]} == {old_version}
        victim = web["instances"][0]
        os.kill(pid_of(victim), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = service(file, "web")["instances"]
            if len([i for i in now if i["state"] == "serving" and i["alive"]]) == 3 \
                    and pid_of(victim) not in {pid_of(i) for i in now}:
                break
            time.sleep(0.2)
        restarted = next(i for i in service(file, "web")["instances"]
                         if i["id"] == victim["id"])
        assert restarted["restarts"] == 1 and restarted["digest"] == victim["digest"]
        assert {body(base) for _ in range(9)} == {first}  # the restart runs the old code too
    finally:
        cli(file, "down", timeout=60)


def test_deploying_a_taken_version_name_with_other_code_is_refused(tmp_path):
    file, base = catch_all_project(tmp_path)
    try:
        assert cli(file, "deploy", "web", "--version", "1.0").returncode == 3  # not up yet
        assert cli(file, "up", "--detach").returncode == 0
        assert cli(file, "deploy", "web", "--version", "1.0").returncode == 0
        write_app(file.parent, "other-code")
        refused = cli(file, "deploy", "web", "--version", "1.0")
        assert refused.returncode == 2
        assert "version 1.0 already exists with different content" in refused.stderr
        assert body(base).startswith("old-code 1.0")
        same = cli(file, "deploy", "web", "--version", "1.1")
        assert same.returncode == 0 and body(base).startswith("other-code 1.1")
    finally:
        cli(file, "down", timeout=60)


def wait_body(base: str, prefix: str, timeout: float = 40.0) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = body(base)
        except httpx.TransportError as exc:  # not up yet
            seen = repr(exc)
        if seen.startswith(prefix):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"no answer starting with {prefix!r} within {timeout}s: {seen!r}")


def test_up_watch_deploys_each_edit_and_rolls_back_a_broken_one(tmp_path):
    file, base = catch_all_project(tmp_path)
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    watcher = subprocess.Popen([*CLI, "up", "--watch", "--file", str(file)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(watcher.stdout), daemon=True)
    reader.start()
    try:
        wait_body(base, "old-code ")
        time.sleep(1.0)  # the watcher is armed once `up` printed that it is watching
        with Load(base, path="/w") as load:
            write_app(file.parent, "edited-code")
            wait_body(base, "edited-code ")
        assert load.failures == [], load.failures[:5]
        # A release that cannot start is rolled back; the edited code keeps answering.
        (file.parent / "web.py").write_text("raise SystemExit('broken on purpose')\n")
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and "deploy failed" not in "".join(output):
            time.sleep(0.2)
        assert "deploy failed" in "".join(output), "".join(output)[-2000:]
        assert body(base).startswith("edited-code ")
        write_app(file.parent, "fixed-code")  # and watching went on
        wait_body(base, "fixed-code ")
    finally:
        watcher.send_signal(signal.SIGTERM)  # as Ctrl-C: stops everything
        try:
            watcher.wait(60)
        finally:
            cli(file, "down", timeout=60)
