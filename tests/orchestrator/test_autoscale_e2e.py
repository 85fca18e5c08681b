"""Issue 11's autoscaling, for real: the local runtime and `hotdeploy lb`, a backend whose
requests take 200 ms, bounded concurrent load on loopback. The control process scales up to
`max` while the load lasts (health-gated: no request fails) and back to `min` once it has
stayed low for the cooldown. Windows are short (project keys) so the test takes seconds."""

from __future__ import annotations

import pytest
from autoscale_scenario import CLIENTS, scale_up_then_down, slow_project
from hd_e2e_harness import cli, status

from hotdeploy.dataplane.nginx.detect import find_binary, inspect

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def project(tmp_path):
    file, base = slow_project(tmp_path)
    up = cli(file, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    yield file, base
    cli(file, "down", timeout=60)


def test_scales_up_under_load_without_failures_and_back_to_min_after_the_cooldown(project):
    file, base = project
    scaled = scale_up_then_down(file, base)
    shown = cli(file, "status")
    assert shown.returncode == 0, shown.stderr
    assert "slow: autoscale 1..3 at 2 in flight per instance" in shown.stdout
    assert "last step 2 -> 1" in shown.stdout
    log = (file.parent / ".hotdeploy" / "logs" / "control.log").read_text()
    assert "service=slow autoscale=1->2 reason=" in log
    assert "service=slow autoscale=2->1 reason=" in log
    # What the autoscaler reads is what Prometheus scrapes from the balancer's /metrics.
    active = [line for line in scaled.scraped.splitlines()
              if line.startswith("hotdeploy_upstream_server_active{")
              and 'upstream="svc_slow"' in line]
    assert len(active) == 3 and sum(float(line.split()[-1]) for line in active) > 0, \
        scaled.scraped[:2000]
    print(f"\nlocal: scale up 1->3 under {CLIENTS} clients took {scaled.up_took:.1f}s, down "
          f"3->1 after the load dropped {scaled.down_took:.1f}s; {scaled.requests} requests, "
          f"0 failed")


def _nginx_has_lua() -> bool:
    try:
        return inspect(find_binary(None)).has_lua
    except Exception:  # no nginx at all
        return False


@pytest.mark.skipif(not _nginx_has_lua(), reason="needs nginx with libnginx-mod-http-lua "
                    "(installed by .ci/run)")
def test_the_nginx_engine_in_live_mode_counts_in_flight_requests_and_scales_too(tmp_path):
    file, base = slow_project(tmp_path, balancer='engine = "nginx"\nnginx_mode = "live"')
    try:
        up = cli(file, "up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        assert status(file)["dataplane"]["engine"] == "nginx"
        scaled = scale_up_then_down(file, base, metrics=False)  # nginx serves no /metrics
    finally:
        cli(file, "down", timeout=60)
    print(f"\nnginx live: scale up 1->3 under {CLIENTS} clients took {scaled.up_took:.1f}s, "
          f"down 3->1 after the load dropped {scaled.down_took:.1f}s; {scaled.requests} "
          f"requests, 0 failed")
