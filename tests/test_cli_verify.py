"""The verifying commands: grad, check, explain, mazur --explain and mazur --check."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli
from oracles import close

DELTA_O1 = "(out_o1 - target_o1)*out_o1*(1 - out_o1)"
DELTA_O2 = "(out_o2 - target_o2)*out_o2*(1 - out_o2)"


def sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def test_grad_json_against_hand_derivatives():
    status, out, _ = run_cli("grad", "sigmoid(w*x + b)", "w=0.8", "x=1.5", "b=0", "--json")
    data = json.loads(out)
    s = sig(1.2)
    assert status == 0 and set(data) == {"value", "grad"}
    assert close(data["value"], s, 1e-12)
    assert list(data["grad"]) == ["w", "x", "b"]
    assert close(data["grad"]["w"], s * (1 - s) * 1.5, 1e-12)
    assert close(data["grad"]["x"], s * (1 - s) * 0.8, 1e-12)
    assert close(data["grad"]["b"], s * (1 - s), 1e-12)


def test_grad_text_notes_an_unused_variable():
    status, out, _ = run_cli("grad", "x*x", "x=3", "y=1")
    assert status == 0
    assert "value  9" in out and "df/dx  6" in out and "df/dy  0" in out
    assert "note: y is given but not used in the expression: its partial is 0" in out


@pytest.mark.parametrize("argv", [
    ["grad", "-x**2", "x=3", "--json"],
    ["grad", "--json", "-x**2", "x=3"],
    ["grad", "--json", "--", "-x**2", "x=3"],
])
def test_an_expression_may_start_with_a_minus(argv):
    status, out, err = run_cli(*argv)
    assert status == 0, err
    assert json.loads(out) == {"value": -9.0, "grad": {"x": -6.0}}  # by hand: -x^2, -2x at 3


def test_check_right_claim_shows_the_three_numbers():
    status, out, _ = run_cli("check", "-x**2", "--wrt", "x", "--claim", "-2*x", "x=3")
    assert status == 0
    assert "claim     -6" in out and "autograd  -6" in out and "numeric   -6" in out
    assert "right:" in out


def test_check_wrong_claim_exits_1_with_a_diagnosis():
    status, out, _ = run_cli("check", "-x**2", "--wrt", "x", "--claim", "2*x", "x=3")
    assert status == 1
    assert "wrong:" in out and "diagnosis: your value has the wrong sign" in out


def test_check_json_and_rtol():
    argv = ["check", "x**3", "--wrt", "x", "--claim", "3*x**2 + 1e-5", "x=1", "--json"]
    status, out, _ = run_cli(*argv)
    data = json.loads(out)
    assert status == 1 and data["ok"] is False and data["autograd"] == 3.0
    assert close(data["numeric"], 3.0, 1e-8) and close(data["claim"], 3.00001, 1e-12)
    status, _, _ = run_cli(*argv[:-1], "--rtol", "1e-5")
    assert status == 0


def test_explain_writes_every_path():
    status, out, _ = run_cli("explain", "x*y + x", "--wrt", "x", "x=3", "y=2")
    assert status == 0
    assert "2 paths" in out
    assert "d(x*y + x)/d(x*y) * d(x*y)/dx" in out and "= 1 * 2" in out
    assert "sum of the paths = 3; d(x*y + x)/dx by autograd = 3" in out


def test_explain_json_and_the_cap():
    status, out, _ = run_cli("explain", "(x+x)*(x+x)", "--wrt", "x", "x=1", "--max-paths", "3",
                         "--json")
    data = json.loads(out)
    assert status == 0 and data["n_paths"] == 4 and len(data["paths"]) == 3 and data["omitted"] == 1
    assert data["partial"] == 8.0  # d/dx of 4x^2 at 1
    _, text, _ = run_cli("explain", "(x+x)*(x+x)", "--wrt", "x", "x=1", "--max-paths", "3")
    assert "... and 1 more paths, not listed" in text


def test_mazur_explain_w1_prints_the_tutorials_two_paths():
    status, out, _ = run_cli("mazur", "--explain", "w1")
    assert status == 0
    assert "path 1, through out_o1:" in out and "path 2, through out_o2:" in out
    assert "dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1" in out
    assert "dE_total/dout_o2 * dout_o2/dnet_o2 * dnet_o2/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1" in out
    assert "= 0.74136507 * 0.186815602 * 0.4 * 0.241300709 * 0.05" in out
    assert "dE_total/dw1 by autograd = 0.000438567734" in out  # the tutorial: 0.000438568


def test_mazur_check_the_issues_example():
    status, out, _ = run_cli("mazur", "--check", "w5=(out_o1 - 0.01)*out_o1*(1 - out_o1)*out_h1")
    assert status == 0 and "claim     0.0821670406" in out and "right:" in out


def test_mazur_check_one_path_w1():
    claim = f"w1={DELTA_O1}*w5*out_h1*(1 - out_h1)*i1"
    status, out, _ = run_cli("mazur", "--check", claim)
    assert status == 1
    assert "you added only the path through out_o1 (1 of 2)" in out
    assert "the path through out_o2 contributes -0.000229828287" in out


def test_mazur_check_json_and_both_options():
    claim = f"w1=({DELTA_O1}*w5 + {DELTA_O2}*w7)*out_h1*(1 - out_h1)*i1"
    status, out, _ = run_cli("mazur", "--explain", "w1", "--check", claim, "--json")
    data = json.loads(out)
    assert status == 0 and data["check"]["ok"] is True and data["explain"]["n_paths"] == 2
    assert close(data["check"]["autograd"], 0.000438568, 0, 1e-9)


def test_mazur_without_the_new_options_is_unchanged():
    status, out, _ = run_cli("mazur", "--json")
    assert status == 0 and close(json.loads(out)["forward"]["E_total"], 0.298371109, 0, 1e-8)


@pytest.mark.parametrize("argv, words", [
    (["grad", "x", "x"], "expected NAME=VALUE, got 'x'"),
    (["grad", "x", "1x=2"], "not a valid variable name"),
    (["grad", "x", "x=abc"], "'abc' is not a number"),
    (["grad", "x", "x=1", "x=2"], "'x' is given twice"),
    (["grad", "x + y", "x=1"], "variable 'y' is used but not given a value (at column 5)"),
    (["grad", "__import__('os')"], "unknown function '__import__'"),
    (["grad", "log(x)", "x=-1"], "log"),
    (["check", "x", "--wrt", "y", "--claim", "1", "x=1"], "--wrt 'y' is not one of the variables"),
    (["check", "x", "--wrt", "x", "--claim", "open('f')", "x=1"], "unknown function 'open'"),
    (["explain", "x", "--wrt", "y", "x=1"], "--wrt 'y' is not one of the variables"),
    (["mazur", "--check", "w9=1"], "'w9' is not a parameter"),
    (["mazur", "--check", "w1=bogus"], "'bogus', which is not a name of the network"),
    (["mazur", "--explain", "nope"], "unknown Mazur node 'nope'"),
])
def test_bad_input_is_one_line_and_status_2(argv, words):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == ""
    assert err.startswith("micrograd-bp: error: ") and words in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["check", "x", "--wrt"],
    ["check", "x", "x=1", "--claim", "1"],
    ["grad", "x", "--jsn"],
])
def test_argparse_errors_exit_2(argv):
    status, _, err = run_cli(*argv)
    assert status == 2 and "error:" in err
