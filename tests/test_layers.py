"""The package's imports: no loop, and every import points down the layer order (see layers.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "micrograd_bp"

# Lowest first. A module may import modules of its own layer or of a lower one, never a higher
# one; and no import loop anywhere, counting imports inside functions too. A new module goes in
# the layer of what it adds (examples.* is every module under examples/).
LAYERS: list[tuple[str, set[str]]] = [
    ("records", {"real", "ops"}),
    ("core", {"engine", "render"}),
    ("beneath and beside the core", {"fast", "walk", "nn"}),
    ("the expression language", {"expr", "latex", "symbolic", "numeric", "compiled", "batch"}),
    ("registering ops", {"registry"}),
    ("analysis", {"paths", "mistakes", "diagnose"}),
    ("views", {"trace", "viz", "pictures", "netview", "page"}),
    ("examples", {"examples.*"}),
    ("exercises", {"exercise", "worksheet", "exercise_page", "classroom"}),
    ("tools", {"bench", "console", "cli", "__init__", "__main__"}),
]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name (inside the package) of a relative `from ... import`."""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    if module == "__init__":
        package = []
    base = package[: len(package) - (node.level - 1)] if node.level else []
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> set[str]:
    """The package's modules this module imports, at the top or inside any function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("micrograd_bp"):
                continue
            base = (_resolve(module, node) if node.level
                    else (node.module or "").removeprefix("micrograd_bp").lstrip("."))
            for alias in node.names:
                target = f"{base}.{alias.name}" if base else alias.name
                found.add(target if target in MODULES else base or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("micrograd_bp"):
                    found.add(alias.name.removeprefix("micrograd_bp").lstrip(".") or "__init__")
    return {m for m in found if m != module}


def layer(module: str) -> int:
    for i, (_, members) in enumerate(LAYERS):
        if module in members or (module.startswith("examples") and "examples.*" in members):
            return i
    raise AssertionError(f"micrograd_bp/{module.replace('.', '/')}.py is in no layer: add it to "
                         "tests/test_layers.py LAYERS (and to docs/explanation/layers.md)")


GRAPH = {module: imports(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_import_points_down_or_sideways(module):
    here = layer(module)
    for target in sorted(GRAPH[module]):
        assert target in MODULES, f"{module} imports {target}, which is not a module of the package"
        assert layer(target) <= here, (
            f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[layer(target)][0]}): an import "
            "that runs back up")


def test_the_import_graph_has_no_loop():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(GRAPH):
        stack = [(start, iter(sorted(GRAPH[start])))]
        path = [start]
        state[start] = state.get(start) or 1
        if state[start] == 2:
            continue
        while stack:
            module, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                state[module] = 2
                stack.pop()
                path.pop()
            elif state.get(target) == 1:
                loop = path[path.index(target):] + [target]
                raise AssertionError("an import loop: " + " -> ".join(loop))
            elif state.get(target) is None and target in GRAPH:
                state[target] = 1
                path.append(target)
                stack.append((target, iter(sorted(GRAPH[target]))))


def test_the_reader_finds_the_imports_the_issue_named():
    """The parse sees imports inside functions (the loops of issue 18 were there)."""
    assert "engine" in GRAPH["fast"] and "ops" in GRAPH["engine"]
    assert "viz" in GRAPH["page"]  # inside _viz(): a function-level import
    assert "engine" not in GRAPH["ops"] and "expr" not in GRAPH["ops"] and "viz" not in GRAPH["paths"]
    assert GRAPH["ops"] <= {"real"}  # the records are pure data
