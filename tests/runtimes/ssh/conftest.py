"""Two SSH "hosts" on this machine: real sshd processes on 127.0.0.2 and 127.0.0.3 (loopback
only), with generated host and client keys and no password authentication."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class SshHosts:
    hosts: list[str]  # "root@127.0.0.2:PORT"
    identity: Path
    known_hosts: Path
    procs: list[subprocess.Popen]
    root: Path

    def stop(self, index: int) -> None:
        """The host is lost: its sshd stops (its instances keep running, unreachable)."""
        self.procs[index].terminate()
        self.procs[index].wait(10)

    def lose(self, index: int, vm_dies: bool = True) -> list[int]:
        """The host is gone for good: its sshd and every session of it (an established SSH
        connection outlives the listening sshd, as on a real host) are killed; with
        `vm_dies`, so is every process started through it (its instances). The killed pids."""
        master = self.procs[index].pid
        victims = [master, *_descendants(master)]
        _kill(victims)  # first, so that no session starts anything after the look below
        if vm_dies:
            marker = f"{HOST_MARKER}={self.hosts[index].split('@')[1].split(':')[0]}".encode()
            started = [pid for pid in _pids() if marker in _environ(pid).split(b"\0")]
            _kill(started)
            victims += started
        self.procs[index].wait(10)
        return victims


# Every process a test host starts has this in its environment (sshd's SetEnv): "which VM"
# for a test that kills one host's processes as a dying VM would.
HOST_MARKER = "HOTDEPLOY_TEST_HOST"


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> list[int]:
    parents = {pid: _parent(pid) for pid in _pids()}
    found, frontier = [], {root}
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = set(children)
    return found


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _keygen(path: Path, kind: str = "ed25519") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)


def _wait_listening(address: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((address, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on {address}:{port}")


@pytest.fixture
def ssh_hosts(tmp_path_factory):
    if not Path(SSHD).exists():
        pytest.skip("openssh-server is not installed (.ci/run installs it)")
    import os
    if os.geteuid() != 0:
        pytest.skip("the test sshd logs in as root: run the tests as root, as CI does")
    root = tmp_path_factory.mktemp("ssh")
    identity = root / "client_key"
    _keygen(identity)
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    hosts, procs, known = [], [], []
    for address in ("127.0.0.2", "127.0.0.3"):
        port = _free_port(address)
        key = root / f"host_{address}"
        _keygen(key)
        config = root / f"sshd_{address}.conf"
        config.write_text(f"""
ListenAddress {address}:{port}
HostKey {key}
PidFile {root}/sshd_{address}.pid
AuthorizedKeysFile {root}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
SetEnv {HOST_MARKER}={address}
""")
        with open(root / f"sshd_{address}.log", "wb") as log:
            procs.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                          stdout=subprocess.DEVNULL, stderr=log))
        _wait_listening(address, port)
        known.append(f"[{address}]:{port} {(root / f'host_{address}.pub').read_text().strip()}")
        hosts.append(f"root@{address}:{port}")
    (root / "known_hosts").write_text("\n".join(known) + "\n")
    yield SshHosts(hosts, identity, root / "known_hosts", procs, root)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


# --- a host with systemd as PID 1 -------------------------------------------------------------
# systemd is not PID 1 on the test machine: this "VM" is a container of the tests' base image
# with systemd and sshd (systemd_host/Dockerfile), sharing the machine's network with its sshd
# on 127.0.0.4 only. It gets CAP_SYS_ADMIN and its own cgroup namespace (what systemd needs),
# not --privileged, no --pid=host; its Dockerfile masks every unit that could touch the
# machine. This test's interpreter and hotdeploy's sources are mounted read-only at the same
# paths, so the hosts' `python` is this one.
SYSTEMD_IMAGE = "hotdeploy-test-systemd:bookworm"
BASE_IMAGE = "hotdeploy-test-base:bookworm"
SYSTEMD_ADDRESS = "127.0.0.4"
SOURCES_INSIDE = "/opt/hotdeploy-test-src"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def _systemd_image() -> None:
    """Built once per content of systemd_host/ (a label records which)."""
    if shutil.which("docker") is None or _docker("info").returncode != 0:
        pytest.skip("no Docker daemon answers (.ci/run starts one)")
    context = Path(__file__).parent / "systemd_host"
    digest = hashlib.sha256(b"".join(path.read_bytes()
                                     for path in sorted(context.iterdir()))).hexdigest()[:16]
    have = _docker("image", "inspect", "-f", '{{index .Config.Labels "hotdeploy.test.context"}}',
                   SYSTEMD_IMAGE)
    if have.returncode == 0 and have.stdout.strip() == digest:
        return
    if _docker("image", "inspect", BASE_IMAGE).returncode != 0:
        pytest.skip(f"{BASE_IMAGE} is not built (.ci/run builds it with mmdebstrap)")
    # Debian packages over the machine's network (the daemon has no bridge).
    built = _docker("build", "--network", "host", "-q", "--label",
                    f"hotdeploy.test.context={digest}", "-t", SYSTEMD_IMAGE, str(context),
                    timeout=900)
    if built.returncode != 0:
        pytest.skip(f"cannot build {SYSTEMD_IMAGE}: {built.stderr.strip()[-500:]}")


@pytest.fixture
def systemd_host(tmp_path_factory):
    """One SSH host (root@127.0.0.4:PORT) whose init is a real systemd."""
    import sys

    import hotdeploy
    if os.geteuid() != 0:
        pytest.skip("the test sshd logs in as root: run the tests as root, as CI does")
    _systemd_image()
    root = tmp_path_factory.mktemp("systemd-host")
    config = root / "hd-test"
    config.mkdir()
    _keygen(config / "host_key")
    _keygen(root / "client_key")
    (config / "authorized_keys").write_text((root / "client_key.pub").read_text())
    port = _free_port(SYSTEMD_ADDRESS)
    (config / "sshd_config").write_text(f"""
ListenAddress {SYSTEMD_ADDRESS}:{port}
HostKey /hd-test/host_key
PidFile /run/sshd-test.pid
AuthorizedKeysFile /hd-test/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
""")
    # The units run with PrivateTmp=yes, which hides everything under /tmp from the instance:
    # a checkout under /tmp (CI clones there) is mounted a second time outside it, and the
    # tests point the instances' PYTHONPATH there (SystemdHost.env).
    mounts = {config: "/hd-test", Path(hotdeploy.__file__).resolve().parents[1]: SOURCES_INSIDE}
    for path in {Path(sys.prefix), Path(sys.base_prefix), Path(sys.prefix).resolve(),
                 Path(hotdeploy.__file__).resolve().parents[1]}:
        mounts.setdefault(path, str(path))
    volumes = [arg for local, inside in mounts.items() for arg in ("-v", f"{local}:{inside}:ro")]
    started = _docker("run", "-d", "--network", "host", "--cap-add", "SYS_ADMIN",
                      "--security-opt", "seccomp=unconfined", "--cgroupns", "private",
                      # No tmpfs on /tmp: it would hide the sources when the checkout is
                      # under /tmp (CI clones there), and the image's /tmp is writable anyway.
                      "--tmpfs", "/run", "--tmpfs", "/run/lock",
                      "--label", "hotdeploy.test=systemd-host", *volumes, SYSTEMD_IMAGE)
    if started.returncode != 0:
        pytest.skip(f"cannot run a systemd container here: {started.stderr.strip()}")
    container = started.stdout.strip()
    try:
        try:
            _wait_listening(SYSTEMD_ADDRESS, port, timeout=60)
        except RuntimeError:
            logs = _docker("logs", container).stdout[-2000:]
            pytest.skip(f"systemd in a container did not come up here: {logs}")
        (root / "known_hosts").write_text(
            f"[{SYSTEMD_ADDRESS}]:{port} {(config / 'host_key.pub').read_text().strip()}\n")
        yield SystemdHost(f"root@{SYSTEMD_ADDRESS}:{port}", root / "client_key",
                          root / "known_hosts", container)
    finally:
        _docker("rm", "-f", container)


@dataclass
class SystemdHost:
    host: str
    identity: Path
    known_hosts: Path
    container: str
    # The instances' environment on this host: hotdeploy's sources where PrivateTmp keeps them.
    env: dict[str, str] = field(default_factory=lambda: {"PYTHONPATH": SOURCES_INSIDE})

    def run(self, command: str) -> str:
        """A command on the host, not over SSH (what an operator would see there)."""
        result = _docker("exec", self.container, "sh", "-c", command)
        return result.stdout + result.stderr
