"""gradcheck, explain and check_partial: against hand derivations, the tutorial and differences."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, central_difference, close, trees

from micrograd_bp import Value, grad, ops
from micrograd_bp.diagnose import check_expression, check_partial
from micrograd_bp.examples.mazur import mazur_check, mazur_explain, mazur_nodes
from micrograd_bp.expr import ExprError, parse
from micrograd_bp.numeric import agree, gradcheck, replay
from micrograd_bp.paths import explain

# The tutorial's numbers (shared/reference/mazur-2-2-2.md), compared to within 1e-8.
REF = {"dE_total/dout_o1": 0.74136507, "dout_o1/dnet_o1": 0.186815602, "out_h1": 0.593269992,
       "dout_h1/dnet_h1": 0.241300709, "w5": 0.082167041, "w1": 0.000438568,
       "dE_o1/dout_h1": 0.055399425, "dE_o2/dout_h1": -0.019049119}
TOL = 1e-8

# Hand derivations over the network's named nodes (the tutorial's own formulas).
DELTA_O1 = "(out_o1 - target_o1)*out_o1*(1 - out_o1)"
DELTA_O2 = "(out_o2 - target_o2)*out_o2*(1 - out_o2)"
H1 = "out_h1*(1 - out_h1)*i1"
W5_RIGHT = f"{DELTA_O1}*out_h1"
W1_RIGHT = f"({DELTA_O1}*w5 + {DELTA_O2}*w7)*{H1}"
W1_ONE_PATH = f"{DELTA_O1}*w5*{H1}"


# ------------------------------------------------------------------------------------ gradcheck

def test_gradcheck_agrees_on_a_correct_rule_with_hand_derivatives():
    result = gradcheck(lambda a, b: (a * b).tanh(), [0.3, 0.7])
    t = math.tanh(0.21)
    assert result.ok
    assert close(result.analytic[0], (1 - t * t) * 0.7, 1e-12)
    assert close(result.analytic[1], (1 - t * t) * 0.3, 1e-12)
    assert close(result.numeric[0], result.analytic[0], 1e-8)


def test_gradcheck_takes_named_inputs():
    result = gradcheck(lambda w, x: w * x + w ** 2, {"w": 2.0, "x": -1.0})
    assert result.names == ["w", "x"] and result.ok
    assert result.analytic == [-1.0 + 4.0, 2.0]  # by hand: x + 2w, w


def test_gradcheck_catches_a_deliberately_wrong_rule(monkeypatch):
    wrong = dataclasses.replace(ops.OPS["tanh"], partials=lambda a, out: (1.0 - out,))  # should be 1 - out**2
    monkeypatch.setitem(ops.OPS, "tanh", wrong)
    result = gradcheck(lambda a: (2 * a).tanh(), [0.4])
    assert not result.ok
    t = math.tanh(0.8)
    assert close(result.numeric[0], 2 * (1 - t * t), 1e-8)


def test_gradcheck_at_a_zero_derivative_allows_for_truncation():
    # f(z) = ((1 + 4z^2) ** tanh(2z)) ** 2 = 1 + 16 z^3 + ...: f'(0) = 0, but the central difference
    # is 16 h^2 = 1.6e-9 at h = 1e-5, beyond rounding noise: the D(h) against D(2h) estimate covers it.
    # (Found by hypothesis in test_gradcheck_agrees_on_random_expressions.)
    result = gradcheck(lambda z: ((1 + (z + z) * (z + z)) ** (z + z).tanh()) ** 2, [0.0])
    assert result.analytic == [0.0]
    assert close(result.numeric[0], 16e-10, 1e-3)
    assert result.ok


@settings(max_examples=40, deadline=None)
@given(trees(max_leaves=6), st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3))
def test_gradcheck_agrees_on_random_expressions(tree, point):
    def f(x, y, z):
        return build(tree, {"x": x, "y": y, "z": z}, "engine")

    result = gradcheck(f, dict(zip(VARIABLES, point)))
    assert result.ok, result


# -------------------------------------------------------------------------------------- explain

def test_explain_mazur_w1_reads_like_the_tutorial():
    ex = mazur_explain("w1")
    assert ex.n_paths == 2 and ex.omitted == 0
    o1, o2 = ex.paths
    assert [f.name for f in o1.factors] == ["dE_total/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dout_h1",
                                             "dout_h1/dnet_h1", "dnet_h1/dw1"]
    assert [f.name for f in o2.factors] == ["dE_total/dout_o2", "dout_o2/dnet_o2", "dnet_o2/dout_h1",
                                             "dout_h1/dnet_h1", "dnet_h1/dw1"]
    assert (o1.through, o2.through) == ("out_o1", "out_o2")
    v = [f.value for f in o1.factors]
    assert close(v[0], REF["dE_total/dout_o1"], 0, TOL) and close(v[1], REF["dout_o1/dnet_o1"], 0, TOL)
    assert v[2] == 0.40 and close(v[3], REF["dout_h1/dnet_h1"], 0, TOL) and v[4] == 0.05  # w5, i1
    # the tutorial's two pieces of dE_total/dout_h1: each path's first three factors
    assert close(o1.product / (v[3] * v[4]), REF["dE_o1/dout_h1"], 0, TOL)
    assert close(o2.product / (v[3] * v[4]), REF["dE_o2/dout_h1"], 0, TOL)
    assert close(o1.product + o2.product, REF["w1"], 0, 1e-9)
    assert close(ex.partial, REF["w1"], 0, 1e-9)


def test_explain_mazur_w5_is_one_path():
    ex = mazur_explain("w5")
    (path,) = ex.paths
    assert [f.name for f in path.factors] == ["dE_total/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dw5"]
    assert close(path.factors[2].value, REF["out_h1"], 0, TOL)
    assert close(path.product, REF["w5"], 0, TOL)


def test_explain_mazur_unknown_name():
    with pytest.raises(ValueError, match="unknown Mazur node 'w9'"):
        mazur_explain("w9")


def test_explain_by_default_has_one_factor_per_edge():
    ev = parse("x*y + x").evaluate(x=3.0, y=2.0)
    ex = explain(ev.output, ev.variables["x"])
    assert ex.n_paths == 2
    assert [[f.name for f in p.factors] for p in ex.paths] == [["d(x*y + x)/d(x*y)", "d(x*y)/dx"],
                                                              ["d(x*y + x)/dx"]]
    assert [p.product for p in ex.paths] == [2.0, 1.0]  # by hand: y, 1
    assert ex.partial == 3.0


def test_explain_counts_both_edges_of_a_square():
    ev = parse("x*x").evaluate(x=3.0)
    ex = explain(ev.output, ev.variables["x"])
    assert ex.n_paths == 2 and [p.product for p in ex.paths] == [3.0, 3.0]
    assert [p.note for p in ex.paths] == ["by input 1 of x*x", "by input 2 of x*x"]


def test_explain_without_a_path_and_of_a_variable_itself():
    ev = parse("2*y").evaluate(x=1.0, y=2.0)
    ex = explain(ev.output, ev.variables["x"])
    assert ex.n_paths == 0 and ex.paths == [] and ex.partial == 0.0
    x = Value(4.0, "x")
    ex = explain(x, x)
    assert ex.n_paths == 1 and ex.paths[0].product == 1.0 and ex.partial == 1.0


def test_explain_caps_the_listing_but_counts_every_path():
    x = Value(0.5, "x")
    v = x
    for _ in range(40):
        v = v + v  # each doubling doubles the paths
    ex = explain(v, x, max_paths=5)
    assert ex.n_paths == 2 ** 40 and len(ex.paths) == 5 and ex.omitted == 2 ** 40 - 5
    assert ex.partial == 2.0 ** 40 and ex.listed_sum == 5.0
    assert ex.omitted_sum == 2.0 ** 40 - 5


def test_explain_merges_runs_between_waypoints_without_changing_the_product():
    nodes = mazur_nodes()
    every_edge = explain(nodes["E_total"], nodes["w1"])
    named = mazur_explain("w1")
    assert every_edge.n_paths == named.n_paths
    assert len(every_edge.paths[0].factors) > len(named.paths[0].factors)
    for a, b in zip(every_edge.paths, named.paths):
        assert close(a.product, b.product, 1e-14)


@settings(max_examples=60, deadline=None)
@given(trees(max_leaves=7), st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3))
def test_the_sum_of_the_paths_is_the_gradient(tree, point):
    env = {name: Value(v, name) for name, v in zip(VARIABLES, point)}
    out = build(tree, env, "engine")
    for name, leaf in env.items():
        ex = explain(out, leaf, max_paths=10_000)
        assert ex.omitted == 0
        for path in ex.paths:
            assert close(path.product, math.prod(f.value for f in path.factors), 1e-12, 1e-300)
        expected = grad(out, [leaf])[0]
        assert close(math.fsum(p.product for p in ex.paths), expected, 1e-9, 1e-12), name
        assert ex.partial == expected


# -------------------------------------------------------------------------------- check_partial

def test_mazur_correct_claims_are_accepted():
    for param, formula, ref in (("w5", W5_RIGHT, REF["w5"]), ("w1", W1_RIGHT, REF["w1"])):
        result = mazur_check(f"{param}={formula}")
        assert result.ok and result.numeric_ok and result.diagnosis.kind == "correct"
        assert close(result.claim, ref, 0, 1e-9) and close(result.numeric, ref, 0, 1e-9)


def test_the_tutorial_literal_claim_for_w5_is_accepted():
    assert mazur_check("w5=(out_o1 - 0.01)*out_o1*(1 - out_o1)*out_h1").ok


def test_mazur_one_path_w1_is_diagnosed_as_missing_the_o2_path():
    result = mazur_check(f"w1={W1_ONE_PATH}")
    assert not result.ok and result.diagnosis.kind == "missing-path"
    message = result.diagnosis.message
    assert "only the path through out_o1 (1 of 2)" in message and "path through out_o2 contributes" in message
    missing = REF["dE_o2/dout_h1"] * REF["dout_h1/dnet_h1"] * 0.05
    assert f"{missing:.4g}"[:6] in message  # -0.0002298...


def test_mazur_claim_without_the_half_is_off_by_a_factor_two():
    # from E = (target - out)^2, without the 1/2: the derivative keeps the 2
    result = mazur_check(f"w5=2*{W5_RIGHT}")
    assert result.diagnosis.kind == "missing-factor"
    assert "the factor dE_o1/d((target_o1 - out_o1)**2) = 0.5 is missing" in result.diagnosis.message


def test_other_diagnoses_on_the_network():
    assert mazur_check("w5=(target_o1 - out_o1)*out_o1*(1 - out_o1)*out_h1").diagnosis.kind == "sign"
    half = mazur_check(f"w5={DELTA_O1}*out_h1/2")
    assert half.diagnosis.kind == "extra-factor"  # the squared error's 1/2, used twice
    assert "the factor dE_o1/d((target_o1 - out_o1)**2) = 0.5 is used twice" in half.diagnosis.message
    other = mazur_check(f"w5={DELTA_O1}*out_h2")  # that is dE/dw6
    assert other.diagnosis.kind == "wrong-factor"  # dnet_o1/dw5 = out_h1, out_h2 written for it
    message = other.diagnosis.message
    assert "dnet_o1/dw5 = out_h1 = 0.593269992 was replaced by out_h2 = 0.596884378" in message
    stops = mazur_check(f"w1=({DELTA_O1}*w5 + {DELTA_O2}*w7)*out_h1*(1 - out_h1)")
    assert stops.diagnosis.kind == "stopped-early"
    message = stops.diagnosis.message
    assert "the chain stops at net_h1; the factor dnet_h1/dw1 = i1 = 0.05 is missing" in message
    none = mazur_check("w5=0.123")
    assert none.diagnosis.kind == "unknown"
    assert "matches none of the chain rule's pieces" in none.diagnosis.message


def test_mazur_check_bad_input():
    with pytest.raises(ValueError, match="not a parameter"):
        mazur_check("out_h1=1")
    with pytest.raises(ValueError, match="no '='"):
        mazur_check("w5")
    with pytest.raises(ExprError, match="'foo', which is not a name of the network"):
        mazur_check("w5=foo*2")


def test_check_expression_uses_the_claim_formula_and_a_rebuilt_difference():
    result = check_expression("-x**2", "x", "-2*x", {"x": 3.0})
    assert result.ok and result.autograd == -6.0 and close(result.numeric, -6.0, 1e-9)
    assert check_expression("-x**2", "x", "2*x", {"x": 3.0}).diagnosis.kind == "sign"
    with pytest.raises(ExprError, match="'y', which is not given"):
        check_expression("x", "x", "y", {"x": 1.0})
    with pytest.raises(ExprError, match="the variable .z. is not one of the variables given"):
        check_expression("x", "z", "1", {"x": 1.0})


def test_subsets_of_paths_and_groups_are_diagnosed():
    values = {"x": 0.5, "y": 2.0}
    result = check_expression("x*x + exp(x*y)", "x", "y*exp(x*y)", values)
    assert result.diagnosis.kind == "missing-path"
    assert "only the path through exp(x*y) (1 of 3)" in result.diagnosis.message
    one_edge = check_expression("x*x + exp(x*y)", "x", "x", values)
    assert one_edge.diagnosis.kind == "missing-path"
    assert "only the path through x*x (by input 1)" in one_edge.diagnosis.message


def test_a_partial_of_another_variable_and_a_variable_not_used():
    result = check_expression("x*y + y", "x", "x + 1", {"x": 0.5, "y": 2.0})
    assert result.diagnosis.kind == "other-variable" and "respect to y" in result.diagnosis.message
    unused = check_expression("2*y", "x", "1", {"x": 0.5, "y": 2.0})
    assert not unused.ok and "does not depend on x" in unused.diagnosis.message
    assert check_expression("2*y", "x", "0", {"x": 0.5, "y": 2.0}).ok


def test_a_kink_is_right_by_autograd_and_flagged_by_the_difference():
    result = check_expression("relu(x)", "x", "0", {"x": 0.0}, points=0)  # at its point only
    assert result.ok and not result.numeric_ok and close(result.numeric, 0.5, 1e-9)
    assert "not be smooth" in result.message
    # "0" is relu's slope at 0 and below, not above: the points around 0 find it
    around = check_expression("relu(x)", "x", "0", {"x": 0.0})
    assert not around.ok and around.at_point_ok
    c = around.counterexample
    assert c.point["x"] > 0 and c.claim == 0.0 and c.partial == 1.0  # relu'(x) = 1 for x > 0


def test_a_claim_that_matches_only_the_difference_points_at_the_engine(monkeypatch):
    wrong = dataclasses.replace(ops.OPS["tanh"], partials=lambda a, out: (1.0 - out,))
    monkeypatch.setitem(ops.OPS, "tanh", wrong)
    result = check_expression("tanh(x)", "x", "1 - tanh(x)**2", {"x": 0.4})
    assert not result.ok and not result.numeric_ok
    assert result.diagnosis.kind == "numeric-only"


def test_check_partial_on_a_graph_replays_its_forward_pass():
    x, y = Value(0.3, "x"), Value(-1.2, "y")
    out = (x * y).sigmoid() + x.exp()
    f = replay(out, x)
    assert close(f(0.3), out.data, 1e-15)
    result = check_partial(out, x, y.data * 0.25 + math.exp(0.3))  # sigmoid'(t) at t ~ -0.36 is not 1/4
    s = 1 / (1 + math.exp(0.36))
    assert close(result.autograd, s * (1 - s) * -1.2 + math.exp(0.3), 1e-12)
    assert close(result.numeric, central_difference(f, 0.3), 1e-12)
    assert not result.ok and result.numeric_ok


def test_agree_is_relative_with_an_absolute_floor_only_when_given():
    assert agree(1.0, 1.0 + 1e-7) and not agree(1.0, 1.0 + 1e-5)
    assert not agree(0.0, 1e-13) and agree(0.0, 1e-13, atol=1e-12) and not agree(0.0, 1e-9, atol=1e-12)
    assert not agree(math.inf, math.inf) and not agree(math.nan, math.nan)
    assert not agree(1.0, 1.0 + 1e-7, rtol=1e-8)


def test_near_a_domain_edge_the_difference_takes_a_step_relative_to_x():
    result = check_expression("log(x)", "x", "1/x", {"x": 1e-7})  # x - 1e-5 is outside log's domain
    assert result.ok and result.numeric_ok and close(result.numeric, 1e7, 1e-5)
    assert result.h == 1e-10
