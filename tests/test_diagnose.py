"""Claims checked at their point and around it: counterexamples, skips, tolerances, near misses."""

from __future__ import annotations

import json
import math
import re

import pytest
import sympy
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import close

from micrograd_bp import Value, check_partial
from micrograd_bp.diagnose import POINTS, check_expression
from micrograd_bp.examples.mazur import mazur_check

# (expression, variable, a claim that equals the partial at the given point only, the point,
# the true partial as a sympy formula: the oracle)
AT_ONE_POINT = [
    ("x**3", "x", "3*x", {"x": 1.0}, "3*x**2"),
    ("sigmoid(x)", "x", "0.25", {"x": 0.0}, "exp(-x)/(1 + exp(-x))**2"),
    ("log(x)", "x", "2 - x", {"x": 1.0}, "1/x"),
    ("x*y", "x", "x", {"x": 2.0, "y": 2.0}, "y"),
    ("tanh(w*x)", "w", "x - w*x", {"w": 0.0, "x": 1.5}, "x*(1 - tanh(w*x)**2)"),
    ("exp(x)*x", "x", "1 + 2*x", {"x": 0.0}, "exp(x)*(x + 1)"),
]


@pytest.mark.parametrize("text, wrt, claim, point, truth", AT_ONE_POINT)
def test_a_claim_right_at_one_point_only_is_wrong_with_a_counterexample(text, wrt, claim, point, truth):
    result = check_expression(text, wrt, claim, point)
    assert result.at_point_ok and not result.ok
    c = result.counterexample
    assert c is not None and c.point != point and set(c.point) == set(point)
    symbols = {k: sympy.Symbol(k) for k in point}
    exact = float(sympy.sympify(truth, locals=symbols).subs({symbols[k]: v for k, v in c.point.items()}))
    claimed = float(sympy.sympify(claim, locals={**symbols, "sigmoid": None}).subs(
        {symbols[k]: v for k, v in c.point.items()}))
    assert close(c.partial, exact, 1e-12) and close(c.claim, claimed, 1e-12)
    assert result.points_checked == POINTS + 1 and result.points_agreeing < result.points_checked
    assert "right at the given point but not at every point" in result.message
    assert c.diagnosis.kind != "correct"


def test_the_diagnosis_at_the_counterexample_is_the_one_there():
    # w5 at the tutorial's weights is 0.0821670406; "0.0821670406" as a constant is right there only,
    # and at another point it is (most likely) nothing of the chain rule's pieces
    result = mazur_check("w5=0.0821670406")
    assert result.at_point_ok and not result.ok and result.counterexample is not None
    assert result.counterexample.point["w5"] != 0.40
    # a claim that is the path through out_o1 at every point: the diagnosis there says so
    delta_o1 = "(out_o1 - target_o1)*out_o1*(1 - out_o1)"
    one_path = mazur_check(f"w1={delta_o1}*w5*out_h1*(1 - out_h1)*i1")
    assert not one_path.at_point_ok and one_path.diagnosis.kind == "missing-path"
    assert one_path.points_agreeing == 0


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["x**3 + y", "tanh(x*y)", "exp(x)*y", "x/(1 + y*y)", "sigmoid(x - y)",
                        "log(1 + x*x)"]),
       st.floats(-2, 2), st.floats(-2, 2), st.sampled_from([0.5, -1.0, 3.0]))
def test_any_formula_shifted_away_from_one_point_is_caught(text, x0, y0, slope):
    """claim = the exact partial (sympy) + slope*(x - x0): equal at x0 only."""
    x, y = sympy.symbols("x y")
    expr = sympy.sympify(text, locals={"sigmoid": lambda t: 1 / (1 + sympy.exp(-t))})
    exact = sympy.diff(expr, x)
    claim = f"{sympy.sstr(exact)} + {slope}*(x - ({x0!r}))"
    result = check_expression(text, "x", claim, {"x": x0, "y": y0})
    assert result.at_point_ok, result
    assert not result.ok and result.counterexample is not None


def test_a_right_formula_agrees_at_every_point_and_skips_are_counted():
    result = check_expression("log(x)*y", "x", "y/x", {"x": 0.1, "y": 2.0})
    assert result.ok and result.counterexample is None
    assert result.points_checked == POINTS + 1 == result.points_agreeing
    assert result.skipped > 0  # x = 0.1 +- 0.5: some points are below 0, outside log's domain
    again = check_expression("log(x)*y", "x", "y/x", {"x": 0.1, "y": 2.0})
    assert again.skipped == result.skipped  # seeded: the same points every time
    other_seed = check_expression("log(x)*y", "x", "y/x", {"x": 0.1, "y": 2.0}, seed=1)
    assert other_seed.ok and other_seed.points_checked == POINTS + 1


def test_a_claim_graph_built_from_the_same_leaves_is_rebuilt_at_every_point():
    x = Value(1.0, "x")
    out = x ** 3
    assert check_partial(out, x, 3 * x ** 2).ok
    wrong = check_partial(out, x, 3 * x)  # a Value: the claim is rebuilt with x moved
    assert wrong.at_point_ok and not wrong.ok
    c = wrong.counterexample
    assert close(c.partial, 3 * c.point["x"] ** 2, 1e-12) and close(c.claim, 3 * c.point["x"], 1e-12)
    number = check_partial(out, x, 3.0)  # a number: its point only
    assert number.ok and number.points_checked == 1


def test_tolerances_are_relative_with_no_absolute_floor():
    tiny = check_expression("1e-13*x", "x", "-5e-13", {"x": 1.0})
    assert not tiny.ok and tiny.diagnosis.kind == "unknown"
    assert check_expression("1e-13*x", "x", "1e-13", {"x": 1.0}).ok
    # the default rtol is 1e-6, and settable; atol only when asked for
    assert not check_expression("x**3", "x", "3.00001*x**2", {"x": 1.0}).ok
    assert check_expression("x**3", "x", "3.00001*x**2", {"x": 1.0}, rtol=1e-5).ok
    assert check_partial(Value(1.0, "x") * 1e-13, Value(0.0), 5e-13, atol=1e-12).ok
    with pytest.raises(ValueError, match="rtol must be between 0 and 1"):
        check_expression("x", "x", "1", {"x": 1.0}, rtol=1.0)


def test_cancelling_paths_are_judged_by_their_own_rounding():
    # d/dx (x*3.3 - 3.3*x) = 3.3 - 3.3: a few ulps of 3.3 at most, and a claim of 0 is right
    result = check_expression("x*3.3 - 3.3*x + 0.1*x*x", "x", "0.2*x", {"x": 0.7})
    assert result.ok, result


@pytest.mark.parametrize("claim, off", [("3.0012*x**2", "4e-4"), ("2.9997*x**2", "1e-4")])
def test_a_near_miss_says_close_and_rounded(claim, off):
    result = check_expression("x**3", "x", claim, {"x": 1.0})
    assert not result.ok and result.diagnosis.kind == "close"
    assert result.diagnosis.message.startswith(f"close: off by {off} relative; rounded?")


def test_a_rounded_number_copied_from_the_tutorial():
    result = mazur_check("w5=0.08217")  # dE/dw5 = 0.0821670406
    assert result.diagnosis.kind == "close" and "rounded?" in result.diagnosis.message
    assert mazur_check("w5=0.08217", rtol=1e-4).at_point_ok


def test_the_json_has_points_checked_and_counterexample():
    status, out, _ = run_cli("check", "x**3", "--wrt", "x", "--claim", "3*x", "x=1", "--json")
    data = json.loads(out)
    assert status == 1 and data["points_checked"] == POINTS + 1 and data["ok"] is False
    c = data["counterexample"]
    assert set(c) == {"point", "claim", "partial", "diagnosis"}
    assert close(c["partial"], 3 * c["point"]["x"] ** 2, 1e-12)
    status, out, _ = run_cli("check", "x**3", "--wrt", "x", "--claim", "3*x**2", "x=1", "--json")
    data = json.loads(out)
    assert status == 0 and data["counterexample"] is None and data["points_checked"] == POINTS + 1


def test_the_text_says_how_many_points_agree_and_where_it_fails(capsys):
    status, out, _ = run_cli("check", "x**3", "--wrt", "x", "--claim", "3*x", "x=1")
    assert status == 1
    assert "points: the claim agrees at 1 of 21 (the given point and 20 around it)" in out
    assert "counterexample: at x=" in out and "diagnosis there:" in out


def test_results_read_as_text_in_the_repl_and_as_math_in_jupyter():
    result = check_expression("x**3", "x", "3*x**2", {"x": 2.0})
    assert repr(result) == str(result) and repr(result).startswith("d(x**3)/dx  at x=2")
    assert "claim     12" in repr(result)
    markdown = result._repr_markdown_()
    assert markdown.startswith("**right**") and "$$" in markdown
    assert r"\frac{\partial {x}^{3}}" not in markdown  # the output's name is parenthesised
    assert r"\frac{\partial \left({x}^{3}\right)}{\partial x}" in markdown


def _prose(markdown: str) -> str:
    """Markdown's text outside $$ formulas, with the escapes taken out: what Jupyter shows as prose."""
    return re.sub(r"\\(.)", r"\1", "".join(markdown.split("$$")[0::2]))


def test_the_jupyter_verdict_is_said_once_and_products_are_not_bold():
    result = check_expression("x*y", "x", "2.0004 + x*y - x*y", {"x": 1.0, "y": 2.0})
    markdown = result._repr_markdown_()
    assert markdown.startswith("**wrong**: the claim is 2.0004, d(x\\*y)/dx is 2")
    assert "wrong: " not in markdown  # the verdict once, in bold
    outside = "".join(markdown.split("$$")[0::2])[len("**wrong**"):]
    assert re.search(r"(?<!\\)[*$]", outside) is None  # no stray emphasis or formula markers
    assert result.message[len("wrong"):] in _prose(markdown)
    assert result.diagnosis.message in _prose(markdown)


def test_a_point_where_the_claim_is_undefined_is_skipped_not_wrong():
    result = check_expression("x*x", "x", "2*x + log(x) - log(x)", {"x": 0.2})
    assert result.ok and result.skipped > 0
    assert math.isfinite(result.claim)


def test_a_claim_over_a_variable_the_expression_lacks_is_refused_by_name():
    status, _, err = run_cli("check", "x*y", "--wrt", "x", "--claim", "z", "x=1", "y=2", "z=2")
    assert status == 2
    assert "the claim uses 'z', which the expression 'x*y' does not" in err
