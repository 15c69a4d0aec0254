"""The layers of converge, as data, and the imports that keep to them.

Every module under src/converge is parsed with `ast` (imports inside functions count too: a
function-level import is still a dependency, only a later one); imports under
`if TYPE_CHECKING:` are left out (they never run). A module may import its own layer or a lower
one, never a higher one; modules under hosts/ never import a kind; and no set of modules imports
each other in a cycle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "converge"

# Bottom to top. A module's layer is that of the longest prefix listed here.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("converge", "converge.errors", "converge.types", "converge.model", "converge.fsutil",
              "converge.logs", "converge.secrets", "converge.lock", "converge.gcpause", "converge.rendering",
              "converge.yamlcompose", "converge.yamlread", "converge.templating", "converge.redaction")),
    ("formats", ("converge.formats",)),  # real tools' file and output formats: pure
    ("hosts", ("converge.hosts",)),  # running commands: local, netns, the simulated host's emulators
    ("kinds", ("converge.resources",)),
    ("manifests", ("converge.yamlsource", "converge.config", "converge.manifest", "converge.schema",
                   "converge.edit", "converge.fleet.inventory", "converge.fleet.ansible")),
    ("planner", ("converge.planner", "converge.adopt")),
    ("executor", ("converge.executor", "converge.engine", "converge.approvals", "converge.progress",
                  "converge.runs", "converge.scheduler")),
    ("interfaces", ("converge.api", "converge.watch", "converge.cli", "converge.fleet", "converge.agent",
                    "converge.status_push")),
]
RANK = {prefix: rank for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    prefix = module
    while prefix not in RANK:
        assert "." in prefix, f"{module} is in no layer: add it to LAYERS"
        prefix = prefix.rsplit(".", 1)[0]
    return RANK[prefix]


def _type_checking_only(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (getattr(node.test, "id", None) == "TYPE_CHECKING"
                                         or getattr(node.test, "attr", None) == "TYPE_CHECKING"):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def _known(name: str) -> str | None:
    """The module an import names (`converge.x.y` may be a module or a name in converge.x)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported converge module, line) for every import statement of a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            names = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        else:
            continue
        for name in names:
            target = _known(name) if name == "converge" or name.startswith("converge.") else None
            if target and target != module:
                yield target, node.lineno


GRAPH = {m: sorted(set(imports(m))) for m in MODULES}


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_imports_point_down_the_layers() -> None:
    wrong = [f"{module}:{line} imports {target} ({LAYERS[layer(target)][0]} is above {LAYERS[layer(module)][0]})"
             for module, targets in GRAPH.items() for target, line in targets if layer(target) > layer(module)]
    assert not wrong, "\n".join(wrong)


def test_hosts_never_import_a_kind() -> None:
    wrong = [f"{module}:{line} imports {target}" for module, targets in GRAPH.items()
             if module.startswith("converge.hosts") for target, line in targets
             if target.startswith("converge.resources")]
    assert not wrong, "\n".join(wrong)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted({t for t, _ in targets}) for m, targets in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles()
    assert not cycles, "modules that import each other:\n" + "\n".join(
        f"  {' , '.join(c)}: " + "; ".join(f"{m}:{line} -> {t}" for m in c for t, line in GRAPH[m] if t in c)
        for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["converge.errors"] = [("converge.types", 1)]
        GRAPH["converge.types"] = [("converge.errors", 1)]
        assert ["converge.errors", "converge.types"] in _cycles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_importing_the_hosts_loads_no_kind() -> None:
    code = ("import sys, converge.hosts.base, converge.hosts.sim, converge.hosts.local\n"
            "print([m for m in sys.modules if m.startswith('converge.resources')])")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
