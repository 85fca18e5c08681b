"""Main-context process directives on a running `hotdeploy lb`: worker_rlimit_nofile sets the
serving process's RLIMIT_NOFILE; `user` is warned about by -t when not root; load_module is
refused by -t with the module's name."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from lbtools import free_port, run_lb, start_balancer


def _limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line")


def test_worker_rlimit_nofile_sets_the_limit(tmp_path: Path) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 4096) - 7  # within the hard limit: allowed without privileges
    port = free_port()
    text = (f"worker_rlimit_nofile {wanted};\nerror_log logs/error.log info;\n"
            f"events {{}}\nhttp {{ server {{ listen 127.0.0.1:{port}; return 204; }} }}\n")
    balancer = start_balancer(tmp_path, text, port)
    try:
        assert _limits(balancer.process.pid) == (wanted, wanted)
    finally:
        balancer.stop()


def test_t_warns_about_user_and_accepts_it(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("user root;\nevents {}\n")
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 0, result.stderr
    warning = ('the "user" directive makes sense only if the master process runs with '
               f"super-user privileges, ignored in {conf}:1")
    assert (warning in result.stderr) == (os.geteuid() != 0)
    as_root = f'the "user" directive is not applied by hotdeploy in {conf}:1'
    assert (as_root in result.stderr) == (os.geteuid() == 0)


@pytest.mark.parametrize("module", ["ngx_http_lua_module", "ndk_http_module"])
def test_t_refuses_load_module_naming_it(tmp_path: Path, module: str) -> None:
    enabled = tmp_path / "modules-enabled"
    enabled.mkdir()
    (enabled / "50-mod.conf").write_text(f"load_module modules/{module}.so;\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"include {enabled}/*.conf;\nevents {{}}\n")
    result = run_lb("-t", "-p", str(tmp_path), "-c", str(conf))
    assert result.returncode == 1
    assert f'"{module}" cannot be loaded' in result.stderr
    assert f"in {enabled / '50-mod.conf'}:1" in result.stderr
