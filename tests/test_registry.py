"""register_op checks a record whole: each wrong field refused by name; a registered op works everywhere."""

from __future__ import annotations

import dataclasses
import math

import pytest
from oracles import central_difference, close

from micrograd_bp import OPS, Op, Value, grad, parse, register_op, unregister_op
from micrograd_bp.compiled import compile_graph
from micrograd_bp.nn import MLP
from micrograd_bp.ops import _BUILTIN, Replay
from micrograd_bp.registry import check_fields


def _softplus(a: float) -> float:
    return math.log1p(math.exp(a))


def _softplus_partials(a, out):
    return (1 / (1 + math.exp(-a)),) if isinstance(a, float) else ((1 + (-a).exp()) ** -1,)


SOFTPLUS = Op("softplus", 1, _softplus, _softplus_partials, ("sigmoid(a)",),
              latex=r"\operatorname{{softplus}}\left({0}\right)", js="Math.log1p(Math.exp({0}))",
              sympy=lambda sp, a: sp.log(1 + sp.exp(a)),
              replay=Replay("{out} = log1p(exp({0}))", ("1 / (1 + exp(-{0}))",)))

# hypot of two inputs, a two-input op called by name: hypot2(a, b)
HYPOT = Op("hypot2", 2, math.hypot, lambda a, b, out: (a / out, b / out), ("a/out", "b/out"),
           sympy=lambda sp, a, b: sp.sqrt(a ** 2 + b ** 2),
           replay=Replay("{out} = hypot({0}, {1})", ("{0} / {out}", "{1} / {out}"),
                         redo_if="{0} == 0.0 and {1} == 0.0"))


@pytest.fixture
def registered():
    ops = [register_op(SOFTPLUS), register_op(HYPOT)]
    yield ops
    for op in ops:
        unregister_op(op.name)


@pytest.mark.parametrize("op", [op for op in _BUILTIN if op.arity > 0], ids=lambda op: op.name)
def test_every_built_in_record_passes_the_checks_a_new_one_must(op):
    check_fields(op)  # formulas, replay bit for bit, SymPy values, templates


@pytest.mark.parametrize("bad, field, detail", [
    (dataclasses.replace(SOFTPLUS, replay=Replay("{out} = log(1 + exp({0}))", ("1 / (1 + exp(-{0}))",))),
     "replay", "its forward gives"),
    (dataclasses.replace(SOFTPLUS, replay=Replay("{out} = log1p(exp({0}))", ("1 / (1 + exp({0}))",))),
     "replay", "its partial for input 0"),
    (dataclasses.replace(SOFTPLUS, replay=Replay("{out} = log1p(exp({0}))", ("nosuch({0})",))),
     "replay", "NameError"),
    (dataclasses.replace(SOFTPLUS, replay=Replay("{out} = log1p(exp({0}))", ())), "replay", "one partial"),
    (dataclasses.replace(SOFTPLUS, sympy=lambda sp, a: sp.log(1 + sp.exp(-a))), "sympy", "forward gives"),
    (dataclasses.replace(SOFTPLUS, sympy=lambda sp, a: sp.nosuch(a)), "sympy", "fails"),
    (dataclasses.replace(SOFTPLUS, latex=r"\operatorname{{softplus}}\left({1}\right)"), "latex", "template"),
    (dataclasses.replace(SOFTPLUS, latex=r"\operatorname{{softplus}}"), "latex", "does not use input"),
    (dataclasses.replace(SOFTPLUS, js="Math.log1p(Math.exp(x))"), "js", "does not use input"),
    (dataclasses.replace(SOFTPLUS, formulas=("tanh(a)",)), "formulas", "partials gives"),
    (dataclasses.replace(SOFTPLUS, formulas=("sigmoid(z)",)), "formulas", "uses 'z'"),
    (dataclasses.replace(SOFTPLUS, partials=lambda a, out: (1.0, 2.0)), "partials", "gave 2"),
    (dataclasses.replace(SOFTPLUS, forward="log1p"), "forward", "callable"),
    (dataclasses.replace(SOFTPLUS, arity=0), "arity", "positive int"),
    (dataclasses.replace(SOFTPLUS, precedence=9), "precedence", "1 to 5"),
    (dataclasses.replace(SOFTPLUS, symbol=3), "symbol", "str"),
    (dataclasses.replace(SOFTPLUS, infix="%"), "infix", "fixed"),
    (dataclasses.replace(HYPOT, replay=Replay("{out} = hypot({0}, {1})", ("{1} / {out}", "{0} / {out}"))),
     "replay", "partial for input 0"),
])
def test_a_wrong_field_is_refused_by_name(bad, field, detail):
    with pytest.raises(ValueError, match=rf"register_op: {bad.name}: {field}: .*{detail}"):
        register_op(bad)
    assert bad.name not in OPS


def test_replay_code_may_call_any_function_of_math(registered):
    erf = register_op(Op("erf", 1, math.erf, lambda a, out: (2 / math.sqrt(math.pi) * math.exp(-a * a),),
                         ("2/sqrt(3.141592653589793)*exp(-a*a)",),
                         replay=Replay("{out} = erf({0})", ("2 / sqrt(pi) * exp(-{0} * {0})",))))
    try:
        x, y = Value(0.3, "x"), Value(1.2, "y")
        out = erf(x * y) + HYPOT(x, y)
        compiled = compile_graph(out, [x, y])
        value = compiled.forward_backward({"x": 0.5, "y": -0.7})
        ex, ey = Value(0.5, "x"), Value(-0.7, "y")
        eager = erf(ex * ey) + HYPOT(ex, ey)
        eager.backward()
        assert value == eager.data and compiled.gradients() == [ex.grad, ey.grad]  # bit for bit
    finally:
        unregister_op("erf")


def test_a_two_input_registered_op_is_called_by_name_in_expressions(registered):
    evaluation = parse("hypot2(3*x, y) + 1").evaluate(x=1.0, y=4.0)
    assert evaluation.output.data == 6.0
    partials = evaluation.partials()
    assert close(partials["x"], 3 * 3 / 5, 1e-15) and close(partials["y"], 4 / 5, 1e-15)
    assert parse("hypot2(a, b - c)").render() == "hypot2(a, b - c)"
    with pytest.raises(ValueError, match=r"hypot2\(\) takes 2 arguments, got 1"):
        parse("hypot2(x)")


def test_a_registered_one_input_op_is_a_method_and_an_activation(registered):
    x = Value(0.4, "x")
    y = x.softplus()
    y.backward()
    assert y.data == _softplus(0.4) and close(x.grad, central_difference(_softplus, 0.4), 1e-8)
    net = MLP(2, [2, 1], "softplus")
    (out,) = net([0.5, -0.25])
    assert out.op.name == "softplus"
    for p in net.parameters():
        (g,) = grad(out, [p])

        def f(t, p=p):
            saved = p.data
            p.data = t
            try:
                return net([0.5, -0.25])[0].data
            finally:
                p.data = saved
        assert close(g, central_difference(f, p.data), 1e-7)


def test_unregistering_takes_the_method_and_the_name_away(registered):
    assert hasattr(Value, "softplus")
    unregister_op("softplus")
    assert not hasattr(Value, "softplus") and "softplus" not in OPS
    with pytest.raises(ValueError, match="unknown function 'softplus'"):
        parse("softplus(x)")
    register_op(SOFTPLUS)  # the fixture removes it again
