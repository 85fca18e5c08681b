"""`hotdeploy export kubernetes`: every manifest is valid for several Kubernetes versions
(kubernetes-validate's bundled schemas, strict: unknown fields fail), and carries hotdeploy's
guarantees: probes on the health path, the rolling numbers, a grace period that covers the
preStop pause and the drain, selectors that match the pods, autoscaler bounds, the routes."""

from __future__ import annotations

import math
from pathlib import Path

import kubernetes_validate
import pytest
import typer
import yaml
from kube_helpers import project
from typer.testing import CliRunner

from hotdeploy.cli import export as export_cli
from hotdeploy.export import kubernetes as k8s
from hotdeploy.export.common import ExportError, ReleaseInfo
from hotdeploy.project.loader import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "hotdeploy.toml"
# Kubernetes 1.28 is the oldest version still served by the big managed offerings; 1.30
# brought the preStop sleep action (not used, so 1.28 accepts the same files); 1.34 is new.
VERSIONS = ["1.28.0", "1.30.0", "1.34.0"]
RELEASES = {"orders": ReleaseInfo("1.2.0+abcdef012345", "ab" * 32)}


def documents(files):
    return {name: [doc for doc in yaml.safe_load_all(text) if doc is not None]
            for name, text in files.items()}


def objects_of(files, kind):
    return [doc for docs in documents(files).values() for doc in docs if doc["kind"] == kind]


def by_name(files, kind):
    return {doc["metadata"]["name"]: doc for doc in objects_of(files, kind)}


@pytest.fixture(scope="module")
def files():
    return k8s.export_kubernetes(project(), RELEASES, k8s.KubeOptions(registry="reg.example:5000"))


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_the_kubernetes_version(files, version):
    example = k8s.export_kubernetes(load_project(EXAMPLE), {})
    checked = 0
    for source in (files, example):
        for name, docs in documents(source).items():
            if name == "kustomization.yaml":
                continue
            for doc in docs:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(f"{name} {doc['kind']} {doc['metadata']['name']}: "
                                f"{exc.message} at {list(exc.path)}")
                checked += 1
    assert checked >= 20


def test_kustomization_lists_every_file_and_nothing_else(files):
    (kustomization,) = documents(files)["kustomization.yaml"]
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == sorted(set(files) - {"kustomization.yaml"})
    assert "namespace" not in kustomization
    with_ns = k8s.export_kubernetes(project(), {}, k8s.KubeOptions(namespace="shop-prod"))
    assert yaml.safe_load(with_ns["kustomization.yaml"])["namespace"] == "shop-prod"


def test_same_input_same_bytes():
    first = k8s.export_kubernetes(project(), RELEASES, k8s.KubeOptions(registry="r"))
    second = k8s.export_kubernetes(project(), dict(RELEASES), k8s.KubeOptions(registry="r"))
    assert first == second and list(first) == list(second)


def test_image_version_digest_and_env(files):
    orders = by_name(files, "Deployment")["shop-orders"]
    (container,) = orders["spec"]["template"]["spec"]["containers"]
    # `+` is not allowed in an image tag.
    assert container["image"] == "reg.example:5000/hotdeploy/shop-orders:1.2.0_abcdef012345"
    annotations = orders["spec"]["template"]["metadata"]["annotations"]
    assert annotations["hotdeploy.dev/release"] == "1.2.0+abcdef012345"
    assert annotations["hotdeploy.dev/release-digest"] == "ab" * 32
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["PORT"] == str(k8s.CONTAINER_PORT) == str(container["ports"][0]["containerPort"])
    # YAML 1.1 would read `yes` and `1.0` as a boolean and a number: they stay strings.
    assert (env["MODE"], env["LEVEL"]) == ("yes", "1.0")
    # `$(HOME)` would be expanded by Kubernetes: escaped so the pod sees it as written.
    assert env["HOME_REF"] == "$$(HOME)"
    # No release built: the `version` key, else "latest"; no digest annotation.
    backoffice = by_name(files, "Deployment")["shop-backoffice"]
    image = backoffice["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "reg.example:5000/hotdeploy/shop-backoffice:latest"
    assert "hotdeploy.dev/release-digest" not in backoffice["metadata"]["annotations"]
    local = k8s.export_kubernetes(load_project(EXAMPLE), {})
    (container,) = by_name(local, "Deployment")["shop-orders"]["spec"]["template"]["spec"][
        "containers"]
    assert container["image"] == "hotdeploy/shop-orders:1.0.0"


def test_probes_use_the_health_path_and_the_startup_budget_covers_health_timeout(files):
    p = project()
    for deployment in objects_of(files, "Deployment"):
        owner = deployment["metadata"]["labels"][k8s.NAME]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": p.health_of(owner), "port": "http"}
        ready = container["readinessProbe"]
        assert (ready["periodSeconds"], ready["failureThreshold"],
                ready["successThreshold"]) == (2, 2, 3)
        startup = container["startupProbe"]
        assert startup["failureThreshold"] * startup["periodSeconds"] >= p.deploy.health_timeout
        assert container["livenessProbe"]["periodSeconds"] >= ready["periodSeconds"]
    payments = by_name(files, "Deployment")["shop-payments-blue"]
    assert payments["spec"]["template"]["spec"]["containers"][0]["readinessProbe"][
        "httpGet"]["path"] == "/ready"


def test_rolling_numbers_and_rollout_history(files):
    for deployment in objects_of(files, "Deployment"):
        spec = deployment["spec"]
        assert spec["strategy"] == {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
        assert spec["revisionHistoryLimit"] == 5
        assert spec["progressDeadlineSeconds"] > 75


def test_grace_period_outlasts_prestop_and_drain(files):
    p = project()
    for deployment in objects_of(files, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        pre_stop = int(command[1])
        assert pre_stop > k8s.ENDPOINT_PROPAGATION
        assert pod["terminationGracePeriodSeconds"] > pre_stop + p.deploy.drain_timeout


def test_grace_with_zero_stop_grace_is_still_strictly_larger():
    p = project(deploy={"drain_timeout": "30s", "stop_grace": 0})
    assert k8s.termination_grace(p) > k8s.PRESTOP_SLEEP + 30


def test_selectors_match_pod_labels(files):
    deployments = objects_of(files, "Deployment")
    for deployment in deployments:
        match = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert match.items() <= labels.items()
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    for service in objects_of(files, "Service"):
        chosen = [labels for labels in pods
                  if service["spec"]["selector"].items() <= labels.items()]
        assert chosen, service["metadata"]["name"]
        assert len({labels[k8s.NAME] for labels in chosen}) == 1
        assert service["spec"]["ports"][0]["targetPort"] == "http"
    for budget in objects_of(files, "PodDisruptionBudget"):
        assert any(budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
                   for labels in pods)
        assert budget["spec"]["maxUnavailable"] == 1


def test_blue_green_two_colours_and_a_service_on_the_active_one(files):
    deployments = by_name(files, "Deployment")
    blue, green = deployments["shop-payments-blue"], deployments["shop-payments-green"]
    assert (blue["spec"]["replicas"], green["spec"]["replicas"]) == (2, 0)
    service = by_name(files, "Service")["shop-payments"]
    assert service["spec"]["selector"][k8s.COLOUR] == "blue"
    switched = k8s.export_kubernetes(project(), {}, k8s.KubeOptions(active_colour="green"))
    assert by_name(switched, "Service")["shop-payments"]["spec"]["selector"][
        k8s.COLOUR] == "green"
    assert by_name(switched, "Deployment")["shop-payments-green"]["spec"]["replicas"] == 2
    with pytest.raises(ExportError, match="blue or green"):
        k8s.export_kubernetes(project(), {}, k8s.KubeOptions(active_colour="red"))


def test_canary_ingress_weight_is_the_first_step(files):
    ingresses = by_name(files, "Ingress")
    canary = ingresses["shop-search-canary"]
    annotations = canary["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/canary-weight"] == "20"
    (rule,) = canary["spec"]["rules"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]] == \
        [("/", "shop-search-canary")]
    deployments = by_name(files, "Deployment")
    assert deployments["shop-search-canary"]["spec"]["replicas"] == math.ceil(4 * 20 / 100)
    assert deployments["shop-search"]["spec"]["replicas"] == 4


def test_ingress_paths_are_the_routes_and_balancer_annotations(files):
    p = project()
    main = by_name(files, "Ingress")["shop"]
    assert main["spec"]["ingressClassName"] == "nginx"
    (rule,) = main["spec"]["rules"]
    paths = {(x["path"], x["backend"]["service"]["name"]) for x in rule["http"]["paths"]}
    expected = {(route, f"shop-{owner}") for owner, routes in p.routes().items()
                for route in routes}
    assert paths == expected
    assert all(x["pathType"] == "Prefix" for x in rule["http"]["paths"])
    services = set(by_name(files, "Service"))
    assert {name for _, name in paths} <= services
    annotations = main["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[f"{prefix}proxy-next-upstream"] == "error timeout http_502 http_503"
    assert annotations[f"{prefix}proxy-next-upstream-tries"] == "10"  # orders' autoscale max
    assert annotations[f"{prefix}load-balance"] == "ewma"
    assert "least_conn" in files["ingress.yaml"]  # the approximation is written down


@pytest.mark.parametrize(("method", "expected"), [
    ("hash", {"upstream-hash-by": "$request_uri"}),
    ("ip_hash", {"upstream-hash-by": "$remote_addr"}),
    ("round_robin", {"load-balance": "round_robin"}),
])
def test_hash_methods_use_upstream_hash_by(method, expected):
    p = project(balancer={"method": method, "hash_key": "$request_uri",
                          "retry_non_idempotent": True})
    annotations = k8s.balancer_annotations(p)
    got = {k.removeprefix("nginx.ingress.kubernetes.io/"): v for k, v in annotations.items()}
    assert expected.items() <= got.items()
    assert got["proxy-next-upstream"].endswith(" non_idempotent")


def test_autoscaler_bounds_and_target(files):
    (hpa,) = objects_of(files, "HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "shop-orders"}
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization",
                                                        "averageUtilization": 70}
    # The control process's cooldown (default 300s) before a step down, carried over.
    assert spec["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 300}}
    # The autoscaler owns the replica count: no `replicas` to reset it at every apply.
    assert "replicas" not in by_name(files, "Deployment")["shop-orders"]["spec"]


def test_autoscale_needs_cpus():
    services = {"orders": {"app": "a:b", "autoscale": {"min": 1, "max": 3}}}
    with pytest.raises(ExportError, match=r"services.orders.autoscale: needs cpus"):
        k8s.export_kubernetes(project(services=services, units={}), {})


def test_resources_and_prometheus_annotations(files):
    orders = by_name(files, "Deployment")["shop-orders"]["spec"]["template"]
    resources = orders["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "256Mi"},
                         "limits": {"cpu": "500m", "memory": "256Mi"}}
    assert orders["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert orders["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    backoffice = by_name(files, "Deployment")["shop-backoffice"]["spec"]["template"]
    assert "resources" not in backoffice["spec"]["containers"][0]
    assert "prometheus.io/scrape" not in backoffice["metadata"]["annotations"]


def test_active_passive_is_refused_with_the_reason():
    p = project(balancer={"strategy": "active-passive"})
    with pytest.raises(ExportError) as info:
        k8s.export_kubernetes(p, {})
    message = str(info.value)
    assert "no Kubernetes equivalent" in message and "export systemd" in message


def test_names_that_collide_in_dns_or_set_port_are_refused():
    services = {"a_b": {"app": "a:b", "route": "/x"}, "a-b": {"app": "a:b", "route": "/y"}}
    with pytest.raises(ExportError, match="both become 'a-b'"):
        k8s.export_kubernetes(project(services=services, units={}), {})
    services = {"orders": {"app": "a:b", "env": {"PORT": "1"}}}
    with pytest.raises(ExportError, match=r"env\.PORT"):
        k8s.export_kubernetes(project(services=services, units={}), {})


def test_long_names_are_shortened_stably():
    long = "x" * 40
    p = project(project={"name": "p" * 40}, services={long: {"app": "a:b"}}, units={})
    files = k8s.export_kubernetes(p, {})
    names = [doc["metadata"]["name"] for docs in documents(files).values() for doc in docs
             if "metadata" in doc]
    assert all(len(name) <= 63 for name in names)
    assert files == k8s.export_kubernetes(p, {})


def test_cli_writes_the_files_and_a_second_run_writes_the_same_bytes(tmp_path):
    app = typer.Typer()
    app.callback()(lambda: None)
    export_cli.register(app)
    runner = CliRunner()
    out = tmp_path / "k8s"
    args = ["export", "kubernetes", "-f", str(EXAMPLE), "-o", str(out), "--registry", "r.io"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    first = {path.name: path.read_bytes() for path in out.iterdir()}
    assert set(first) == {"backoffice.yaml", "ingress.yaml", "kustomization.yaml",
                          "orders.yaml", "payments.yaml"}
    assert runner.invoke(app, args).exit_code == 0
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first
    bad = tmp_path / "hotdeploy.toml"
    bad.write_text('[project]\nname = "x"\n[balancer]\nstrategy = "active-passive"\n'
                   '[services.a]\napp = "a:b"\ninstances = 2\n')
    result = runner.invoke(app, ["export", "kubernetes", "-f", str(bad), "-o", str(out)])
    assert result.exit_code == 1


def test_the_hotdeploy_command_has_the_export_verbs():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "from hotdeploy.cli import main; main()",
                             "export", "--help"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "kubernetes" in result.stdout and "systemd" in result.stdout
