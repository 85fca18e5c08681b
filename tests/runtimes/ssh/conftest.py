"""Two SSH "hosts" on this machine: real sshd processes on 127.0.0.2 and 127.0.0.3 (loopback
only), with generated host and client keys and no password authentication."""

from __future__ import annotations

import shutil
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
