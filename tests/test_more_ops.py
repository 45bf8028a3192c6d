"""sin, cos, abs, sqrt, max and min: gradients against central differences and SymPy, their kinks'
conventions, their errors, and every layer that reads a record (fast, compiled, page, LaTeX, diff)."""

from __future__ import annotations

import json
import math
import random
import tempfile

import pytest
import sympy
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import central_difference, close

from micrograd_bp import OPS, ExprError, Value, explore, fast, grad, parse, topological_order
from micrograd_bp.compiled import compile_graph
from micrograd_bp.latex import formula as latex_formula
from micrograd_bp.symbolic import diff, to_sympy

X, Y = sympy.symbols("x y", real=True)
NEW = ("sin", "cos", "abs", "sqrt", "max", "min")

# Each op on expressions of x and y, and the same in SymPy (the oracle), away from kinks.
CASES = {
    "sin": ("sin(x*y)", sympy.sin(X * Y)),
    "cos": ("cos(x - y)", sympy.cos(X - Y)),
    "abs": ("abs(x - 2*y)", sympy.Abs(X - 2 * Y)),
    "sqrt": ("sqrt(x*x + y)", sympy.sqrt(X * X + Y)),
    "max": ("max(x*y, y)", sympy.Max(X * Y, Y)),
    "min": ("min(x, y*y)", sympy.Min(X, Y * Y)),
}


def test_each_new_op_is_a_record():
    for name in NEW:
        op = OPS[name]
        assert op.function and op.sympy and op.replay and op.js and op.formulas
    assert OPS["max"].arity == OPS["min"].arity == 2


@pytest.mark.parametrize("name", NEW)
@settings(max_examples=40, deadline=None)
@given(x=st.floats(0.2, 2.0), y=st.floats(0.2, 2.0))
def test_gradients_agree_with_central_differences_and_sympy(name, x, y):
    text, oracle = CASES[name]
    expression = parse(text)
    kink = {"abs": abs(x - 2 * y), "max": abs(x * y - y), "min": abs(x - y * y)}.get(name, 1.0)
    if kink < 1e-3:
        return  # at a kink the one-sided slopes differ: the conventions are tested below
    partials = expression.evaluate(x=x, y=y).partials()
    for name_, symbol in (("x", X), ("y", Y)):
        exact = float(sympy.diff(oracle, symbol).subs({X: x, Y: y}).evalf(30))

        def f(t, name_=name_):
            return expression.value({"x": x, "y": y, name_: t})
        point = x if name_ == "x" else y
        assert close(partials[name_], exact, 1e-12, 1e-12), (text, name_)
        assert close(partials[name_], central_difference(f, point), 1e-6, 1e-8), (text, name_)


def test_kink_conventions():
    """abs'(0) = 0; a tie of max or min goes to the first input (d/da = 1, d/db = 0)."""
    zero = Value(0.0, "z")
    assert grad(abs(zero), [zero]) == [0.0]
    assert grad(Value(-0.0).abs(), [Value(1.0)]) == [0.0]
    for name in ("max", "min"):
        a, b = Value(1.5, "a"), Value(1.5, "b")
        out = Value.apply(OPS[name], a, b)
        assert out.local_grads == (1.0, 0.0) and grad(out, [a, b]) == [1.0, 0.0]
        # the formulas say the same at the tie (the page and explain read them)
        values = {"a": 1.5, "b": 1.5, "out": 1.5}
        formulas = [parse(f).value({k: values[k] for k in parse(f).variables}) for f in OPS[name].formulas]
        assert formulas == [1.0, 0.0]
    assert parse("step(a) - step(-a)").value(a=0.0) == 0.0  # abs's formula at its kink
    # the second input wins only when strictly better
    a, b = Value(1.0), Value(2.0)
    assert grad(Value.apply(OPS["max"], a, b), [a, b]) == [0.0, 1.0]
    assert grad(Value.apply(OPS["min"], a, b), [a, b]) == [1.0, 0.0]


def test_sqrt_domain_and_its_infinite_slope_are_clear_errors():
    with pytest.raises(ValueError, match=r"sqrt: math domain error, sqrt\(-1.0\) is undefined"):
        Value(-1.0).sqrt()
    with pytest.raises(ZeroDivisionError, match="sqrt: the derivative of sqrt"):
        Value(0.0).sqrt()
    with pytest.raises(ExprError, match="sqrt: math domain error"):
        parse("sqrt(x - 2)").evaluate(x=1.0)
    status, out, err = run_cli("grad", "sqrt(x)", "x=-4")
    assert status != 0 and "sqrt: math domain error" in err and "Traceback" not in err


def _graph(values: dict[str, float]) -> tuple[Value, dict[str, Value]]:
    leaves = {k: Value(v, k) for k, v in values.items()}
    x, y = leaves["x"], leaves["y"]
    out = (x * y).sin() * (x - y).cos() + abs(x - 2 * y) + (x * x + y).sqrt() \
        + Value.apply(OPS["max"], x * y, y) * Value.apply(OPS["min"], x, y * y)
    return out, leaves


def test_fast_and_plain_layers_agree_bit_for_bit():
    rng = random.Random(3)
    for _ in range(20):
        values = {"x": rng.uniform(-2, 2), "y": rng.uniform(0.1, 2)}
        fast_out, fast_leaves = _graph(values)
        fast_out.backward()
        fast.uninstall()
        try:
            plain_out, plain_leaves = _graph(values)
            plain_out.backward()
        finally:
            fast.install()
        pairs = zip(topological_order(fast_out), topological_order(plain_out))
        assert all(a.data.hex() == b.data.hex() and a.grad.hex() == b.grad.hex() for a, b in pairs)


def test_the_compiled_replay_agrees_bit_for_bit():
    out, leaves = _graph({"x": 0.3, "y": 1.1})
    compiled = compile_graph(out, list(leaves.values()))
    rng = random.Random(4)
    for _ in range(20):
        values = {"x": rng.uniform(-2, 2), "y": rng.uniform(0.1, 2)}
        value = compiled.forward_backward(values)
        eager, eager_leaves = _graph(values)
        eager.backward()
        assert value == eager.data
        assert compiled.gradients() == [eager_leaves["x"].grad, eager_leaves["y"].grad]


def test_latex_and_sympy_forms():
    assert latex_formula("abs(x - y)") == r"\left|x - y\right|"
    assert latex_formula("sqrt(x + 1)*sin(θ)") == r"\sqrt{x + 1} \cdot \sin\left(\theta\right)"
    assert latex_formula("max(a, b) - min(a, b)") == r"\max\left(a, b\right) - \min\left(a, b\right)"
    expected = sympy.Max(X, Y) + sympy.Abs(X) * sympy.sqrt(Y)
    assert sympy.simplify(to_sympy("max(x, y) + abs(x)*sqrt(y)") - expected) == 0


def test_diff_writes_the_new_ops_and_reads_back():
    assert diff("sin(x)", "x").derivative == "cos(x)" and diff("cos(x)", "x").derivative == "-sin(x)"
    assert diff("sqrt(x)", "x").derivative == "1/(2*sqrt(x))"
    assert diff("abs(x)", "x").derivative == "step(x) - step(-x)"
    assert diff("max(x, y)", "x").derivative == "step(x - y)"
    for text in ("abs(x*y) + sqrt(x)", "min(x, y)*cos(y)"):
        for wrt in ("x", "y"):
            written = diff(text, wrt).derivative
            here = {"x": 0.7, "y": 1.3}
            assert close(parse(written).value({k: here[k] for k in parse(written).variables}),
                         parse(text).evaluate(here).partials()[wrt], 1e-12, 1e-12)


def test_diff_speaks_the_learners_terms():
    assert diff("sigmoid(w*x + b)", "w").derivative == "x*(1 - sigmoid(b + w*x))*sigmoid(b + w*x)"
    assert diff("tanh(u)", "u").derivative == "1 - tanh(u)**2"
    status, out, _ = run_cli("diff", "sigmoid(w*x + b)", "--wrt", "w", "--json")
    assert status == 0 and "sigmoid" in json.loads(out)["derivative"] and "exp" not in out
    status, out, _ = run_cli("check", "sigmoid(w*x + b)", "--wrt", "w", "--claim",
                             "x*exp(-b - w*x)/(exp(-b - w*x) + 1)**2", "w=1", "x=2", "b=0.5", "--symbolic")
    assert status == 0 and "identical to the derivative" in out


def test_variable_names_may_be_any_identifier():
    evaluation = parse("sin(θ)*θ_1 + max(θ, λ)").evaluate({"θ": 0.5, "θ_1": 2.0, "λ": 0.25})
    assert close(evaluation.partials()["θ"], math.cos(0.5) * 2.0 + 1.0, 1e-15)
    assert latex_formula("θ_1*λ") == r"\theta_{1} \cdot \lambda"
    status, out, _ = run_cli("grad", "θ**2", "θ=3", "--json")
    assert status == 0 and json.loads(out) == {"value": 9.0, "grad": {"θ": 6.0}}
    with pytest.raises(ExprError, match="unexpected character"):
        parse("x × y")


def test_the_page_computes_the_new_ops_as_python(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={tempfile.mkdtemp(prefix='ops-')}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        out, leaves = _graph({"x": 0.3, "y": 1.1})
        path = explore(out).save(tmp_path / "ops.html")
        browser.get(path.as_uri())
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
        points = ({"x": 0.3, "y": 1.1}, {"x": 1.0, "y": 1.0}, {"x": 2.2, "y": 1.1}, {"x": -0.5, "y": 0.25})
        for values in points:  # (1, 1): max and min at their ties
            for name, v in values.items():
                state = browser.execute_script("return window.micrograd.setLeaf(arguments[0], arguments[1])",
                                               name, v)
            # the page opens at step 0 (a guide): its last step shows every gradient
            state = browser.execute_script("const m = window.micrograd; return m.step(m.state().step.total)")
            expected, _ = _graph(values)
            order = topological_order(expected)
            expected.backward()
            assert state["error"] is None
            for shown, node in zip(state["nodes"], order):
                assert math.isclose(shown["data"], node.data, rel_tol=1e-12, abs_tol=1e-300)
                assert math.isclose(shown["grad"], node.grad, rel_tol=1e-12, abs_tol=1e-300)
        state = browser.execute_script("return window.micrograd.setLeaf('y', -3)")
        assert "sqrt: math domain error" in state["error"]["message"]
    finally:
        browser.quit()
