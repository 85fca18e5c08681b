"""Two SSH "hosts" on this machine: real sshd processes on 127.0.0.2 and 127.0.0.3 (loopback
only), with generated host and client keys and no password authentication."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
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
