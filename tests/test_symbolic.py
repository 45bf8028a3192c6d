"""symbolic: to_sympy through the op records, diff against SymPy and autograd, the CLI's diff."""

from __future__ import annotations

import json
import math
import random
import sys

import pytest
import sympy
from conftest import run_cli
from hypothesis import given, settings
from matplotlib import mathtext
from oracles import VARIABLES, build, close, trees

import micrograd_bp
from micrograd_bp import OPS, Op, Value, grad, parse, register_op
from micrograd_bp.ops import power_op
from micrograd_bp.registry import unregister_op
from micrograd_bp.symbolic import check_symbolic, diff, to_sympy

X, Y, Z = sympy.symbols("x y z", real=True)
_LAYOUT = mathtext.MathTextParser("path")


def test_to_sympy_names_leaves_by_label_and_keeps_constants_exact():
    x, y = Value(0.5, "x"), Value(2.0, "y")
    out = (x * y + 0.1).tanh() / (x.exp() + Value(3.0)) - (y ** 2).log()
    expected = sympy.tanh(X * Y + sympy.Rational(1, 10)) / (sympy.exp(X) + 3) - sympy.log(Y ** 2)
    assert sympy.simplify(to_sympy(out) - expected) == 0
    assert micrograd_bp.to_sympy is to_sympy and "to_sympy" in micrograd_bp.__all__


def test_an_op_without_a_sympy_form_is_a_clear_error():
    softplus = Op("softplus_nosym", 1, lambda a: math.log1p(math.exp(a)),
                  lambda a, out: (1 / (1 + math.exp(-a)),), ("sigmoid(a)",))
    register_op(softplus)
    try:
        with pytest.raises(ValueError, match="'softplus_nosym' has no SymPy form"):
            to_sympy(softplus(Value(0.3, "x")))
        with pytest.raises(ValueError, match="has no SymPy form"):
            diff("softplus_nosym(x)", "x")
    finally:
        unregister_op("softplus_nosym")


@settings(max_examples=40, deadline=None)
@given(trees(max_leaves=6))
def test_diff_agrees_with_sympys_own_derivative_and_with_autograd(tree):
    env = {name: Value(1.0, name) for name in VARIABLES}
    graph = build(tree, env, "engine")
    oracle = build(tree, dict(zip(VARIABLES, (X, Y, Z))), "sympy")
    rng = random.Random(0)
    for name, symbol in zip(VARIABLES, (X, Y, Z)):
        d = diff(graph, name)
        _LAYOUT.parse(f"${d.latex}$")  # its LaTeX renders with mathtext (ValueError if not)
        exact = sympy.lambdify((X, Y, Z), sympy.diff(oracle, symbol))
        again = parse(d.derivative)  # the text reads back
        for _ in range(3):
            point = {n: rng.uniform(-1.5, 1.5) for n in VARIABLES}
            leaves = {n: Value(v, n) for n, v in point.items()}
            out = build(tree, leaves, "engine")
            autograd = grad(out, [leaves[name]])[0]
            value = again.value({n: point[n] for n in again.variables})
            assert close(value, float(exact(*point.values())), 1e-9, 1e-9), (d, point)
            assert close(value, autograd, 1e-9, 1e-9), (d, point)


def _inputs_for(op: Op) -> list:
    """An expression per input of op, over x and y, inside its domain for x, y in (0.2, 1.5)."""
    n = 5 if op.arity < 0 else op.arity
    pool = ["x", "y", "x*y + 0.5", "x + y", "2*y - x"]
    return pool[:n]


@pytest.mark.parametrize("op", [*OPS.values(), power_op(2.0), power_op(-1.5), power_op(0.5)],
                         ids=lambda op: op.name + ("" if op.exponent is None else f"{op.exponent:g}"))
def test_diff_of_every_op_agrees_with_autograd_at_random_points(op):
    texts = _inputs_for(op)

    def graph(x: float, y: float) -> tuple[Value, Value, Value]:
        xv, yv = Value(x, "x"), Value(y, "y")
        args = [_on(t, xv, yv) for t in texts]  # on the same two leaves, so both partials flow
        return Value.apply(op, *args), xv, yv

    out, _, _ = graph(0.7, 1.1)
    rng = random.Random(1)
    for name in ("x", "y"):
        d = diff(out, name)
        for _ in range(5):
            x, y = rng.uniform(0.2, 1.5), rng.uniform(0.2, 1.5)
            there, xv, yv = graph(x, y)
            autograd = grad(there, [xv if name == "x" else yv])[0]
            assert close(parse(d.derivative).value({"x": x, "y": y}), autograd, 1e-9, 1e-12), (op.name, d)


def _on(text: str, x: Value, y: Value) -> Value:
    return {"x": lambda: x, "y": lambda: y, "x*y + 0.5": lambda: x * y + 0.5, "x + y": lambda: x + y,
            "2*y - x": lambda: 2 * y - x}[text]()


def test_diff_writes_simple_formulas_and_latex():
    assert diff("x**3", "x").derivative == "3*x**2"
    assert diff("-x**2*y", "x").derivative == "-2*x*y"
    assert diff("1e-13*x", "x").derivative == "1e-13"
    assert diff("relu(x)**2", "x").derivative == "2*step(x)*relu(x)"
    assert diff("step(x)*x", "x").derivative == "step(x)"  # step's slope is 0, as the engine takes it
    assert diff("x**3", "x").latex == "3 \\cdot {x}^{2}"
    with pytest.raises(micrograd_bp.ExprError, match="'y' is not in the expression"):
        diff("x**3", "y")


def test_check_symbolic_proves_or_gives_the_difference():
    same = check_symbolic("x**3", "x", "3*x*x")
    assert same.identical
    assert repr(same) == "symbolic: the claim is identical to the derivative 3*x**2 for all inputs"
    for block in same._repr_markdown_().split("$$")[1::2]:
        _LAYOUT.parse(f"${block}$")
    gap = check_symbolic("x**3", "x", "3*x")
    difference = sympy.sympify(gap.difference, locals={"x": X})
    assert not gap.identical and sympy.simplify(difference - (3 * X - 3 * X ** 2)) == 0
    sig = check_symbolic("sigmoid(w*x + b)", "w", "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))*x")
    assert sig.identical


# --------------------------------------------------------------------------------------- CLI

def test_cli_diff_prints_text_that_grad_and_check_read_back():
    status, out, _ = run_cli("diff", "sigmoid(w*x + b)**2", "--wrt", "w")
    derivative = out.strip()
    assert status == 0 and derivative
    values = ["w=0.8", "x=1.5", "b=-0.3"]
    status, out, err = run_cli("check", "sigmoid(w*x + b)**2", "--wrt", "w", "--claim", derivative, *values)
    assert status == 0, out + err
    status, out, _ = run_cli("grad", derivative, *values, "--json")
    s = 1 / (1 + math.exp(-(0.8 * 1.5 - 0.3)))
    assert status == 0 and close(json.loads(out)["value"], 2 * s * s * (1 - s) * 1.5, 1e-12)


def test_cli_diff_json_and_latex():
    status, out, _ = run_cli("diff", "-x**2", "--wrt", "x", "--json")
    assert status == 0 and json.loads(out) == {"derivative": "-2*x", "latex": "-2 \\cdot x"}
    status, out, _ = run_cli("diff", "x**3", "--wrt", "x", "--latex")
    assert status == 0 and out == "3 \\cdot {x}^{2}\n"


def test_cli_check_symbolic():
    status, out, _ = run_cli("check", "x**3", "--wrt", "x", "--claim", "3*x**2", "x=2", "--symbolic")
    assert status == 0 and "identical to the derivative 3*x**2 for all inputs" in out
    status, out, _ = run_cli("check", "x**3", "--wrt", "x", "--claim", "3*x", "x=1", "--symbolic", "--json")
    data = json.loads(out)
    assert status == 1 and data["symbolic"] == {"identical": False, "derivative": "3*x**2",
                                                "difference": "3*x*(1 - x)"}


def test_without_sympy_diff_and_symbolic_exit_2_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)  # import sympy now raises ImportError
    for argv in (["diff", "x**2", "--wrt", "x"], ["check", "x**2", "--wrt", "x", "--claim", "2*x", "x=1",
                                                  "--symbolic"]):
        status, out, err = run_cli(*argv)
        assert status == 2 and out == ""
        assert "pip install 'micrograd_bp[symbolic]'" in err and len(err.strip().splitlines()) == 1
    status, out, _ = run_cli("check", "x**2", "--wrt", "x", "--claim", "2*x", "x=1")
    assert status == 0 and "right:" in out  # everything else works
    with pytest.raises(ImportError, match="pip install"):
        to_sympy(Value(1.0, "x"))


def test_two_leaves_with_one_label_are_refused_not_merged():
    a, b = Value(1.0, "x"), Value(2.0, "x")  # two variables: d(a*b)/da = b = 2, d(a*b)/db = a = 1
    with pytest.raises(ValueError, match="two different leaves are named 'x'"):
        to_sympy(a * b)
    assert to_sympy(a * a) == sympy.Symbol("x", real=True) ** 2  # one leaf used twice is one variable

