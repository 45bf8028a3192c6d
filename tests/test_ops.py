"""The op records: every built-in op's formulas, and a user's op registered once, working everywhere."""

from __future__ import annotations

import dataclasses
import math

import pytest
from oracles import central_difference, close

from micrograd_bp import OPS, Op, Value, grad, register_op
from micrograd_bp import ops as ops_module
from micrograd_bp.compiled import compile_graph
from micrograd_bp.expr import expr, formula_value, parse, substitute
from micrograd_bp.ops import power_op
from micrograd_bp.registry import unregister_op

# A spread of points inside each built-in op's domain, for the formula checks below.
POINTS = {
    "add": [(0.3, -1.2)], "sub": [(0.3, -1.2)], "mul": [(0.3, -1.2)], "div": [(0.3, -1.2)],
    "neg": [(0.7,)], "pow": [(1.7, 0.6)], "exp": [(0.4,)], "log": [(2.5,)], "tanh": [(-0.8,)],
    "sigmoid": [(0.9,)], "relu": [(1.3,), (-0.4,)], "step": [(0.8,)],
    "linear": [(0.15, 0.05, 0.2, 0.1, 0.35)],
    "sin": [(0.4,), (-2.2,)], "cos": [(0.4,), (-2.2,)], "abs": [(1.3,), (-0.4,)], "sqrt": [(0.3,), (2.5,)],
    "max": [(0.3, -1.2), (-1.2, 0.3)], "min": [(0.3, -1.2), (-1.2, 0.3)],
}


def test_every_builtin_op_has_points_here():
    assert set(POINTS) == set(OPS)


@pytest.mark.parametrize("name", sorted(POINTS))
def test_each_formula_is_the_local_derivative_by_central_differences(name):
    op = OPS[name]
    for xs in POINTS[name]:
        n = len(xs)
        out = op.forward(*xs)
        values = dict(zip(op.input_names(n), xs), out=out)
        for i, formula in enumerate(op.formulas_for(n)):
            def f(t, i=i, xs=xs):
                return op.forward(*(t if j == i else x for j, x in enumerate(xs)))
            assert close(formula_value(formula, values), central_difference(f, xs[i]), 1e-6), (name, i)


@pytest.mark.parametrize("n", [2.0, 3.0, 0.5, -1.0, -2.5, 0.0, 1.0])
def test_a_fixed_power_formula_is_its_derivative(n):
    op = power_op(n)
    (formula,) = op.formulas
    x = 1.7
    assert close(formula_value(formula, {"a": x}), n * x ** (n - 1) if n else 0.0, 1e-12)


def test_formulas_read_as_the_tutorial_writes_them():
    assert OPS["sigmoid"].formulas == ("out*(1 - out)",)
    assert OPS["mul"].formulas == ("b", "a")
    assert OPS["linear"].formulas_for(5) == ("x1", "w1", "x2", "w2", "1")
    assert OPS["linear"].input_names(5) == ("w1", "x1", "w2", "x2", "b")
    assert power_op(2).formulas == ("2*a",)
    assert substitute("out*(1 - out)", {"out": "out_o1"}) == "out_o1*(1 - out_o1)"
    assert substitute("b*a**(b - 1)", {"a": "x", "b": "y + 1"}) == "(y + 1)*x**(y + 1 - 1)"
    assert substitute("-out/b", {"out": "q", "b": "w*x"}) == "-q/(w*x)"


def test_rendering_keeps_the_meaning_of_every_expression():
    for text in ("a - (b - c)", "a/(b*c)", "(a**b)**c", "a**b**c", "-(a + b)*c", "(-a)**2", "-a**2",
                 "a - -b", "exp(-a)/(1 + exp(-a))", "2**-a"):
        rendered = parse(text).render()
        values = {"a": 1.3, "b": 0.7, "c": 1.9}
        assert close(parse(rendered).value(values), parse(text).value(values), 1e-15), (text, rendered)


def test_latex_and_javascript_templates_fill_in():
    assert OPS["exp"].latex_for(1).format("x") == "e^{x}"
    assert OPS["div"].latex_for(2).format("a", "b") == r"\frac{a}{b}"
    assert power_op(2).latex_for(1).format("x") == "{x}^{2}"
    assert OPS["linear"].js_for(3).format("w", "x", "b") == "(b + w * x)"


# ------------------------------------------------------------------------- a user's op


def _exp(v):
    return v.exp() if isinstance(v, Value) else math.exp(v)


def _log1p_exp(a: float) -> float:
    return math.log1p(math.exp(a)) if a < 30 else a + math.log1p(math.exp(-a))


# softplus(a) = log(1 + e^a); its derivative sigmoid(a) = 1 - e^(-out), written so it works on Values
SOFTPLUS = Op(name="softplus", arity=1, forward=_log1p_exp, partials=lambda a, out: (1 - _exp(-out),),
              formulas=("sigmoid(a)",))


@pytest.fixture
def softplus():
    op = register_op(SOFTPLUS)
    yield op
    unregister_op("softplus")


def test_a_registered_op_gets_the_defaults(softplus):
    assert softplus.symbol == "softplus" and softplus.function and softplus.replay is None
    assert softplus.latex_for(1).format("x") == r"\operatorname{softplus}\left(x\right)"
    assert "softplus" in ops_module.functions()


def test_a_registered_op_works_in_values_calls_and_expressions(softplus):
    x = Value(0.3, "x")
    by_apply = Value.apply(softplus, 2 * x)
    by_call = softplus(2 * x)
    by_text = expr("softplus(2*x)", x=0.3)
    exact = math.log1p(math.exp(0.6))
    for y in (by_apply, by_call, by_text):
        assert close(y.data, exact, 1e-15)
    by_call.backward()
    numeric = central_difference(lambda t: _log1p_exp(2 * t), 0.3)
    assert close(x.grad, numeric, 1e-8)
    assert close(x.grad, 2 / (1 + math.exp(-0.6)), 1e-15)  # by hand: 2 sigmoid(2x)


def test_a_registered_op_has_second_derivatives(softplus):
    x = Value(0.3)
    (g,) = grad(softplus(x), [x], create_graph=True)
    (h,) = grad(g, [x])
    s = 1 / (1 + math.exp(-0.3))
    assert close(g.data, s, 1e-15) and close(h, s * (1 - s), 1e-12)  # sigmoid' = s(1 - s)


def test_a_registered_op_replays_bit_for_bit(softplus):
    def build():
        w, x = Value(0.8, "w"), Value(-1.1, "x")
        return softplus(w * x) * softplus(w), w, x

    y, w, x = build()
    compiled = compile_graph(y, [w, x])
    value = compiled.forward_backward({"w": 0.7, "x": 1.3})
    eager_w, eager_x = Value(0.7, "w"), Value(1.3, "x")
    eager = softplus(eager_w * eager_x) * softplus(eager_w)
    eager.backward()
    assert value == eager.data and compiled.gradients() == [eager_w.grad, eager_x.grad]


def test_a_registered_op_is_drawn_and_explained(softplus):
    from micrograd_bp import explain
    from micrograd_bp.viz import draw

    w = Value(0.5, "w")
    y = softplus(3 * w).named("y")
    y.backward()
    assert "label=softplus" in draw(y).source
    ex = explain(y, w)
    assert close(ex.partial, 3 / (1 + math.exp(-1.5)), 1e-12) and close(ex.listed_sum, ex.partial, 1e-12)


@pytest.mark.parametrize("bad, message", [
    (dataclasses.replace(SOFTPLUS, name="exp"), "exists already"),
    (dataclasses.replace(SOFTPLUS, name="out"), "reserved"),
    (dataclasses.replace(SOFTPLUS, name="not a name"), "not a usable op name"),
    (dataclasses.replace(SOFTPLUS, formulas=("sigmoid(a",)), "formulas: .*does not parse"),
    (dataclasses.replace(SOFTPLUS, formulas=("sigmoid(z)",)), "formulas: .*uses 'z'"),
    (dataclasses.replace(SOFTPLUS, formulas=()), "formulas: needs one formula per input"),
    (dataclasses.replace(SOFTPLUS, formulas=("tanh(a)",)), "formulas: .*partials gives"),
    (dataclasses.replace(SOFTPLUS, partials=lambda a, out: (1.0, 2.0)), "partials: gave 2"),
    (dataclasses.replace(SOFTPLUS, arity=0), "arity: must be a positive int"),
])
def test_an_inconsistent_record_is_refused_at_registration(bad, message):
    with pytest.raises(ValueError, match=message):
        register_op(bad)
    assert "softplus" not in OPS and "out" not in OPS


def test_builtin_ops_cannot_be_unregistered():
    with pytest.raises(ValueError, match="built-in"):
        unregister_op("exp")


def test_an_op_prints_what_it_computes_and_its_local_derivatives():
    # by hand: d(a*b)/da = b, d(sigmoid(a))/da = sigmoid(a)(1 - sigmoid(a)) = out*(1 - out),
    # d(w1*x1 + b)/dw1 = x1, d(a**2)/da = 2a
    assert repr(OPS["mul"]) == "Op('mul': a * b; d/da = b, d/db = a)"
    assert repr(OPS["sigmoid"]) == "Op('sigmoid': sigmoid(a); d/da = out*(1 - out))"
    assert repr(OPS["neg"]) == "Op('neg': -a; d/da = -1)"
    assert repr(OPS["linear"]) == "Op('linear': linear(w1, x1, b); d/dw1 = x1, d/dx1 = w1, d/db = 1)"
    assert repr(power_op(2.0)) == "Op('powc': a ** 2; d/da = 2*a)"
    assert repr(SOFTPLUS) == "Op('softplus': softplus(a); d/da = sigmoid(a))"


# The same user's op through the rest of the features: the checker, the backward ledger, gradcheck_op,
# the HTML page and the symbolic tutor (each with what a record without js or sympy gives).

def test_a_registered_op_is_checked_as_a_claim(softplus):
    from micrograd_bp.diagnose import check_expression

    # by hand: d softplus(2x)/dx = 2 sigmoid(2x); the claim sigmoid(2x) misses the factor 2
    right = check_expression("softplus(2*x)", "x", "2*sigmoid(2*x)", {"x": 0.3})
    assert right.ok and right.points_agreeing == right.points_checked >= 21
    assert close(right.autograd, 2 / (1 + math.exp(-0.6)), 1e-15)
    wrong = check_expression("softplus(2*x)", "x", "sigmoid(2*x)", {"x": 0.3})
    assert not wrong.ok and "the factor d(2*x)/dx = 2 is missing" in wrong.diagnosis.message


def test_a_registered_op_in_the_backward_ledger(softplus):
    from micrograd_bp.trace import trace_backward

    x = Value(0.3, "x")
    y = softplus(2 * x).named("y")
    ledger = trace_backward(y)
    text = str(ledger)
    s = 1 / (1 + math.exp(-0.6))  # by hand: the local derivative sigmoid(2x), then times 2
    assert "step 1: y (softplus), grad 1" in text
    assert f"local sigmoid(2*x) = {s:.9g}" in text
    assert ledger.final["x"] == x.grad and close(x.grad, 2 * s, 1e-15)


def test_gradcheck_op_passes_the_op_and_catches_a_wrong_partial(softplus):
    from micrograd_bp import gradcheck_op

    result = gradcheck_op(softplus)
    assert result.ok and result.points_checked == 50 and result.worst is not None
    w = result.worst
    assert close(w.analytic, 1 / (1 + math.exp(-w.inputs[0])), 1e-12)  # sigmoid, by hand
    halved = dataclasses.replace(softplus, name="halfplus", symbol="halfplus",
                                 partials=lambda a, out: (0.5 * (1 - _exp(-out)),))
    bad = gradcheck_op(halved)
    assert not bad.ok and "d/d(input 1)" in bad.problems[0]


def test_a_registered_op_without_js_is_a_clear_page_error_and_with_js_a_page(softplus):
    from micrograd_bp.page import PageError, explore

    x = Value(0.3, "x")
    with pytest.raises(PageError, match="'softplus' has no JavaScript template"):
        explore(softplus(2 * x))
    with_js = register_op(dataclasses.replace(SOFTPLUS, name="softplus_js", symbol="softplus_js",
                                              js="Math.log1p(Math.exp({0}))"))
    try:
        page = explore(with_js(2 * x).named("y"))
        assert '"op":"softplus_js"' in page.html and "Math.log1p(Math.exp(" in page.html
        assert f'"data":{math.log1p(math.exp(0.6))!r}' in page.html  # the forward's value, shown
    finally:
        unregister_op("softplus_js")


def test_a_registered_op_in_the_symbolic_tutor(softplus):
    import sympy

    from micrograd_bp import to_sympy
    from micrograd_bp.symbolic import diff

    with pytest.raises(ValueError, match="'softplus' has no SymPy form"):
        to_sympy(softplus(Value(0.3, "x")))
    with pytest.raises(ValueError, match="'softplus' has no SymPy form"):
        diff("softplus(x)", "x")
    named = register_op(dataclasses.replace(SOFTPLUS, name="softplus_sp", symbol="softplus_sp",
                                            sympy=lambda sp, a: sp.log(1 + sp.exp(a))))
    try:
        d = diff("softplus_sp(2*x)", "x")
        x = sympy.Symbol("x", real=True)
        truth = sympy.diff(sympy.log(1 + sympy.exp(2 * x)), x)  # SymPy's own derivative
        assert sympy.simplify(d.sympy - truth) == 0
        for t in (-2.0, 0.3, 4.0):  # and the text it prints is read back by the expression language
            assert close(parse(d.derivative).value({"x": t}), 2 / (1 + math.exp(-2 * t)), 1e-12)
        assert to_sympy(named(Value(0.3, "x"))) == sympy.log(1 + sympy.exp(x))
    finally:
        unregister_op("softplus_sp")
