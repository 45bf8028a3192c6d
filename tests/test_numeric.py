"""numeric: the one central difference, and gradcheck_op on every op and on wrong ones."""

from __future__ import annotations

import math

import pytest
from oracles import close

import micrograd_bp
from micrograd_bp import OPS, Op, gradcheck_op
from micrograd_bp.numeric import Difference, central_difference
from micrograd_bp.ops import power_op


def test_central_difference_against_a_hand_derivative_and_its_error_bound():
    d = central_difference(math.sin, 0.7)
    assert isinstance(d, Difference) and d.h == 1e-5 and d.defined
    assert close(d.value, math.cos(0.7), 1e-9)
    # truncation: D(h) - f' = -f''' h^2/6 + ..., and |D(2h) - D(h)| is about three times that
    assert 0.5 < d.truncation / (3 * math.cos(0.7) * 1e-10 / 6) < 2  # with some rounding in it
    assert d.agrees(math.cos(0.7)) and not d.agrees(math.cos(0.7) * 1.001)


def test_central_difference_stays_inside_the_domain_and_says_when_it_cannot():
    d = central_difference(math.log, 1e-7)  # 1e-7 - 1e-5 < 0: the step shrinks to |x| 1e-3
    assert d.h == 1e-10 and close(d.value, 1e7, 1e-6)
    nowhere = central_difference(lambda t: math.log(-1.0), 1.0)
    assert not nowhere.defined and math.isnan(nowhere.value) and not nowhere.agrees(0.0)


@pytest.mark.parametrize("op", [*OPS.values(), power_op(2.0), power_op(-1.0), power_op(0.5), power_op(3.0)],
                         ids=lambda op: op.name + ("" if op.exponent is None else f"{op.exponent:g}"))
def test_gradcheck_op_passes_every_built_in_op(op):
    result = gradcheck_op(op)
    assert result.ok, str(result)
    assert result.points_checked >= 20  # the spread; points outside a domain do not count
    assert result.worst is not None and result.worst.error < 1e-5


def test_gradcheck_op_counts_the_points_a_domain_refuses():
    log = gradcheck_op(OPS["log"], points=[(0.5,), (2.0,), (-1.0,), (0.0,)])
    assert log.ok and (log.points_checked, log.out_of_domain) == (2, 2)  # ValueError at -1 and 0
    assert gradcheck_op(OPS["log"]).out_of_domain > 5  # the spread has negative points too
    exp = gradcheck_op(OPS["exp"], points=[(1.0,), (800.0,)])
    assert exp.ok and (exp.points_checked, exp.out_of_domain) == (1, 1)  # exp(800) overflows cleanly
    mul = gradcheck_op(OPS["mul"], points=[(2.0, 3.0), (1e200, 1e200)])
    assert mul.ok and mul.out_of_domain == 1  # inf: the engine refuses it as an overflow


def test_gradcheck_op_catches_a_wrong_partial_and_names_the_worst_point():
    wrong = Op("sin_wrong", 1, math.sin, lambda a, out: (1.01 * math.cos(a),), ("cos(a)",))
    result = gradcheck_op(wrong, points=[(0.3,), (1.2,), (-2.0,)])
    assert not result.ok and result.points_checked == 3 and len(result.problems) == 3
    worst = result.worst
    assert worst.inputs == (-2.0,) or worst.inputs == (0.3,)  # |0.01 cos| largest at 0.3 or -2
    assert close(worst.numeric, math.cos(worst.inputs[0]), 1e-8)  # the difference is the true slope
    assert close(worst.analytic, 1.01 * math.cos(worst.inputs[0]), 1e-12)
    assert "worst: d/d(input 1)" in str(result)


def test_gradcheck_op_refuses_an_unclean_domain_error():
    def forward(a: float) -> float:
        if a < 0:
            raise TypeError("negative")  # a bug, not a domain error
        return math.sqrt(a)

    result = gradcheck_op(Op("root", 1, forward, lambda a, out: (0.5 / out,), ("0.5/out",)))
    assert not result.ok and any("TypeError" in p for p in result.problems)
    silent = gradcheck_op(Op("silent", 1, lambda a: math.nan if a < 0 else a, lambda a, out: (1.0,), ("1",)))
    assert not silent.ok and any("returned nan" in p for p in silent.problems)


def test_gradcheck_op_on_a_two_input_op_checks_each_partial():
    hyp = Op("hyp", 2, math.hypot, lambda a, b, out: (a / out, b / out), ("a/out", "b/out"))
    result = gradcheck_op(hyp, points=[(3.0, 4.0)])
    assert result.ok and result.points_checked == 1
    bad = Op("hyp_bad", 2, math.hypot, lambda a, b, out: (a / out, a / out), ("a/out", "a/out"))
    result = gradcheck_op(bad, points=[(3.0, 4.0)])
    assert not result.ok and result.worst.position == 1  # d/db is b/out = 0.8, not 0.6
    assert close(result.worst.numeric, 0.8, 1e-9)


def test_gradcheck_op_is_exported_and_reports_json():
    assert micrograd_bp.gradcheck_op is gradcheck_op and "gradcheck_op" in micrograd_bp.__all__
    data = gradcheck_op(OPS["tanh"], points=[(0.5,)]).to_json()
    assert data["ok"] and data["points_checked"] == 1 and data["worst"]["inputs"] == [0.5]
    with pytest.raises(ValueError, match="takes 1 inputs"):
        gradcheck_op(OPS["tanh"], points=[(0.5, 1.0)])
