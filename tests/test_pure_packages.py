"""The pure parts import no asyncio and no sockets, directly or through another module of
hotdeploy (DESIGN: models, policies, health state machines, the retry decision, the planner
and the verdicts are pure, so they are tested without I/O and reused by every engine)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
FORBIDDEN = {"asyncio", "socket", "selectors", "ssl", "uvloop", "httpx", "httptools",
             "subprocess"}
PURE = [
    "hotdeploy.config.model", "hotdeploy.config.addresses", "hotdeploy.units",
    "hotdeploy.project.model", "hotdeploy.project.topology",
    "hotdeploy.balancer.round_robin", "hotdeploy.balancer.least_conn",
    "hotdeploy.balancer.ip_hash", "hotdeploy.balancer.key_hash",
    "hotdeploy.balancer.consistent_hash", "hotdeploy.balancer.weighted_random",
    "hotdeploy.upstream.health", "hotdeploy.upstream.passive", "hotdeploy.upstream.slow_start",
    "hotdeploy.proxy.retry", "hotdeploy.proxy.rewrite", "hotdeploy.proxy.redirect",
    "hotdeploy.config.script", "hotdeploy.config.maps",
    "hotdeploy.proxy.limit_req", "hotdeploy.proxy.limit_conn",
    "hotdeploy.proxy.static_rules",
    "hotdeploy.cpus", "hotdeploy.upstream.snapshot", "hotdeploy.upstream.zone",
    "hotdeploy.admin.totals",
    "hotdeploy.orchestrator.planner", "hotdeploy.orchestrator.steps",
    "hotdeploy.orchestrator.verdict", "hotdeploy.orchestrator.backoff",
    "hotdeploy.orchestrator.model", "hotdeploy.orchestrator.releases",
    "hotdeploy.orchestrator.autoscale",
    "hotdeploy.dataplane.builtin.config",
    "hotdeploy.export.common", "hotdeploy.export.yamltext", "hotdeploy.export.kubernetes",
    "hotdeploy.export.sources", "hotdeploy.export.systemd", "hotdeploy.export.systemd_units",
]


def module_file(name: str) -> Path | None:
    base = SRC / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imports_of(name: str) -> set[str]:
    """Modules `name` imports at run time (imports under `if TYPE_CHECKING:` excluded)."""
    path = module_file(name)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module)
                found.update(f"{child.module}.{alias.name}" for alias in child.names
                             if module_file(f"{child.module}.{alias.name}"))
            visit(child)

    visit(tree)
    return found


def chain_to_forbidden(start: str) -> list[str] | None:
    """The import chain from `start` to a forbidden module, or None."""
    seen = {start}
    queue = [[start]]
    while queue:
        chain = queue.pop(0)
        for target in sorted(imports_of(chain[-1])):
            if target.split(".")[0] in FORBIDDEN:
                return [*chain, target]
            if target.startswith("hotdeploy") and target not in seen:
                seen.add(target)
                queue.append([*chain, target])
    return None


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_reaches_no_asyncio_and_no_socket(module):
    assert module_file(module) is not None, f"{module} moved: update this list"
    assert chain_to_forbidden(module) is None, " -> ".join(chain_to_forbidden(module) or [])


def test_the_check_finds_an_import_through_another_module():
    # The control process's server uses asyncio through its own imports: the walk sees it.
    assert chain_to_forbidden("hotdeploy.orchestrator.server") is not None
