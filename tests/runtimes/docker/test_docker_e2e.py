"""Issue 10's proof: hot deployments of containers under steady keep-alive load (GET and
POST, bounded, loopback only) through `hotdeploy lb`, counting every failed request. A real
Docker daemon; containers use host networking and listen on 127.0.0.1 ports."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from dockertools import (
    USER_DOCKERFILE,
    docker_client,
    make_docker_project,
    project_containers,
)
from hd_e2e_harness import Load, cli, pids, service, status, versions

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("base_image", "leftovers")]


@pytest.fixture
def dshop(tmp_path):
    """`dshop(**make_docker_project kwargs)` -> (project file, balancer URL), running."""
    projects = []

    def start(**kwargs):
        file, port = make_docker_project(tmp_path, **kwargs)
        projects.append(file)
        result = cli(file, "up", "--detach", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        return file, f"http://127.0.0.1:{port}"

    yield start
    for file in projects:
        cli(file, "down", timeout=90)


def running(project: str = "dshop") -> list:
    return [c for c in project_containers(project, all_=False) if c.status == "running"]


def gone(pid: int) -> bool:
    """Exited (or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def refs(file) -> set[str]:
    return {i["ref"] for i in service(file, "orders")["instances"]}


def test_rolling_deploy_of_three_containers_fails_no_request(dshop):
    file, base = dshop()
    assert service(file, "orders")["instances"][0]["runtime"] == "docker"
    assert service(file, "payments")["instances"][0]["runtime"] == "local"  # per service
    payments = pids(file, "payments")
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "building image hotdeploy/dshop-orders:2.0.0" in out and "build | " in out
    assert load.failures == [], load.failures[:5]
    assert load.total > 100
    assert load.versions["2.0.0"] > 0 and load.versions["1.0.0"] > 0
    containers = running()
    assert len(containers) == 3
    assert {c.labels["hotdeploy.version"] for c in containers} == {"2.0.0"}
    assert {c.image.tags[0] for c in containers} == {"hotdeploy/dshop-orders:2.0.0"}
    assert {c.id for c in containers} == refs(file)
    with httpx.Client(base_url=base, timeout=5, trust_env=False) as http:
        seen = {http.get("/orders").headers["x-version"] for _ in range(30)}
    assert seen == {"2.0.0"}
    assert versions(file, "orders") == ["2.0.0"] * 3
    assert pids(file, "payments") == payments  # the local service was not touched
    image = docker_client().images.get("hotdeploy/dshop-orders:2.0.0")
    assert image.labels["hotdeploy.project"] == "dshop"
    assert image.labels["hotdeploy.service"] == "orders"
    assert image.labels["hotdeploy.version"] == "2.0.0"
    assert len(image.labels["hotdeploy.digest"]) == 64
    assert image.attrs["Config"]["User"] == "10001:10001"
    assert image.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"
    container = containers[0]
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert container.labels["hotdeploy.instance"].startswith("orders-")


def test_a_container_that_never_becomes_healthy_is_rolled_back_and_removed(dshop):
    file, base = dshop()
    before = refs(file)
    with Load(base) as load:
        result = cli(file, "deploy", "orders", "--version", "2.0.0",
                     "--env", "EXAMPLE_UNHEALTHY=1", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "did not become healthy within 10s" in out and "/health -> HTTP 503" in out
    assert "rolled back to version 1.0.0" in out
    assert load.failures == [], load.failures[:5]
    assert refs(file) == before
    everything = project_containers("dshop")  # stopped ones too
    assert {c.labels["hotdeploy.version"] for c in everything} == {"1.0.0"}
    assert len(everything) == 3


def test_a_container_that_exits_at_start_reports_its_exit_code_and_log(dshop):
    file, _ = dshop(orders=1)
    result = cli(file, "deploy", "orders", "--version", "2.0.0", "--env", "EXAMPLE_CRASH=1",
                 timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "exited before it became healthy" in out and "crashing on purpose" in out
    assert "exited with code 3" in out
    assert versions(file, "orders") == ["1.0.0"]


def test_docker_kill_of_a_container_fails_no_request_and_it_is_restarted(dshop):
    file, base = dshop(balancer="active-active-health")
    victim = service(file, "orders")["instances"][0]
    with Load(base) as load:
        docker_client().containers.get(victim["ref"]).kill()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            now = service(file, "orders")["instances"]
            if len(now) == 3 and all(i["alive"] and i["state"] == "serving" for i in now) \
                    and victim["ref"] not in {i["ref"] for i in now}:
                break
            time.sleep(0.3)
    assert load.failures == [], load.failures[:5]
    restarted = next(i for i in service(file, "orders")["instances"] if i["id"] == victim["id"])
    assert restarted["restarts"] == 1 and restarted["ref"] != victim["ref"]
    assert len(running()) == 3
    assert versions(file, "orders") == ["1.0.0"] * 3


def test_rollback_reuses_the_kept_image_without_rebuilding(dshop):
    file, base = dshop(orders=2)
    old_image = docker_client().images.get("hotdeploy/dshop-orders:1.0.0").id
    assert cli(file, "deploy", "orders", "--version", "2.0.0", timeout=120).returncode == 0
    with Load(base) as load:
        result = cli(file, "rollback", "orders", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "image hotdeploy/dshop-orders:1.0.0 kept" in out and "not rebuilt" in out
    assert "building image" not in out and "build | " not in out
    assert load.failures == [], load.failures[:5]
    assert docker_client().images.get("hotdeploy/dshop-orders:1.0.0").id == old_image
    assert {c.image.id for c in running()} == {old_image}
    assert versions(file, "orders") == ["1.0.0"] * 2


def test_down_removes_the_projects_containers_and_no_others(dshop, tmp_path):
    file, _ = dshop(orders=2)
    client = docker_client()
    # Another project's container, labelled as hotdeploy would (same name, other directory).
    other = client.containers.run("hotdeploy-test-base:bookworm", ["sleep", "60"], detach=True,
                                  network_mode="host", labels={
                                      "hotdeploy.project": "dshop",
                                      "hotdeploy.project_dir": "/elsewhere"})
    try:
        result = cli(file, "down", timeout=90)
        assert result.returncode == 0, result.stdout + result.stderr
        left = [c for c in project_containers("dshop")
                if c.labels.get("hotdeploy.project_dir") != "/elsewhere"]
        assert left == []
        other.reload()
        assert other.status == "running"
    finally:
        other.remove(force=True)


def test_sigkill_of_the_control_process_then_up_adopts_the_containers(dshop):
    file, base = dshop(orders=2)
    before = status(file)
    with Load(base) as load:
        os.kill(before["control_pid"], signal.SIGKILL)
        time.sleep(1.0)
        again = cli(file, "up", "--detach", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load.failures == [], load.failures[:5]
    after = service(file, "orders")
    assert {i["ref"] for i in after["instances"]} == {
        i["ref"] for s in before["services"] if s["name"] == "orders" for i in s["instances"]}
    logs = cli(file, "logs", "orders", "-n", "5")
    assert logs.returncode == 0, logs.stderr


def test_a_failed_image_build_fails_the_deploy_before_anything_is_touched(dshop):
    file, _ = dshop(orders=1, orders_runtime='dockerfile = "Dockerfile"',
                       dockerfile=USER_DOCKERFILE)
    before = refs(file)
    (file.parent / "Dockerfile").write_text(USER_DOCKERFILE + "RUN echo broken step && exit 7\n")
    result = cli(file, "deploy", "orders", "--version", "2.0.0", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "building image hotdeploy/dshop-orders:2.0.0 failed" in out
    assert "broken step" in out and "non-zero code: 7" in out
    assert "started orders-" not in out  # no instance was started, none stopped
    assert refs(file) == before and versions(file, "orders") == ["1.0.0"]
    assert {c.labels["hotdeploy.version"] for c in project_containers("dshop")} == {"1.0.0"}


def test_pruned_releases_take_their_images_along(dshop):
    file, _ = dshop(orders=1, deploy="keep_releases = 1")
    client = docker_client()
    for version in ("2.0.0", "3.0.0"):
        result = cli(file, "deploy", "orders", "--version", version, "--env",
                     f"RELEASE={version}", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "pruned releases 1.0.0" in result.stdout
    tags = {t for image in client.images.list(name="hotdeploy/dshop-orders") for t in image.tags}
    assert "hotdeploy/dshop-orders:1.0.0" not in tags
    assert {"hotdeploy/dshop-orders:2.0.0", "hotdeploy/dshop-orders:3.0.0"} <= tags


def test_a_service_switched_to_docker_is_replaced_by_containers_at_the_next_up(dshop):
    file, base = dshop(orders=1)
    old = pids(file, "payments")
    os.kill(status(file)["control_pid"], signal.SIGKILL)
    time.sleep(1.0)
    with file.open("a") as toml:
        toml.write('\n[services.payments.runtime]\nkind = "docker"\n'
                   'base_image = "hotdeploy-test-base:bookworm"\nnetwork = "host"\n')
    again = cli(file, "up", "--detach", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    (instance,) = service(file, "payments")["instances"]
    assert instance["runtime"] == "docker" and instance["alive"]
    assert all(gone(pid) for pid in old)  # the local process was stopped
    assert {c.labels["hotdeploy.service"] for c in running()} == {"orders", "payments"}
    with httpx.Client(base_url=base, timeout=5, trust_env=False) as http:
        assert http.get("/payments").status_code == 200
