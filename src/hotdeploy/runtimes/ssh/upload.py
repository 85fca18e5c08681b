"""A release onto a host: once per digest, whole or not at all.

It is written to `<version>.upload-*` beside its place and renamed, with a `.digest` file, into
`remote_dir/releases/<service>/<version>/`; a host that has that digest there already is not
sent it again.
"""

from __future__ import annotations

import shlex
import time

from hotdeploy.runtimes.base import InstanceSpec
from hotdeploy.runtimes.ssh.connection import Connections
from hotdeploy.runtimes.ssh.settings import SshHost, SshSettings


def release_dir(how: SshSettings, spec: InstanceSpec) -> str:
    return f"{how.remote_dir}/releases/{spec.service}/{spec.release.version}"


async def upload(conns: Connections, host: SshHost, how: SshSettings,
                 spec: InstanceSpec) -> str:
    """The release's directory on `host`, uploading it unless that digest is there."""
    target = release_dir(how, spec)
    marker = f"{target}/.digest"
    have = await conns.run(host, how, f"cat {shlex.quote(marker)} 2>/dev/null || true")
    if have.strip() == spec.release.digest:
        return target
    tmp = f"{target}.upload-{int(time.time() * 1000)}"
    await conns.run(host, how, f"rm -rf {shlex.quote(target)} && mkdir -p {shlex.quote(tmp)}")
    await conns.put(host, how, spec.release.code_dir, tmp + "/code")
    await conns.run(host, how, f"printf %s {shlex.quote(spec.release.digest)} > "
                               f"{shlex.quote(tmp)}/.digest && mv {shlex.quote(tmp)} "
                               f"{shlex.quote(target)}")
    return target
