"""Exercises: the key from the engine, each planted mistake named with its numbers, JSON round trips."""

from __future__ import annotations

import json
import math
import re

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, close, trees

from micrograd_bp import Exercise, Value, topological_order
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
    learner = ex.to_json(answers=False)  # what a learner may see: no key, no candidates
    assert "expected" not in learner and "candidates" not in learner and "0.0821" not in learner
    assert Exercise.from_json(learner).to_json() == ex.to_json()
    result = ex.grade({"w5": 0.08, "w1": W1})
    assert json.loads(type(result).from_json(result.to_json()).to_json()) == json.loads(result.to_json())


# ------------------------------------------------------------------ node by node on the network

ALL = Exercise.mazur()  # every node's gradient asked
NET_O1 = N["net_o1"].data
DE_DOUT_O1 = O1 - 0.01  # dE_total/dout_o1 = -(target - out), by hand
H1_TERMS = (D1 * 0.40, D2 * 0.50)  # dE/dout_h1: the paths through out_o1 and out_o2


def _grade(name: str, answer: float, ex: Exercise = ALL):
    return ex.grade({name: answer})[name]


# (node, the planted answer, the id, words and numbers the message must have)
PLANTED_NODES = [
    ("out_h1", H1_TERMS[0], "missing-path", ["only the path through out_o1 (1 of 2)",
                                             "the path through out_o2 contributes -0.019049118"]),
    ("out_h1", 2 * H1_TERMS[0] + H1_TERMS[1], "double-count", ["the path through net_o1 (0.0553994247) is "
                                                               "counted twice"]),
    ("net_o1", O1 * (1 - O1), "local-only", ["dout_o1/dnet_o1 = out_o1*(1 - out_o1) = 0.186815602 alone",
                                             "dE_total/dout_o1 = 0.74136507"]),
    ("net_o1", DE_DOUT_O1 * NET_O1 * (1 - NET_O1), "wrong-point", ["at its input net_o1 = 1.10590597"]),
    ("out_h1", D1 + H1_TERMS[1], "missing-factor", ["dnet_o1/dout_h1 = w5 = 0.4 is missing",
                                                    "net_o1 -> out_h1 (1 of 2)"]),
    ("w5", D1 * H1 * H1, "extra-factor", ["dnet_o1/dw5 = out_h1 = 0.593269992 is used twice"]),
    ("out_h1", 2 * sum(H1_TERMS), "factor", ["twice dE_total/dout_h1 = 0.0363503064",
                                              "a squared error's 1/2"]),
    ("w5", D1, "stopped-early", ["the chain stops at net_o1; the factor dnet_o1/dw5 = out_h1 = 0.593269992"]),
    ("w8", -0.5 * D2 * N["out_h2"].data, "update-step", ["the step -lr*dE_total/dw8"]),
]


@pytest.mark.parametrize("name, answer, diagnosis, words", PLANTED_NODES,
                         ids=[f"{p[0]}-{p[2]}" for p in PLANTED_NODES])
def test_each_planted_mistake_node_by_node(name, answer, diagnosis, words):
    grade = _grade(name, answer)
    assert not grade.ok and grade.diagnosis == diagnosis, grade.message
    for word in words:
        assert word in grade.message, (word, grade.message)


def test_another_nodes_gradient_is_named():
    grade = _grade("w5", D1 + D2)  # that is dE/db2, by hand: the deltas of o1 and o2
    assert grade.diagnosis == "other-variable" and "respect to b2 (0.100400325)" in grade.message


def test_an_early_slip_is_carried_not_failed_again():
    slip = 0.04  # for dE/dout_h1 = 0.0363503064
    net_h1 = slip * H1 * (1 - H1)  # right from the slip: local times the learner's upstream
    result = ALL.grade({"out_h1": slip, "net_h1": net_h1, "w1": net_h1 * 0.05, "i1": 0.003804})
    assert result["out_h1"].diagnosis == "unknown" and not result["out_h1"].ok
    for name in ("net_h1", "w1"):
        grade = result[name]
        assert grade.diagnosis == "carried" and not grade.ok and grade.credit == 1.0
        assert "from your own answers above it" in grade.message
    assert "out_h1 = 0.04" in result["net_h1"].message and "net_h1 = 0.00965" in result["w1"].message
    assert result["i1"].diagnosis == "close"  # 0.003804 for 0.00380426688: right to its digits
    assert result["E_o1"].diagnosis == "not-answered" and result["E_o1"].credit == 0.0


def test_unknown_withholds_the_key_unless_answers_may_be_shown():
    hidden = Exercise.mazur(ask=["w5"]).grade({"w5": 0.5})["w5"]
    assert hidden.diagnosis == "unknown" and hidden.expected is None and "0.0821" not in hidden.message
    shown = Exercise.mazur(ask=["w5"], show_answers=True).grade({"w5": 0.5})["w5"]
    assert shown.expected is not None and "dE_total/dw5 = 0.0821670406" in shown.message


def test_the_tolerance_is_relative_and_settable():
    assert _grade("w5", 0.08217).diagnosis == "close"  # 4e-5 off: right to its digits
    assert _grade("w5", 0.0822).diagnosis == "unknown"  # 4e-4 off
    strict = Exercise.mazur(ask=["w5"], rtol=1e-6)
    assert not strict.grade({"w5": 0.08217})["w5"].ok
    assert Exercise.mazur(ask=["w5"], rtol=1e-2).grade({"w5": 0.0822})["w5"].ok
    with pytest.raises(ValueError, match="rtol must be between 0 and 1"):
        Exercise.mazur(rtol=0)


def test_bad_answers_and_questions_are_refused_by_name():
    ex = Exercise.mazur(ask=["w5"])
    with pytest.raises(ValueError, match="'w9' is not a question"):
        ex.grade({"w9": 1.0})
    with pytest.raises(ValueError, match="the answer for 'w5' must be a finite number"):
        ex.grade({"w5": "0.08"})
    with pytest.raises(ValueError, match="'w9' is not a node of the graph"):
        Exercise.mazur(ask=["w9"])
    with pytest.raises(ValueError, match="not an exercise"):
        Exercise.from_json('{"format": "something else"}')
    with pytest.raises(ValueError, match="the JSON has no 'source'"):
        Exercise.from_json('{"format": "micrograd-bp exercise"}')
    with pytest.raises(ValueError, match="does not parse"):
        Exercise.from_json("{")
    with pytest.raises(ValueError, match="no gradient to ask"):
        Exercise.from_expression("x", {"x": 1.0})


# ------------------------------------------------------------------ a grader that reads only the JSON

def _json_grade(data: dict, answers: dict) -> dict:
    """grade_one as the page's JavaScript must do it, from to_json() alone."""
    rtol, out = data["rtol"], {}
    keys = {q["name"]: q["expected"] for q in data["questions"]}

    def match(a, b, tol):
        return abs(a - b) <= tol * max(abs(a), abs(b))

    for q in data["questions"]:
        name, key, given = q["name"], q["expected"], answers.get(q["name"])
        fill = {"partial": q["partial"], "key": format(key, ".9g"), "upstream": "",
                "given": "" if given is None else format(given, ".9g")}
        if given is None:
            outcome = "not-answered"
        elif given == key or match(given, key, 1e-9):
            outcome = "right"
        elif match(given, key, rtol):
            outcome = "close"
        else:
            carried = q["carried"]["const"] + sum(
                c * answers.get(n, keys[n]) for n, c in q["carried"]["terms"])
            if not match(carried, key, rtol) and match(given, carried, rtol):
                outcome = "carried"
                fill["upstream"] = ", ".join(f"{n} = {format(answers[n], '.9g')}"
                                             for n, _ in q["carried"]["terms"]
                                             if n in answers and not match(answers[n], keys[n], rtol))
            else:
                hit = next((c for c in q["candidates"] if match(given, c["value"], rtol)), None)
                if hit is not None:
                    out[name] = (hit["id"], hit["message"])
                    continue
                outcome = "unknown-shown" if data["show_answers"] else "unknown"
        out[name] = (outcome.replace("-shown", ""), data["messages"][outcome].format(**fill))
    return out


def test_a_grader_reading_only_the_json_gives_the_same_ids_and_messages():
    data = json.loads(ALL.to_json())
    attempts = [{name: answer} for name, answer, _, _ in PLANTED_NODES]
    attempts.append({"out_h1": 0.04, "net_h1": 0.04 * H1 * (1 - H1), "w5": 0.08217, "w1": 0.3})
    for answers in attempts:
        result = ALL.grade(answers)
        assert _json_grade(data, answers) == {g.name: (g.diagnosis, g.message) for g in result}


# ------------------------------------------------------------------ variants, expressions, an MLP

def test_variants_keep_signs_and_differ_by_seed():
    given = {"w": 0.5, "x": -1.5, "b": 0.2}
    a = Exercise.from_expression("tanh(w*x + b)", given, seed=1)
    b = Exercise.from_expression("tanh(w*x + b)", given, seed=2)
    used_a, used_b = a.source["used"], b.source["used"]
    assert used_a != used_b and used_a != given
    for used in (used_a, used_b):
        assert all((used[k] > 0) == (v > 0) and abs(used[k] - v) <= 0.4 * abs(v) + 1e-9
                   for k, v in given.items())
    assert Exercise.from_expression("tanh(w*x + b)", given, seed=1).to_json() == a.to_json()
    assert Exercise.from_json(a.to_json()).to_json() == a.to_json()
    # the key is the engine's at the variant's numbers: d tanh(u)/dw = (1 - tanh(u)**2)*x
    w, x, bias = used_a["w"], used_a["x"], used_a["b"]
    assert close(a.question("w").expected, (1 - math.tanh(w * x + bias) ** 2) * x, 1e-12)
    log_variant = Exercise.from_expression("log(x)", {"x": 0.5}, seed=7)  # stays in log's domain
    assert log_variant.source["used"]["x"] > 0


def test_the_questions_are_every_node_but_the_root_and_constants_in_backward_order():
    ex = Exercise.from_expression("(a*b + 2)*a", {"a": 3.0, "b": -2.0})
    # backward() finishes (a*b + 2)*a's first input at once; a is used twice: it is finished when
    # a*b, its last user, sends its += (to a, then b)
    assert ex.questions == ["a*b + 2", "a*b", "a", "b"]
    keys = {q: ex.question(q).expected for q in ex.questions}
    assert keys == {"a*b + 2": 3.0, "a*b": 3.0, "b": 9.0, "a": 2 * 3.0 * -2.0 + 2}  # by hand
    assert ex.grade({"a": -(2 * 3.0 * -2.0 + 2)})["a"].diagnosis == "sign"
    # a: two paths, a*b + 2 (-4) and a*b (-6): one alone is missing-path
    assert ex.grade({"a": -4.0})["a"].diagnosis == "missing-path"


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["exp(w*x) + w", "tanh(w*x + b)*w", "sigmoid(w*x)*x + b", "log(1 + w*w)*x",
                        "(w*x - b)**2"]),
       st.floats(0.2, 2.0), st.floats(-2.0, -0.2), st.floats(0.2, 1.0))
def test_random_expressions_right_sign_and_update_step(text, w, x, b):
    values = {"w": w, "x": x, "b": b}
    ex = Exercise.from_expression(text, values, ask=["w"], show_answers=True)
    symbols = {k: sympy.Symbol(k) for k in values}
    expr = sympy.sympify(text, locals={**symbols, "sigmoid": lambda t: 1 / (1 + sympy.exp(-t))})
    key = float(sympy.diff(expr, symbols["w"]).subs({symbols[k]: v for k, v in values.items()}))
    assert close(ex.question("w").expected, key, 1e-10, 1e-12)
    assert ex.grade({"w": key})["w"].diagnosis == "right"
    if abs(key) > 1e-6:
        grade = ex.grade({"w": -key})["w"]
        assert grade.diagnosis == "sign" and format(key, ".9g") in grade.message
        updated = w - 0.5 * key  # the updated weight, by the sympy key
        found = ex.question("w").candidates
        step = next(c for c in found if c.id == "update-step" and close(c.value, updated, 1e-12, 1e-15))
        assert "the updated w = " in step.message
        grade = ex.grade({"w": updated})["w"]
        if grade.diagnosis != "update-step":  # a coincidence at this point: named by an earlier one
            assert found.index(step) > next(i for i, c in enumerate(found) if c.id == grade.diagnosis)


def test_a_small_mlp():
    ex = Exercise.mlp([2, 2, 1], seed=3)
    weight = next(q for q in ex.questions if q.startswith("L1.") and ex.nodes[q].is_leaf)
    leaf = ex.nodes[weight]
    # the oracle: a central difference of the loss in that weight, the graph re-run on floats
    from micrograd_bp.numeric import replay
    f = replay(ex.root, leaf)
    h = 1e-6
    numeric = (f(leaf.data + h) - f(leaf.data - h)) / (2 * h)
    key = ex.question(weight).expected
    assert close(key, numeric, 1e-6, 1e-10)
    sign = ex.grade({weight: -key})[weight]
    shown = re.fullmatch(rf"your value has the wrong sign: dE/d\({weight}\) = (\S+)", sign.message)
    assert sign.diagnosis == "sign" and close(float(shown.group(1)), numeric, 1e-6, 1e-10)
    step = ex.grade({weight: leaf.data - 0.5 * key})[weight]
    shown = re.search(rf"the updated {weight} = (\S+) - 0.5\*(\S+) = ", step.message)
    assert step.diagnosis == "update-step" and close(float(shown.group(1)), leaf.data, 1e-8)
    assert close(float(shown.group(2)), numeric, 1e-6, 1e-10)
    assert ex.grade({weight: key})[weight].ok
    again = Exercise.from_json(ex.to_json())
    assert again.questions == ex.questions and again.to_json() == ex.to_json()


@settings(max_examples=20, deadline=None)
@given(trees(max_leaves=6), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_random_graphs_keys_signs_and_the_json_grader(tree, x, y, z):
    """Random expression trees (tests/oracles.py): the key of each variable is sympy's partial; the
    negated key is `sign`; each candidate, answered, is named by it, by Python and by the JSON."""
    env = {k: Value(v, k) for k, v in zip(VARIABLES, (x, y, z))}
    root = build(tree, env, "engine")
    if not [n for n in topological_order(root) if n is not root and (n.op is not None or n.label)]:
        with pytest.raises(ValueError, match="has no gradient to ask"):
            Exercise(root, {"kind": "test"})
        return  # a leaf, or an op on numbers: nothing to ask
    ex = Exercise(root, {"kind": "test"}, show_answers=True)
    symbols = {k: sympy.Symbol(k) for k in VARIABLES}
    exact = build(tree, symbols, "sympy")
    at = {symbols[k]: v for k, v in zip(VARIABLES, (x, y, z))}
    data = json.loads(ex.to_json())
    for name in ex.questions:
        key = ex.question(name).expected
        if name in VARIABLES:
            assert close(key, float(sympy.diff(exact, symbols[name]).subs(at)), 1e-9, 1e-12)
        if abs(key) > 1e-9:
            assert ex.grade({name: -key})[name].diagnosis == "sign"
        found = ex.question(name).candidates
        for candidate in found[:40]:
            grade = ex.grade({name: candidate.value})[name]
            first = next(c for c in found if abs(c.value - candidate.value)
                         <= ex.rtol * max(abs(c.value), abs(candidate.value)))  # the first that matches
            assert (grade.diagnosis, grade.message) == (first.id, first.message)
            assert _json_grade(data, {name: candidate.value})[name] == (grade.diagnosis, grade.message)
