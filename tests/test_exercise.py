"""Exercises: the key from the engine, each planted mistake named with its numbers, JSON round trips."""

from __future__ import annotations

import json

import pytest
from oracles import close

from micrograd_bp import Exercise
from micrograd_bp.examples.mazur import mazur_nodes

# The oracle: Mazur's tutorial (shared/reference/mazur-2-2-2.md), written out by hand here.
REF = {"w5": 0.082167041, "w1": 0.000438568, "out_h1": 0.036350306, "delta_o1": 0.138498562,
       "dE_o1/dout_h1": 0.055399425, "dE_o2/dout_h1": -0.019049119, "dout_h1/dnet_h1": 0.241300709}
N = mazur_nodes()
O1, O2, H1, NET_H1 = N["out_o1"].data, N["out_o2"].data, N["out_h1"].data, N["net_h1"].data
D1 = (O1 - 0.01) * O1 * (1 - O1)  # delta_o1, by hand
D2 = (O2 - 0.99) * O2 * (1 - O2)  # delta_o2
W1 = (D1 * 0.40 + D2 * 0.50) * H1 * (1 - H1) * 0.05  # dE/dw1 by hand


def test_the_key_is_the_tutorials_and_the_questions_come_in_backward_order():
    ex = Exercise.mazur(ask=["w1", "w5"])
    assert ex.questions == ["w5", "w1"]  # backward() finishes w5 (output layer) before w1
    assert close(ex.question("w5").expected, REF["w5"], 0, 1e-9)
    assert close(ex.question("w1").expected, REF["w1"], 0, 1e-9) and close(W1, REF["w1"], 0, 1e-9)
    result = ex.grade({"w5": 0.0821670406, "w1": W1})
    assert result.score == 1.0 and result["w1"].ok and result["w1"].diagnosis == "right"


# (a planted mistake in dE/dw1, the id, words and numbers the message must have)
PLANTED_W1 = [
    ("w6 written for w7", (D1 * 0.40 + D2 * 0.45) * H1 * (1 - H1) * 0.05, "wrong-factor",
     ["dnet_o2/dout_h1 = w7 = 0.5", "replaced by w6 = 0.45", "net_o2 -> out_h1"]),
    ("out_h1 dropped from out_h1*(1 - out_h1)", (D1 * 0.40 + D2 * 0.50) * (1 - H1) * 0.05, "wrong-factor",
     ["dout_h1/dnet_h1 = out_h1*(1 - out_h1) = 0.241300709", "lost its factor out_h1 = 0.593269992",
      "1 - out_h1 = 0.406730008"]),
    ("only the path through out_o1", D1 * 0.40 * H1 * (1 - H1) * 0.05, "missing-path",
     ["through out_o1", "contributes -0.000229828"]),
    ("the chain stops at net_h1", (D1 * 0.40 + D2 * 0.50) * H1 * (1 - H1), "stopped-early",
     ["chain stops at net_h1", "dnet_h1/dw1 = i1 = 0.05 is missing"]),
    ("sigmoid's derivative at its input", (D1 * 0.40 + D2 * 0.50) * NET_H1 * (1 - NET_H1) * 0.05,
     "wrong-point", ["at its input net_h1 = 0.3775", "out_h1*(1 - out_h1) = 0.241300709"]),
    ("the wrong sign", -W1, "sign", ["dE_total/dw1 = 0.000438567"]),
    ("the step", -0.5 * W1, "update-step", ["-0.5*0.000438567"]),
    ("the updated weight", 0.15 - 0.5 * W1, "update-step", ["the updated w1 = 0.15 - 0.5*0.000438567",
                                                            "0.149780716"]),
]


@pytest.mark.parametrize("what, answer, diagnosis, words", PLANTED_W1, ids=[p[0] for p in PLANTED_W1])
def test_each_planted_mistake_in_dE_dw1_is_named_with_its_numbers(what, answer, diagnosis, words):
    grade = Exercise.mazur(ask=["w5", "w1"]).grade({"w1": answer})["w1"]
    assert not grade.ok and grade.diagnosis == diagnosis, grade.message
    for word in words:
        assert word in grade.message, (word, grade.message)


def test_json_round_trips():
    ex = Exercise.mazur(ask=["w5", "w1"])
    again = Exercise.from_json(ex.to_json())
    assert again.questions == ex.questions and again.to_json() == ex.to_json()
    result = ex.grade({"w5": 0.08, "w1": W1})
    assert json.loads(type(result).from_json(result.to_json()).to_json()) == json.loads(result.to_json())
