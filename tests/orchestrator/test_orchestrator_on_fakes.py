"""The orchestrator on the fakes (hotdeploy.testing): every strategy with a fault injected at
each of its operations in turn, instances that never become healthy or crash, capabilities
an engine lacks, and a control process that dies at each operation of a deploy.

The invariant after any failure: the service serves at full strength from the old release,
the data plane lists exactly the serving instances, at weight 1 and up, and nothing else of
the service runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotdeploy.dataplane.base import Capabilities
from hotdeploy.errors import DeployError
from hotdeploy.orchestrator.commands import deploy as deploy_cmd
from hotdeploy.orchestrator.commands import rollback as rollback_cmd
from hotdeploy.orchestrator.commands.deploy import DeployArgs
from hotdeploy.orchestrator.commands.rollback import RollbackArgs
from hotdeploy.orchestrator.controller import Controller
from hotdeploy.orchestrator.model import InstanceState
from hotdeploy.orchestrator.supervisor import Supervisor
from hotdeploy.testing.fakes import FakeClock, FakeDataPlane, FakeRuntime, Faults

UPSTREAM = "svc_orders"


class Died(BaseException):
    """The control process is gone (SIGKILL): nothing after this point runs."""


class DyingFaults(Faults):
    def __init__(self, die_at: int | None = None) -> None:
        super().__init__()
        self.die_at = die_at

    def tick(self, operation: str) -> None:
        super().tick(operation)
        if self.die_at is not None and self.count == self.die_at:
            self.die_at = None
            raise Died(operation)


def project(root: Path, balancer: str = "active-active-health", instances: int = 3,
            deploy: str = "") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "orders.py").write_text("VERSION = 1\n")
    file = root / "hotdeploy.toml"
    file.write_text(f"""
[project]
name = "shop"
[balancer]
listen = "127.0.0.1:1"
strategy = "{balancer}"
[services.orders]
app = "orders:app"
path = "src"
instances = {instances}
version = "1"
[deploy]
drain_timeout = "5s"
health_timeout = "3s"
canary = {{ steps = [50, 100], pause = "1s" }}
{deploy}
""")
    return file


class World:
    """A controller on fakes, plus the fakes (the world outlives a controller that dies)."""

    def __init__(self, root: Path, faults: Faults | None = None, **project_kwargs) -> None:
        self.file = project(root, **project_kwargs)
        self.faults = faults or Faults()
        self.runtime = FakeRuntime(self.faults)
        self.dataplane = FakeDataPlane(self.faults)
        self.clock = FakeClock()
        self.events: list[str] = []
        self.ctl = self.controller()

    def controller(self) -> Controller:
        return Controller(str(self.file), runtime=self.runtime, dataplane=self.dataplane,
                          probe=self.runtime.probe, clock=self.clock, sleep=self.clock.sleep,
                          log=self.events.append)

    async def boot(self) -> None:
        await self.ctl.boot()
        assert self.ctl.ready, self.ctl.boot_error

    async def deploy(self, **kwargs) -> None:
        args = DeployArgs(service="orders", **{"version": "2", **kwargs})
        await deploy_cmd.run(self.ctl, args, self.events.append)

    def assert_full_strength(self, version: str) -> None:
        svc = self.ctl.state.services["orders"]
        serving = svc.serving()
        assert len(serving) == svc.desired, [(i.instance_id, i.state) for i in svc.instances]
        assert {i.version for i in serving} == {version}
        assert svc.release.version == version
        assert all(i.state == InstanceState.SERVING for i in svc.instances)
        listed = self.dataplane.listed(UPSTREAM)
        assert set(listed) == {i.address for i in serving}
        assert all(v.state == "up" and v.weight == 1 for v in listed.values()), listed
        running = {str(i.handle.endpoint) for i in self.runtime.running()}
        assert running == {i.address for i in [*svc.instances, *svc.standby]}


STRATEGIES = [("rolling", "active-active-health"), ("blue-green", "active-active-health"),
              ("canary", "active-active-health"), ("rolling", "active-passive")]


@pytest.mark.parametrize(("strategy", "balancer"), STRATEGIES)
async def test_a_fault_at_any_operation_rolls_back_to_full_strength_on_the_old_release(
        tmp_path, strategy, balancer):
    clean = World(tmp_path / "clean", balancer=balancer)
    await clean.boot()
    first = clean.faults.count + 1
    await clean.deploy(strategy=strategy)
    clean.assert_full_strength("2")
    last = clean.faults.count
    assert last - first > 10  # the deploy is made of many operations, each tried below
    for fail_at in range(first, last + 1):
        world = World(tmp_path / f"fault-{fail_at}", Faults(fail_at), balancer=balancer)
        await world.boot()
        try:
            await world.deploy(strategy=strategy)
        except DeployError as exc:
            assert "injected fault" in str(exc) and "rolled back to version 1" in str(exc)
            world.assert_full_strength("1")
        else:  # the fault hit a step whose failure does not matter (a look at the servers)
            world.assert_full_strength("2")


async def test_an_instance_that_never_becomes_healthy_fails_the_deploy_and_says_why(tmp_path):
    world = World(tmp_path)
    world.runtime.unhealthy.add("2")
    await world.boot()
    with pytest.raises(DeployError) as failure:
        await world.deploy()
    message = str(failure.value)
    assert "did not become healthy within 3s" in message
    assert "/health -> HTTP 503" in message and "fake log of orders-4" in message
    world.assert_full_strength("1")
    assert not world.ctl.store.went_live("orders", "2")


async def test_a_release_that_crashes_at_start_is_rolled_back_with_its_log(tmp_path):
    world = World(tmp_path)
    world.runtime.crashing.add("2")
    await world.boot()
    with pytest.raises(DeployError, match="exited before it became healthy"):
        await world.deploy()
    world.assert_full_strength("1")


async def test_an_instance_crashing_while_it_drains_does_not_fail_the_deploy(tmp_path):
    world = World(tmp_path)
    await world.boot()
    old = {i.address: i.instance_id for i in world.ctl.state.services["orders"].instances}
    world.dataplane.inflight = dict.fromkeys(old, 5)  # drains take several looks
    update = world.dataplane.update

    async def crash_when_drained(upstream, server_id, **changes):
        await update(upstream, server_id, **changes)
        if changes.get("drain"):
            address = world.dataplane.upstreams[upstream][server_id].address
            world.runtime.kill(old[address])

    world.dataplane.update = crash_when_drained
    await world.deploy()
    world.assert_full_strength("2")


async def test_a_crashed_instance_restarts_from_the_same_release_snapshot(tmp_path):
    world = World(tmp_path)
    await world.boot()
    svc = world.ctl.state.services["orders"]
    (tmp_path / "src" / "orders.py").write_text("VERSION = 2\n")  # edited, not deployed
    victim = svc.instances[0]
    code = world.runtime.instances[victim.handle.ref].spec.release.code_dir
    world.runtime.kill(victim.instance_id)
    supervisor = Supervisor(lambda: {"orders": world.ctl.context("orders")}, world.ctl.locks,
                            world.ctl.supervisor()._policy, world.events.append,
                            clock=world.clock)
    await supervisor.sweep()  # sees the crash
    world.clock.now += 60
    await supervisor.sweep()  # restarts it after the back-off
    world.assert_full_strength("1")
    again = next(i for i in svc.instances if i.instance_id == victim.instance_id)
    assert again.restarts == 1 and again.handle != victim.handle
    assert world.runtime.instances[again.handle.ref].spec.release.code_dir == code
    assert (Path(code) / "orders.py").read_text() == "VERSION = 1\n"


async def test_only_restarts_and_a_rollbacks_replacements_may_be_placed_elsewhere(tmp_path):
    """A deploy's instances go where the runtime places them or fail the deploy (a lost SSH
    host fails it); a rollback's replacements and a restart may go anywhere that works."""
    clean = World(tmp_path / "clean")
    await clean.boot()
    first = clean.faults.count
    await clean.deploy()
    starts = [n for n, op in enumerate(clean.faults.log, start=1)
              if n > first and op.startswith("start ")]
    world = World(tmp_path / "late", Faults(starts[-1]))  # old ones are stopped by then
    await world.boot()
    booted = set(world.runtime.instances)
    with pytest.raises(DeployError, match="rolled back to version 1"):
        await world.deploy()
    world.assert_full_strength("1")
    specs = [i.spec for ref, i in world.runtime.instances.items() if ref not in booted]
    assert {s.relocatable for s in specs if s.release.version == "2"} == {False}
    assert {s.relocatable for s in specs if s.release.version == "1"} == {True}
    victim = world.ctl.state.services["orders"].instances[0]
    world.runtime.kill(victim.instance_id)
    supervisor = Supervisor(lambda: {"orders": world.ctl.context("orders")}, world.ctl.locks,
                            world.ctl.supervisor()._policy, world.events.append,
                            clock=world.clock)
    await supervisor.sweep()
    world.clock.now += 60
    await supervisor.sweep()
    (restarted,) = [i.spec for i in world.runtime.running()
                    if i.spec.instance_id == victim.instance_id]
    assert restarted.relocatable


async def test_without_drain_counts_a_server_is_removed_then_given_drain_timeout(tmp_path):
    world = World(tmp_path)
    world.dataplane.capabilities = Capabilities(live_changes=True, drain_counts=False,
                                                server_counters=False, active_checks=False)
    await world.boot()
    started = world.clock.now
    await world.deploy()
    world.assert_full_strength("2")
    assert not [op for op in world.faults.log if op.startswith("update")]  # no drain asked
    assert world.clock.now - started >= 3 * 5.0  # drain_timeout for each of the 3 old ones


async def test_a_canary_is_refused_by_an_engine_without_per_server_counters(tmp_path):
    world = World(tmp_path)
    world.dataplane.capabilities = Capabilities(live_changes=True, drain_counts=True,
                                                server_counters=False, active_checks=True)
    await world.boot()
    with pytest.raises(DeployError, match="per-server counters"):
        await world.deploy(strategy="canary")
    world.assert_full_strength("1")


async def test_rollback_runs_the_previous_release_snapshot_and_to_any_kept_one(tmp_path):
    world = World(tmp_path)
    await world.boot()
    first = world.ctl.state.services["orders"].release
    (tmp_path / "src" / "orders.py").write_text("VERSION = 2\n")
    await world.deploy()
    second = world.ctl.state.services["orders"].release
    assert second.digest != first.digest
    await rollback_cmd.run(world.ctl, RollbackArgs(service="orders"), world.events.append)
    world.assert_full_strength("1")
    codes = {world.runtime.instances[i.handle.ref].spec.release.code_dir
             for i in world.ctl.state.services["orders"].instances}
    assert codes == {first.code_dir}
    await rollback_cmd.run(world.ctl, RollbackArgs(service="orders", to="2"),
                           world.events.append)
    world.assert_full_strength("2")


async def test_a_version_name_taken_by_other_content_is_refused_and_the_same_is_a_noop(
        tmp_path):
    world = World(tmp_path)
    await world.boot()
    (tmp_path / "src" / "orders.py").write_text("VERSION = 2\n")
    with pytest.raises(DeployError, match="version 1 already exists with different content"):
        await world.deploy(version="1")
    (tmp_path / "src" / "orders.py").write_text("VERSION = 1\n")
    operations = world.faults.count
    result = await deploy_cmd.run(world.ctl, DeployArgs(service="orders", version="1"),
                                  world.events.append)
    assert "nothing to deploy" in result.message
    assert world.faults.count == operations  # nothing was started, added or stopped
    world.assert_full_strength("1")


@pytest.mark.parametrize("strategy", ["rolling", "blue-green"])
async def test_a_control_process_dying_at_any_operation_is_adopted_back_to_full_strength(
        tmp_path, strategy):
    clean = World(tmp_path / "clean")
    await clean.boot()
    first = clean.faults.count + 1
    await clean.deploy(strategy=strategy)
    last = clean.faults.count
    for die_at in range(first, last + 1):
        world = World(tmp_path / f"die-{die_at}", DyingFaults(die_at))
        await world.boot()
        with pytest.raises(Died):
            await world.deploy(strategy=strategy)
        world.ctl = world.controller()  # `hotdeploy up` again: a new control process
        await world.boot()
        # The release switches only once the deploy has finished: an interrupted deploy is
        # undone, whatever it had started or drained.
        world.assert_full_strength("1")
