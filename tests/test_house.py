"""The package's shape: no function longer than a screen."""

from __future__ import annotations

import ast

from conftest import REPO

MAX_LINES = 60


def function_lengths(source: str) -> dict[str, int]:
    """Every function and method of a module (nested ones too), by qualified name: its lines from
    `def` to its last line, docstring and comments included."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lengths[name] = child.end_lineno - child.lineno + 1
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return lengths


def test_the_measure_counts_from_def_to_the_last_line():
    source = "def f():\n    x = 1\n\n    return x\n\nclass C:\n    def m(self):\n        def inner():\n" \
             "            pass\n        return inner\n"
    assert function_lengths(source) == {"f": 4, "C.m": 4, "C.m.inner": 2}


def test_no_function_is_over_60_lines():
    package = REPO / "micrograd_bp"
    too_long = [f"{path.relative_to(REPO)}: {name} has {n} lines"
                for path in sorted(package.rglob("*.py"))
                for name, n in function_lengths(path.read_text()).items() if n > MAX_LINES]
    assert too_long == []


def test_only_the_command_line_prints():
    """Library code returns results: no print() and no sys.stdout or sys.stderr outside cli.py and
    console.py (the page's generated JavaScript is text, not a call)."""
    package = REPO / "micrograd_bp"
    printing = []
    for path in sorted(package.rglob("*.py")):
        if path.name in ("cli.py", "console.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{path.name}:{node.lineno} print()")
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and \
                    isinstance(node.value, ast.Name) and node.value.id == "sys":
                printing.append(f"{path.name}:{node.lineno} sys.{node.attr}")
    assert printing == []
