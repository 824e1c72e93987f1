"""The house rules of the code layout: one `sitewatch` namespace, and no import cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("daemon", "trackers", "sinks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "sitewatch." + ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every sitewatch module ``path`` imports, at any depth (function-level and TYPE_CHECKING too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith("sitewatch.")}


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        # `from .x import y` names module x (y may be a module too); a package's own __init__ is not an
        # edge from its submodules (importing a submodule always runs its package first).
        targets = {t for t in _imports(path) if t in modules and t != name}
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], dict.fromkeys(graph, 0), []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return cycles


def test_the_import_graph_has_no_cycles() -> None:
    graph = _graph()
    assert "sitewatch.daemon.pipeline" in graph["sitewatch.daemon.service"]  # the graph sees real edges
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_code_imports_the_installed_names_only() -> None:
    """`import daemon` would load python-daemon (or nothing) in an installed wheel: everything imports
    sitewatch.daemon, sitewatch.trackers, sitewatch.sinks."""
    bare = re.compile(r"^\s*(from|import) (daemon|trackers|sinks)\b", re.M)
    offenders = [
        str(p.relative_to(ROOT))
        for folder in (*PACKAGES, "tests", "tools", "bench")
        for p in (ROOT / folder).rglob("*.py")
        if bare.search(p.read_text())
    ]
    assert offenders == []


def test_the_runtime_package_holds_no_training_tools() -> None:
    """The synthetic-site generator trains the demo model and makes the sample; it is not installed."""
    assert not (ROOT / "daemon" / "synthsite.py").exists()
    assert (ROOT / "tools" / "synthsite.py").is_file()
