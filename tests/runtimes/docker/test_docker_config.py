"""The docker runtime's configuration, checked without traffic: the TOML shape, the generated
Dockerfile, the container options of both network modes (bridge publishing is configured
here, not exercised: the tests' daemon has no bridge), and the errors that name what is
wrong. Only the last tests need a daemon."""

from __future__ import annotations

import pytest
from dockertools import BASE_IMAGE

from hotdeploy.errors import DeployError, ProjectError
from hotdeploy.orchestrator.releases import Release, ReleaseSettings
from hotdeploy.project.loader import parse_project
from hotdeploy.project.model import RuntimeSection
from hotdeploy.runtimes import runtime_for
from hotdeploy.runtimes.base import InstanceSpec
from hotdeploy.runtimes.docker.container import Placement, published_port, run_options
from hotdeploy.runtimes.docker.image import dockerfile_text, image_tag, runner_files


def project(runtime: str = "", orders_runtime: str = "", listen: str = "127.0.0.1:8080"):
    import tomllib

    return parse_project(tomllib.loads(f"""
[project]
name = "shop"
[balancer]
listen = "{listen}"
{runtime}
[services.orders]
app = "orders.api:app"
{orders_runtime}
[services.payments]
command = "payments --port {{port}}"
"""))


def release(tmp_path, version="1.0.0", **settings) -> Release:
    code = tmp_path / version / "code"
    code.mkdir(parents=True)
    (code / "app.py").write_text("app = None\n")
    return Release(service="orders", version=version, digest="ab" * 32, created=0.0, size=1,
                   files=1, settings=ReleaseSettings(health="/health", **settings),
                   root=str(tmp_path / version))


def spec(tmp_path, **settings) -> InstanceSpec:
    return InstanceSpec(project="shop", service="orders", instance_id="orders-1",
                        release=release(tmp_path, **settings), health="/health")


def test_the_project_runtime_and_a_services_override_merge_key_by_key():
    p = project('[runtime]\nkind = "docker"\nmemory = "256Mi"\nenv = { A = "1", B = "1" }',
                '[services.orders.runtime]\nnetwork = "host"\ncpus = 0.5\nenv = { B = "2" }')
    orders, payments = p.runtime_of("orders"), p.runtime_of("payments")
    assert (orders.kind, orders.network, orders.memory, orders.cpus) == ("docker", "host",
                                                                        "256Mi", 0.5)
    assert orders.env == {"A": "1", "B": "2"}
    assert (payments.kind, payments.network, payments.cpus) == ("docker", "bridge", None)
    assert payments.base_image == "python:3.11-slim"


def test_the_default_runtime_is_local_and_one_service_can_run_in_docker():
    p = project(orders_runtime='[services.orders.runtime]\nkind = "docker"')
    assert p.runtime_of("orders").kind == "docker" and p.runtime_of("payments").kind == "local"


@pytest.mark.parametrize(("table", "expected"), [
    ('[runtime]\nkind = "podman"', "runtime.kind"),
    ('[runtime]\nvolumes = ["nocolon"]', "volume 'nocolon'"),
    ('[runtime]\ndockerfile = "/etc/Dockerfile"', "inside the service's `path`"),
    ('[runtime]\nmemory = "lots"', "runtime.memory"),
    ('[runtime]\nnetwrok = "host"', "netwrok"),
])
def test_bad_runtime_keys_are_errors_that_name_them(table, expected):
    with pytest.raises(ProjectError, match=None) as info:
        project(table)
    assert expected in str(info.value)


def test_the_generated_dockerfile(tmp_path):
    text = dockerfile_text("shop", release(tmp_path, app="orders.api:app"), "python:3.12-slim",
                           requirements=True)
    assert text.splitlines()[1] == "FROM python:3.12-slim"
    assert "COPY runner/ /opt/hotdeploy/lib/" in text
    assert "pip install --no-cache-dir -r /opt/hotdeploy/requirements.txt" in text
    assert "COPY code/ /app/" in text and "USER 10001:10001" in text
    assert "HEALTHCHECK --interval=5s" in text and "HOTDEPLOY_HEALTH=/health" in text
    assert ('CMD ["python3", "-m", "hotdeploy.runtimes.host", "--port", "8000", "--health", '
            '"/health", "--host", "0.0.0.0", "--app", "orders.api:app"]') in text
    without = dockerfile_text("shop", release(tmp_path, "2", command="srv --port {port}"),
                              "x", requirements=False)
    assert "pip install" not in without and 'CMD ["srv", "--port", "8000"]' in without


def test_the_runner_is_pure_python_hotdeploy_and_uvicorn():
    names = {name for name, _ in runner_files()}
    assert "hotdeploy/runtimes/host.py" in names and "uvicorn/main.py" in names
    assert "h11/__init__.py" in names and "click/__init__.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyc"))]


def test_image_tags_are_valid_docker_tags():
    assert image_tag("shop", "orders", "1.0.0") == "hotdeploy/shop-orders:1.0.0"
    assert image_tag("shop", "orders", "1.0+3f2a") == "hotdeploy/shop-orders:1.0_3f2a"


def test_bridge_mode_publishes_the_container_port_on_the_balancers_host(tmp_path):
    settings = RuntimeSection(kind="docker", memory="512Mi", cpus=1.5, env={"X": "1"},
                              volumes=("./data:/var/data:ro", "cache:/cache"))
    options = run_options(spec(tmp_path, app="orders.api:app"), settings, "img:1",
                          Placement("bridge", publish_host="127.0.0.1"), "/proj", tmp_path)
    assert options["ports"] == {"8000/tcp": ("127.0.0.1", None)}
    assert "network_mode" not in options
    assert options["command"][-5:] == ["/health", "--host", "0.0.0.0", "--app",
                                       "orders.api:app"]
    assert options["environment"]["PORT"] == "8000" and options["environment"]["X"] == "1"
    assert options["restart_policy"] == {"Name": "no"}
    assert options["mem_limit"] == 512 * 1024**2 and options["nano_cpus"] == 1_500_000_000
    assert options["volumes"] == [f"{(tmp_path / 'data').resolve()}:/var/data:ro",
                                  "cache:/cache"]
    assert options["labels"]["hotdeploy.instance"] == "orders-1"
    assert options["labels"]["hotdeploy.project_dir"] == "/proj"
    assert options["name"] == "hotdeploy-shop-orders-1"
    attrs = {"NetworkSettings": {"Ports": {"8000/tcp": [{"HostIp": "127.0.0.1",
                                                           "HostPort": "49153"}]}}}
    assert published_port(attrs, 8000) == 49153


def test_host_mode_listens_on_the_chosen_loopback_port(tmp_path):
    options = run_options(spec(tmp_path, command="srv --port {port}"),
                          RuntimeSection(kind="docker", network="host"), "img:1",
                          Placement("host", port=41234), "/proj")
    assert options["network_mode"] == "host" and "ports" not in options
    assert options["command"] == ["srv", "--port", "41234"]
    assert options["environment"]["PORT"] == "41234"


def test_the_published_host_follows_the_balancer_listen_address(tmp_path):
    wildcard = runtime_for("docker", tmp_path, project(listen="0.0.0.0:8080"), tmp_path)
    assert wildcard.publish_host() == "127.0.0.1"  # type: ignore[attr-defined]
    own = runtime_for("docker", tmp_path, project(listen="127.0.0.5:8080"), tmp_path)
    assert own.publish_host() == "127.0.0.5"  # type: ignore[attr-defined]


async def test_an_unreachable_daemon_names_the_socket_and_how_to_start_one(tmp_path):
    p = project('[runtime]\nkind = "docker"\ndocker_host = "unix:///tmp/hotdeploy-no.sock"')
    runtime = runtime_for("docker", tmp_path, p, tmp_path)
    with pytest.raises(DeployError) as info:
        await runtime.prepare(release(tmp_path, app="a:b"), lambda m: None)  # type: ignore
    message = str(info.value)
    assert "Docker is not reachable at unix:///tmp/hotdeploy-no.sock" in message
    assert "dockerd" in message and "DOCKER_HOST" in message


@pytest.mark.usefixtures("base_image")
async def test_a_base_image_neither_here_nor_pullable_is_a_clear_error(tmp_path):
    # A registry on a loopback port nobody listens on: the pull fails at once, locally.
    p = project('[runtime]\nkind = "docker"\nbase_image = "127.0.0.1:9/hotdeploy-missing:1"')
    runtime = runtime_for("docker", tmp_path, p, tmp_path)
    with pytest.raises(DeployError) as info:
        await runtime.prepare(release(tmp_path, app="a:b"), lambda m: None)  # type: ignore
    assert "base image '127.0.0.1:9/hotdeploy-missing:1' is not available locally and could " \
           "not be pulled" in str(info.value)


@pytest.mark.usefixtures("base_image")
async def test_a_failed_build_quotes_the_last_lines_of_its_log(tmp_path):
    p = project(orders_runtime='[services.orders.runtime]\nkind = "docker"\n'
                               'dockerfile = "Dockerfile"')
    rel = release(tmp_path, version="9.9.9-fails", app="a:b")
    (tmp_path / "9.9.9-fails" / "code" / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo about to fail && exit 7\n")
    runtime = runtime_for("docker", tmp_path, p, tmp_path)
    events: list[str] = []
    with pytest.raises(DeployError) as info:
        await runtime.prepare(rel, events.append)  # type: ignore[attr-defined]
    message = str(info.value)
    assert "building image hotdeploy/shop-orders:9.9.9-fails failed" in message
    assert "about to fail" in message and "returned a non-zero code: 7" in message
    assert any(e.startswith("build | ") for e in events)  # streamed as it ran
