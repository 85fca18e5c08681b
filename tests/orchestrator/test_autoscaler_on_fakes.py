"""The autoscaling loop (orchestrator.autoscaler) on the fakes: it reads the data plane's
in-flight counts, steps through `rollout.scale` (health-gated: a new instance joins only once
healthy), records and logs each decision, leaves a service alone while its lock is held, and
keeps the count when a step fails."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from hotdeploy.dataplane.base import Capabilities
from hotdeploy.orchestrator.commands import deploy as deploy_cmd
from hotdeploy.orchestrator.commands import status as status_cmd
from hotdeploy.orchestrator.commands.base import Args
from hotdeploy.orchestrator.commands.deploy import DeployArgs
from hotdeploy.orchestrator.controller import Controller
from hotdeploy.orchestrator.model import InstanceState
from hotdeploy.orchestrator.supervisor import Supervisor
from hotdeploy.testing.fakes import FakeClock, FakeDataPlane, FakeRuntime

UPSTREAM = "svc_orders"
SCALE = '{ min = 1, max = 3, inflight = 4, window = "2s", cooldown = "5s" }'


def project(root: Path, autoscale: str = SCALE, instances: int = 1) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "orders.py").write_text("VERSION = 1\n")
    file = root / "hotdeploy.toml"
    file.write_text(f"""
[project]
name = "shop"
[balancer]
listen = "127.0.0.1:1"
[services.orders]
app = "orders:app"
path = "src"
instances = {instances}
version = "1"
autoscale = {autoscale}
[services.payments]
app = "orders:app"
path = "src"
version = "1"
[deploy]
drain_timeout = "5s"
health_timeout = "3s"
""")
    return file


class World:
    def __init__(self, root: Path, capabilities: Capabilities | None = None, **kwargs) -> None:
        self.runtime = FakeRuntime()
        self.dataplane = FakeDataPlane()
        if capabilities is not None:
            self.dataplane.capabilities = capabilities
        self.clock = FakeClock()
        self.events: list[str] = []
        self.ctl = Controller(str(project(root, **kwargs)), runtime=self.runtime,
                              dataplane=self.dataplane, probe=self.runtime.probe,
                              clock=self.clock, sleep=self.clock.sleep, log=self.events.append)

    def load(self, per_server: int) -> None:
        """Every listed server of orders has `per_server` requests in flight."""
        group = self.dataplane.upstreams[UPSTREAM]
        for server_id, view in group.items():
            group[server_id] = replace(view, active=per_server)

    async def run_for(self, seconds: float, per_server: int) -> None:
        end = self.clock() + seconds
        while self.clock() < end:
            self.load(per_server)
            await self.ctl.autoscaler().tick()
            await self.clock.sleep(0.5)

    @property
    def serving(self) -> int:
        return len(self.ctl.state.services["orders"].serving())


async def test_scales_up_to_max_under_load_and_back_to_min_after_the_cooldown(tmp_path):
    world = World(tmp_path)
    await world.ctl.boot()
    await world.run_for(10, 9)
    svc = world.ctl.state.services["orders"]
    assert (world.serving, svc.desired) == (3, 3)
    assert len(world.dataplane.listed(UPSTREAM)) == 3
    assert [e.split(" ", 1)[1] for e in world.events if "autoscale=" in e] == [
        'orders: service=orders autoscale=1->2 reason="9.0 in flight per instance over 2s > '
        'target 4"',
        'orders: service=orders autoscale=2->3 reason="9.0 in flight per instance over 2s > '
        'target 4"']
    await world.run_for(30, 0)
    assert (world.serving, svc.desired) == (1, 1)
    assert svc.last_autoscale["to"] == 1 and svc.last_autoscale["status"] == "done"
    assert "< 2 for 5s cooldown" in svc.last_autoscale["reason"]
    payments = world.ctl.state.services["payments"]
    assert payments.desired == 1 and "payments" not in world.ctl.autoscaler().scalers


async def test_a_new_instance_joins_only_once_healthy_and_a_failed_step_keeps_the_count(
        tmp_path):
    world = World(tmp_path)
    await world.ctl.boot()
    world.runtime.unhealthy.add("1")  # from now on a new instance of release 1 never is healthy
    await world.run_for(2.5, 9)
    svc = world.ctl.state.services["orders"]
    assert svc.last_autoscale["status"] == "failed"
    assert "did not become healthy" in svc.last_autoscale["message"]
    assert (world.serving, svc.desired) == (1, 1)
    assert len(world.dataplane.listed(UPSTREAM)) == 1  # the unhealthy one never joined


async def test_a_deploy_in_between_starts_the_measurement_afresh(tmp_path):
    world = World(tmp_path)
    await world.ctl.boot()
    await world.run_for(1.5, 9)  # three quarters of a window, far above the target
    await deploy_cmd.run(world.ctl, DeployArgs(service="orders", version="2"),
                         world.events.append)
    assert world.serving == 1
    await world.run_for(1.5, 9)  # would be a full window counting the samples before it
    assert world.serving == 1 and world.ctl.state.services["orders"].last_autoscale == {}
    await world.run_for(1, 9)
    assert world.serving == 2


async def test_a_deploy_waits_for_a_step_and_the_step_for_a_deploy(tmp_path):
    world = World(tmp_path)
    await world.ctl.boot()
    lock = world.ctl.locks["orders"]
    await lock.acquire()  # a deploy of orders runs
    tick = asyncio.ensure_future(world.ctl.autoscaler().tick())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not tick.done()  # no sample, no decision while the deploy holds the service
    lock.release()
    await tick


async def test_an_engine_without_in_flight_counts_keeps_the_count_and_says_so(tmp_path):
    blind = Capabilities(live_changes=False, drain_counts=False, server_counters=False,
                         active_checks=False)
    world = World(tmp_path, capabilities=blind)
    await world.ctl.boot()
    await world.run_for(10, 9)
    assert world.serving == 1
    notes = [e for e in world.events if "counts no in-flight" in e]
    assert len(notes) == 1, notes


async def test_status_shows_the_range_the_load_and_the_last_step(tmp_path):
    world = World(tmp_path)
    await world.ctl.boot()
    await world.run_for(2.5, 9)
    result = await status_cmd.run(world.ctl, Args(), world.events.append)
    orders = next(s for s in result.services if s.name == "orders")
    assert orders.autoscale is not None
    assert (orders.autoscale.min, orders.autoscale.max, orders.autoscale.inflight) == (1, 3, 4)
    assert orders.autoscale.last["from"] == 1 and orders.autoscale.last["to"] == 2
    payments = next(s for s in result.services if s.name == "payments")
    assert payments.autoscale is None


async def test_instances_below_min_are_topped_up_to_min(tmp_path):
    world = World(tmp_path, autoscale='{ min = 2, max = 3, inflight = 4, window = "2s" }')
    await world.ctl.boot()
    assert world.serving == 1  # `instances` is what boot starts
    await world.run_for(1, 0)
    assert world.serving == 2
    assert world.ctl.state.services["orders"].last_autoscale["reason"] == "below min 2"


async def test_no_step_while_the_supervisor_restarts_a_crashed_instance(tmp_path):
    world = World(tmp_path, instances=2)
    await world.ctl.boot()
    supervisor = Supervisor(lambda: {"orders": world.ctl.context("orders")}, world.ctl.locks,
                            world.ctl.supervisor()._policy, world.events.append,
                            clock=world.clock)
    crashed = world.ctl.state.services["orders"].instances[0]
    world.runtime.kill(crashed.instance_id)
    await supervisor.sweep()  # noticed: out of the balancer, a restart scheduled after back-off
    assert crashed.state == InstanceState.CRASHED
    await world.run_for(5, 9)  # the survivor is loaded far above the target meanwhile
    assert world.ctl.state.services["orders"].last_autoscale == {}
    await supervisor.sweep()  # back-off over: restarted under the same id
    assert world.serving == 2
    await world.run_for(2.5, 9)
    assert world.ctl.state.services["orders"].last_autoscale["to"] == 3
