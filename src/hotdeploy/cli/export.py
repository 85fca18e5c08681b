"""`hotdeploy export TARGET`: the project rendered as files for a platform that runs it
without the control process. One self-contained function per target; each reads the project
(and its current releases), calls a pure export and writes the files it returns."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from hotdeploy import defaults as d
from hotdeploy.cli.fail import fail
from hotdeploy.errors import HotdeployError

export_app = typer.Typer(name="export", no_args_is_help=True,
                         help="Write the project as Kubernetes manifests or systemd units.")

FileOpt = typer.Option(d.PROJECT_FILE, "-f", "--file", help="The project file.")
KubeOutOpt = typer.Option("deploy/kubernetes", "-o", "--output",
                          help="Directory to write the manifests to.")
SystemdOutOpt = typer.Option("deploy/systemd", "-o", "--output",
                             help="Directory to write the units to.")
err = Console(stderr=True)


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write each file under `out` (only when its bytes changed, so timestamps mean
    something) and list them."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        typer.echo(str(path))


@export_app.command("kubernetes")
def kubernetes(
    file: str = FileOpt,
    out: Path = KubeOutOpt,
    registry: str = typer.Option("", "--registry",
                                 help="Image registry, e.g. registry.example.com/team "
                                      "(images are REGISTRY/hotdeploy/PROJECT-SERVICE:VERSION)."),
    namespace: str = typer.Option("", "--namespace", "-n",
                                  help="Namespace set by kustomization.yaml (default: "
                                       "kubectl's)."),
    active: str = typer.Option("blue", "--active",
                               help="Blue-green: the colour the Service sends traffic to."),
) -> None:
    """Kubernetes manifests (Deployments, Services, PodDisruptionBudgets, autoscalers, an
    ingress-nginx Ingress) and a kustomization.yaml: `kubectl apply -k DIR`."""
    from hotdeploy.export.kubernetes import KubeOptions, approximations, export_kubernetes
    from hotdeploy.export.sources import current_releases
    from hotdeploy.orchestrator.state import ProjectPaths
    from hotdeploy.project.loader import load_project

    try:
        project = load_project(file)
        releases = current_releases(project, ProjectPaths.for_file(file))
        files = export_kubernetes(project, releases, KubeOptions(
            registry=registry, namespace=namespace or None, active_colour=active))
    except HotdeployError as exc:
        raise fail(exc) from None
    write_files(out, files)
    for note in approximations(project):
        err.print(f"[yellow]note:[/yellow] {note}", markup=True, highlight=False)


@export_app.command("systemd")
def systemd(
    file: str = FileOpt,
    out: Path = SystemdOutOpt,
    root: str = typer.Option("", "--root",
                             help="Where the project lives on the machine (default "
                                  "/srv/hotdeploy/PROJECT): releases, nginx.conf, state."),
    venv: str = typer.Option("/opt/hotdeploy", "--venv",
                             help="The virtualenv hotdeploy is installed in on the machine."),
    user: str = typer.Option("hotdeploy", "--user", help="The user the units run as."),
    base_port: int = typer.Option(9000, "--base-port",
                                  help="Instance ports: the Nth service gets BASE+100*N+1..."),
    admin_port: int = typer.Option(0, "--admin-port",
                                   help="The balancer's API port (default: admin_listen's, "
                                        "or 9900 when that is 0)."),
) -> None:
    """systemd units: a template unit per service (instance = port), the balancer's unit, its
    nginx.conf and a README on installing and hot-deploying by hand."""
    from hotdeploy.export.sources import current_releases
    from hotdeploy.export.systemd import SystemdOptions, export_systemd
    from hotdeploy.orchestrator.state import ProjectPaths
    from hotdeploy.project.loader import load_project

    try:
        project = load_project(file)
        releases = current_releases(project, ProjectPaths.for_file(file))
        files = export_systemd(project, releases, SystemdOptions(
            root=root or None, venv=venv, user=user, base_port=base_port,
            admin_port=admin_port or None, source=Path(file).name))
    except HotdeployError as exc:
        raise fail(exc) from None
    write_files(out, files)


ComposeOutOpt = typer.Option(None, "-o", "--output",
                             help="The Compose file (default: compose.yaml beside the project "
                                  "file; `-` prints it, without writing the balancer's "
                                  "nginx.conf).")


@export_app.command("compose")
def compose(out: Path = ComposeOutOpt, file: str = FileOpt) -> None:
    """A Compose file: a service per service/unit (its release image, replicas, healthcheck,
    stop grace) and the balancer as a service; its nginx.conf is written beside it."""
    from hotdeploy.export.compose import export_compose, write
    from hotdeploy.orchestrator.releases import ReleaseStore
    from hotdeploy.orchestrator.state import ProjectPaths, load_state
    from hotdeploy.project.loader import load_project

    try:
        project = load_project(file)
        paths = ProjectPaths.for_file(file)
        name = "compose.yaml" if out is None or str(out) == "-" else out.name
        conf_name = f"{Path(name).stem}.lb.conf"
        result = export_compose(project, load_state(paths.state_file),
                                ReleaseStore(paths.releases), conf_name)
    except HotdeployError as exc:
        raise fail(exc) from None
    if out is not None and str(out) == "-":
        typer.echo(result.text, nl=False)
        return
    target, conf = write(paths.project_file, out, result)
    Console().print(f"wrote {target} and {conf} (`docker compose -f {target} up -d`; "
                    f"zero-downtime deploys need `hotdeploy up`)", highlight=False)


@export_app.command("nginx")
def nginx(
    file: str = FileOpt,
    output: str | None = typer.Option(None, "-o", "--output",
                                      help="Write to this file instead of standard output."),
) -> None:
    """A static nginx.conf of the project for open-source nginx (NGINX Plus-only lines as
    comments saying what to use instead). The same project gives the same bytes."""
    from hotdeploy.dataplane.nginx.export import export_nginx
    from hotdeploy.project.loader import load_project

    try:
        text = export_nginx(load_project(file), Path(file).name)
    except HotdeployError as exc:
        raise fail(exc) from None
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
