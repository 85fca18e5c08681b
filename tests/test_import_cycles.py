"""No import cycles among the modules of src/hotdeploy.

The graph is read from the sources with `ast` (nothing is imported to build it), and it counts
every import: module level, inside functions (a deferred import only hides a cycle), and under
`if TYPE_CHECKING:` (mypyc compiles the request path from those types, so a type-only edge
binds the modules as much as a runtime one). A cycle is a strongly connected component of more
than one module; the test names its modules.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "hotdeploy"

# The objects of one proxied connection call back the object that owns them (an exchange its
# client connection, a tunnel its client, an upstream connection its exchange, a client
# connection the tracker of the server that accepted it). Those back-references are type-only
# (under TYPE_CHECKING), so that the calls compile to native calls; they are the only edges
# allowed to close a loop, and only while they stay type-only.
TYPE_ONLY_BACK_REFERENCES = frozenset({
    ("hotdeploy.proxy.exchange", "hotdeploy.proxy.client"),
    ("hotdeploy.proxy.tunnel", "hotdeploy.proxy.client"),
    ("hotdeploy.proxy.upstream", "hotdeploy.proxy.exchange"),
    ("hotdeploy.proxy.client", "hotdeploy.proxy.server"),
})


def module_files() -> dict[str, Path]:
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _type_only_imports(tree: ast.Module) -> set[int]:
    """ids of the import nodes that sit under `if TYPE_CHECKING:`."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                found.update(id(inner) for inner in ast.walk(statement))
    return found


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    # `from pkg import name` imports pkg, and pkg.name when that is a module.
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[str, bool]]:
    """(imported name, type-only?) for every import statement of a module's source."""
    tree = ast.parse(source)
    type_only = _type_only_imports(tree)
    return [(target, id(node) in type_only)
            for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported_names(node, module, is_package)]


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """module -> the modules it imports; and the edges that are type-only."""
    files = module_files()
    graph: dict[str, set[str]] = {name: set() for name in files}
    runtime_edges: set[tuple[str, str]] = set()
    type_edges: set[tuple[str, str]] = set()
    for name, path in files.items():
        source = path.read_text(encoding="utf-8")
        for target, type_only in imports_of(source, name, path.name == "__init__.py"):
            if target in files and target != name:
                graph[name].add(target)
                (type_edges if type_only else runtime_edges).add((name, target))
    return graph, type_edges - runtime_edges


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_every_module_imports() -> None:
    for name in module_files():
        if not name.endswith(".__main__"):  # importing it runs the program
            importlib.import_module(name)


def test_the_allowed_back_references_are_type_only_imports() -> None:
    _, type_only = import_graph()
    assert type_only >= TYPE_ONLY_BACK_REFERENCES


def test_no_import_cycles() -> None:
    graph, type_only = import_graph()
    for importer, imported in TYPE_ONLY_BACK_REFERENCES & type_only:
        graph[importer].discard(imported)
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_a_cycle_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_deferred_relative_and_type_only_imports_are_edges() -> None:
    source = """
from typing import TYPE_CHECKING
from . import sibling
if TYPE_CHECKING:
    from hotdeploy.proxy.plan import LocationPlan
def later():
    import hotdeploy.units
"""
    found = imports_of(source, "hotdeploy.proxy.request")
    assert ("hotdeploy.proxy.sibling", False) in found
    assert ("hotdeploy.proxy.plan", True) in found
    assert ("hotdeploy.units", False) in found
