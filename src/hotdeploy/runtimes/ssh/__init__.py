"""The SSH runtime (instances on VMs over SSH): `hotdeploy.runtimes.ssh` is its public face.

Modules: settings (hosts, keys, paths), connection (asyncssh, one connection per host),
upload (a release onto a host), launch (what starting an instance takes), the two supervisors
(process_supervisor, systemd_supervisor) and runtime (placement and the Runtime interface).
"""

from hotdeploy.runtimes.ssh.connection import HostError
from hotdeploy.runtimes.ssh.runtime import SshRuntime
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings, settings_from

__all__ = ["HostError", "SshHost", "SshRuntime", "SshSettings", "settings_from"]
