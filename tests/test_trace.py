"""trace: the backward ledger against backward() bit for bit, its names, JSON, text, the lessons, the CLI."""

from __future__ import annotations

import json
import re
import struct

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_bp import Value, linear, topological_order
from micrograd_bp.examples import backward_lessons as lessons
from micrograd_bp.examples import mazur
from micrograd_bp.trace import is_numbered, ledger_names, trace_backward

# /work/shared/reference/mazur-2-2-2.md
THROUGH_O1, THROUGH_O2, D_OUT_H1 = 0.055399425, -0.019049118, 0.036350306
DOUT_O1_DNET_O1, DOUT_H1_DNET_H1, DW1, I1 = 0.186815602, 0.241300709, 0.000438568, 0.05


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


mazur_ledger = lessons.mazur_ledger


# ------------------------------------------------------------------------------- the Mazur ledger

def test_out_h1_receives_two_amounts_that_add_up():
    ledger = mazur_ledger()
    sends = [(step.node, s) for step in ledger.steps for s in step.sends if s.to == "out_h1"]
    assert [node for node, _ in sends] == ["net_o2", "net_o1"]  # the engine's order
    (_, o2), (_, o1) = sends
    assert abs(o1.amount - THROUGH_O1) < 1e-9 and abs(o2.amount - THROUGH_O2) < 1e-9
    assert o2.before == 0.0 and o1.before == o2.after  # the += is visible
    assert abs(o1.after - D_OUT_H1) < 1e-9
    # linear's formula for its input x1 is w1 (d(w1*x1 + w2*x2 + b)/dx1), here the weight w5 or w7
    assert o1.formula == o2.formula == "w1"
    assert o1.formula_named == "w5" and o1.local == 0.4 and o2.formula_named == "w7" and o2.local == 0.5


def test_each_local_derivative_has_its_formula():
    ledger = mazur_ledger()
    out_o1 = next(step for step in ledger.steps if step.node == "out_o1")
    (send,) = out_o1.sends
    assert send.to == "net_o1" and send.formula == "out*(1 - out)"
    assert send.formula_named == "out_o1*(1 - out_o1)"
    assert abs(send.local - DOUT_O1_DNET_O1) < 1e-9
    assert abs(ledger.final["w1"] - DW1) < 1e-9
    # the targets carry the checker's names
    assert {"target_o1", "target_o2"} <= set(ledger.final)


def test_the_ledger_is_what_backward_did_on_mazur():
    nodes = mazur.MazurNetwork().forward()
    nodes["E_total"].backward()
    ledger = mazur_ledger()
    for name, node in nodes.items():
        assert bits(ledger.final[name]) == bits(node.grad)
    assert len(ledger.steps) == sum(1 for n in topological_order(nodes["E_total"]) if n.op is not None)


# --------------------------------------------------------------------- bit for bit, random graphs

UNARY = ("tanh", "sigmoid", "relu", "neg", "square")
BINARY = ("add", "sub", "mul")


@st.composite
def programs(draw):
    """A recipe for a graph: leaves (some with earlier grads, some constants) and ops on earlier
    nodes, chosen by index so that nodes are shared."""
    n_leaves = draw(st.integers(1, 4))
    leaves = [(draw(st.floats(-2, 2, allow_nan=False)), draw(st.sampled_from([0.0, 0.0, 0.7, -1.25])))
              for _ in range(n_leaves)]
    ops = []
    for i in range(draw(st.integers(1, 12))):
        size = n_leaves + i
        kind = draw(st.sampled_from(UNARY + BINARY + ("const", "linear")))
        args = [draw(st.integers(0, size - 1)) for _ in range(3)]
        ops.append((kind, args, draw(st.floats(-3, 3, allow_nan=False))))
    roots = draw(st.lists(st.integers(0, n_leaves + len(ops) - 1), min_size=1, max_size=3))
    return leaves, ops, roots


def build(program) -> tuple[Value, list[Value]]:
    leaves, ops, roots = program
    nodes = []
    for k, (data, earlier) in enumerate(leaves):
        v = Value(data, f"x{k}")
        v.grad = earlier  # a gradient left by an earlier pass
        nodes.append(v)
    for kind, (i, j, m), c in ops:
        a, b = nodes[i], nodes[j]
        if kind == "square":
            nodes.append(a * a)
        elif kind == "neg":
            nodes.append(-a)
        elif kind == "const":
            nodes.append(a * c + c)  # constants as lifted leaves
        elif kind == "linear":
            nodes.append(linear([a, c], [b, nodes[m]], bias=c))
        elif kind in UNARY:
            nodes.append(getattr(a, kind)())
        else:
            nodes.append({"add": a + b, "sub": a - b, "mul": a * b}[kind])
    root = nodes[roots[0]]
    for r in roots[1:]:
        root = root + nodes[r]
    return root, nodes


@settings(max_examples=150, deadline=None)
@given(programs())
def test_the_ledger_matches_backward_bit_for_bit(program):
    plain_root, plain_nodes = build(program)
    traced_root, traced_nodes = build(program)
    plain_root.backward()
    ledger = trace_backward(traced_root)
    assert [bits(v.grad) for v in traced_nodes] == [bits(v.grad) for v in plain_nodes]
    order = topological_order(plain_root)
    _, names = ledger_names(plain_root)
    assert [bits(ledger.final[name]) for name in names] == [bits(node.grad) for node in order]
    # every send is local x upstream, added to what the input held: the ledger's own arithmetic
    for step in ledger.steps:
        for s in step.sends:
            if not step.skipped:
                assert bits(s.amount) == bits(s.local * step.grad)
                assert bits(s.after) == bits(s.before + s.amount)


def test_a_second_pass_starts_from_the_leaves_earlier_grads():
    x = Value(3.0, "x")
    f = (x * x).named("f")
    f.backward()
    ledger = trace_backward(f)
    assert ledger.earlier == {"x": 6.0}
    first, second = ledger.steps[0].sends
    assert first.carried and first.before == 6.0 and first.after == 9.0
    assert not second.carried and second.after == 12.0
    assert x.grad == 12.0 and "from an earlier pass" in str(ledger)


def test_a_zero_upstream_sends_nothing():
    x = Value(2.0, "x")
    m = (-x).named("m")
    f = (m.relu() * 3.0).named("f")  # relu of a negative: m's grad is exactly 0
    ledger = trace_backward(f)
    step = next(s for s in ledger.steps if s.node == "m")
    assert step.skipped and step.sends[0].amount == 0.0 and x.grad == 0.0
    assert "sends nothing" in str(ledger)


def test_a_leaf_root():
    x = Value(2.0, "x")
    ledger = trace_backward(x)
    assert ledger.steps == [] and ledger.final == {"x": 1.0} and x.grad == 1.0
    again = trace_backward(x)  # a leaf accumulates: 1 + 1
    assert again.final == {"x": 2.0} and again.earlier == {"x": 1.0}
    assert "a leaf, so no steps" in str(again) and "1 + 1 = 2" in str(again)


# ------------------------------------------------------------------------------------------ names

def test_names_label_expression_number():
    a, b = Value(2.0, "a"), Value(3.0)
    p = a * b
    long = p
    for _ in range(12):
        long = long * a + b
    _, names = ledger_names(long)
    assert names[0] == "a" and "a*3" in names
    # too long to write out: numbered n1, n2, ... in topological order, and the names that
    # contain it refer to it
    numbered = [name for name in names if is_numbered(name)]
    assert numbered == [f"n{k + 1}" for k in range(len(numbered))] and len(numbered) >= 2
    assert names[-2] == "(((n2*a + 3)*a + 3)*a + 3)*a" and names[-1] == "n3"  # 31 characters: numbered
    assert len(set(names)) == len(names)


def test_a_long_label_is_kept_whole():
    label = "the weight of the first neuron's first input"
    _, names = ledger_names((Value(1.0, label) * Value(2.0, "x")).named("a product named at length"))
    assert names == [label, "x", "a product named at length"]


def test_a_name_shared_by_two_nodes_is_numbered():
    w1, w1b = Value(1.0, "w1"), Value(2.0, "w1")
    _, names = ledger_names((w1 * w1b).named("f"))
    assert names == ["n1", "n2", "f"]
    x = Value(2.0, "x")
    _, names = ledger_names(x * x + x * x)  # two nodes compute x*x: both numbered, the sum over them
    assert names == ["x", "n1", "n2", "n1 + n2"]


def test_short_formulas_name_every_node_without_a_position():
    """Issue 21: no `#k` in the ledger of an expression whose nodes all have short formulas; the
    constants that repeat (Mazur's two 0.5) are numbered, their formulas still read 0.5."""
    x1, x2, w1, w2 = Value(0.5, "x1"), Value(-1.0, "x2"), Value(0.3, "w1"), Value(0.7, "w2")
    n = w1 * x1 + w2 * x2
    out = (n.tanh() * 0.5 + 0.5 * (x1 * x1)).named("out")
    for ledger in (trace_backward(out), mazur_ledger()):
        text = str(ledger)
        assert re.search(r"#\d", text) is None, text
        assert len(set(ledger.names)) == len(ledger.names)
    names = trace_backward(out).names
    assert {"w1*x1", "w2*x2", "w1*x1 + w2*x2", "tanh(w1*x1 + w2*x2)", "x1*x1"} <= set(names)
    assert [name for name in names if is_numbered(name)] == ["n1", "n2"]  # the two 0.5
    ledger = str(mazur_ledger())
    assert "local 0.5 = 0.5" in ledger and "-> n1: local (target_o1 - out_o1)**2" in ledger


def test_a_label_that_is_not_a_string_is_named_by_its_text():
    x = Value(2.0)
    x.label = 7  # Value labels will be str-only; the ledger still names it
    _, names = ledger_names(x * 2.0)
    assert names[0] == "7"


# ---------------------------------------------------------------------------- JSON, text, Jupyter

def test_json_has_the_issues_keys_and_is_strict():
    data = mazur_ledger().to_json()
    json.dumps(data, allow_nan=False)
    step = data["steps"][0]
    assert {"node", "grad", "sends"} <= set(step)
    assert {"to", "local", "formula", "amount", "before", "after"} <= set(step["sends"][0])
    assert step["node"] == "E_total" and step["grad"] == 1.0


def test_text_and_max_steps():
    ledger = mazur_ledger()
    text = ledger.format(max_steps=3)
    assert "step 3:" in text and "step 4:" not in text and "... 12 more steps not shown" in text
    full = str(ledger)
    assert "out_h1.grad -0.0190491183 + 0.0553994247 = 0.0363503064" in full
    assert ledger.to_json(max_steps=3)["steps_omitted"] == 12


def test_an_unnamed_root_is_differentiated_in_parentheses():
    x, y = Value(2.0, "x"), Value(3.0, "y")
    text = str(trace_backward(x * y + x))
    assert text.splitlines()[0].endswith("; d(x*y + x)/d(x*y + x) = 1")
    assert "dx*y" not in text
    assert str(trace_backward((x * y + x).named("f"))).splitlines()[0].endswith("; df/df = 1")


def test_steps_and_sends_print_as_the_ledger_does():
    x, y = Value(2.0, "x"), Value(3.0, "y")
    ledger = trace_backward((x * y + x).named("f"))
    product = ledger.steps[1]  # x*y, upstream 1: x gets y = 3 on top of the 1 from f, y gets x = 2
    assert repr(product) == ("step 2: x*y (*), grad 1\n"
                             "  -> x: local y = 3; amount 3 x 1 = 3; x.grad 1 + 3 = 4\n"
                             "  -> y: local x = 2; amount 2 x 1 = 2; y.grad 0 + 2 = 2")
    assert repr(product.sends[0]) == "-> x: local y = 3; amount 3; x.grad 1 + 3 = 4"
    assert repr(product) in str(ledger)


def test_a_negative_max_steps_is_refused_not_sliced_from_the_end():
    ledger = mazur_ledger()
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_steps must be None or an integer of at least 0"):
            ledger.format(max_steps=bad)
        with pytest.raises(ValueError, match="max_steps must be None or an integer of at least 0"):
            ledger.to_json(max_steps=bad)
    assert ledger.to_json(max_steps=0)["steps_omitted"] == 15


def test_html_escapes_labels():
    x = Value(1.0, "<b>x</b>")
    ledger = trace_backward((x * 2.0).named("f"))
    page = ledger._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page and "<table>" in page


# ---------------------------------------------------------------------------------------- lessons

def test_why_accumulate_against_hand_derivations():
    plus, times, diamond = lessons.why_accumulate()
    assert (plus.with_add["a"], plus.with_assign["a"]) == (2.0, 1.0)  # d(a+a)/da = 2; = keeps 1
    assert (times.with_add["a"], times.with_assign["a"]) == (6.0, 3.0)  # 2a; = keeps a
    # f = u*v, u = 2a, v = a + 1 at a = 3: df/da = 2v + u = 8 + 6 = 14; v's share (u = 6) comes
    # first in backward()'s order, u's (2v = 8) last, so = keeps 8
    assert (diamond.with_add["a"], diamond.with_assign["a"]) == (14.0, 8.0)


def test_why_topological_order_against_hand_derivations():
    small, network = lessons.why_topological_order()
    # f = y*y, y = x + 1 at x = 2: df/dx = 2y = 6; the naive recursion runs y's backward once per
    # edge, each time with y's full grad 2y: x gets 2 * 6 = 12
    assert small.topological["x"] == 6.0 and small.naive["x"] == 12.0
    # Mazur: out_h1's own grad is right either way; what it passed down is not. The naive order
    # sends through net_h1 first out_h1's o1 share p1, then its full sum p1 + p2; net_h1 passes
    # each on at once: w1 = i1 * dout_h1/dnet_h1 * (p1 + (p1 + p2) + p1)
    assert abs(network.naive["out_h1"] - D_OUT_H1) < 1e-9
    assert abs(network.topological["w1"] - DW1) < 1e-9
    naive_w1 = I1 * DOUT_H1_DNET_H1 * (3 * THROUGH_O1 + THROUGH_O2)
    assert abs(network.naive["w1"] - naive_w1) < 1e-9
    assert "w1" in network.wrong() and "out_h1" not in network.wrong()


def test_why_zero_grad_against_the_reference():
    lesson = lessons.why_zero_grad()
    assert abs(lesson.first["w1"] - DW1) < 1e-9
    assert abs(lesson.second["w1"] - 2 * DW1) < 1e-9  # the leaves doubled
    assert lesson.second["out_h1"] == lesson.first["out_h1"]  # interior: this pass's
    assert lesson.after_zero_grad == lesson.first
    assert lesson.second_ledger.earlier["w1"] == lesson.first["w1"]


def test_the_lessons_print_as_tables_not_dataclass_dumps():
    plus, _, _ = lessons.why_accumulate()
    assert repr(plus).splitlines() == [  # d(a+a)/da = 2; = keeps only the last 1
        "f = a + a at a=3: each node's grad",
        "  node          with +=           with =",
        "  a                   2                1   <- = loses a contribution",
        "  f                   1                1"]
    small, network = lessons.why_topological_order()
    assert "  x                   6               12   <- wrong" in repr(small).splitlines()  # 2y; 2*2y
    assert "  y                   6                6" in repr(small).splitlines()
    assert "Accumulation(" not in repr(plus) and "OrderComparison(" not in repr(network)
    lines = {line.split()[0]: line for line in repr(lessons.why_zero_grad()).splitlines()[2:]}
    w1, out_h1 = lines["w1"].split(), lines["out_h1"].split()
    assert all(abs(float(v) - g) < 1e-9 for v, g in zip(w1[1:4], [DW1, 2 * DW1, DW1]))
    assert w1[4:] == ["<-", "doubled"]
    assert all(abs(float(v) - D_OUT_H1) < 1e-9 for v in out_h1[1:]) and len(out_h1) == 4  # this pass's


def test_before_backward_the_local_derivatives_are_known():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    e = (a * b + 10.0).named("e")
    # by hand: d(a*b)/da = b = -3, d(a*b)/db = a = 2, d(p + c)/dp = d(p + c)/dc = 1
    assert lessons.before_backward(e) == [("a*b", "a", "b", -3.0), ("a*b", "b", "a", 2.0),
                                          ("e", "a*b", "1", 1.0), ("e", "10", "1", 1.0)]
    assert a.grad == 0.0 and e.grad == 0.0  # nothing ran backward


# ------------------------------------------------------------------------------------------- CLI

def test_cli_trace_text_and_json():
    status, out, _ = run_cli("trace", "x*y + x", "x=2", "y=3")
    assert status == 0
    # by hand: f = x*y + x: df/dx = y + 1 = 4, reached as 1 then 1 + 3
    assert "x.grad 1 + 3 = 4" in out and "y.grad 0 + 2 = 2" in out
    status, out, _ = run_cli("trace", "x*y + x", "x=2", "y=3", "--json")
    data = json.loads(out)
    assert data["final"]["x"] == 4.0 and data["steps"][0]["node"] == "f"


def test_cli_trace_takes_grads_expressions_and_errors():
    assert run_cli("trace", "-x*x", "x=2")[0] == 0  # a leading minus is an expression
    for argv in (["trace", "x*", "x=1"], ["trace", "x*y", "x=1"], ["trace", "log(x)", "x=-1"]):
        status, out, err = run_cli(*argv)
        grad_status, _, grad_err = run_cli("grad", *argv[1:])
        assert status == grad_status == 2 and out == "" and err == grad_err


def test_cli_trace_draws_like_grad(tmp_path):
    picture = tmp_path / "f.dot"
    status, out, err = run_cli("trace", "x*y + x", "x=2", "y=3", "--graph", picture)
    assert status == 0 and "step 2: x*y" in out and f"wrote {picture}" in err
    dot = picture.read_text()
    # after backward(): df/dx = y + 1 = 4, df/dy = x = 2 (by hand), as grad --graph draws them
    assert "grad 4.0000" in dot and "grad 2.0000" in dot and "df/d(node), after backward()" in dot
    status, out, err = run_cli("trace", "x*y", "x=2", "y=3", "--graph", tmp_path / "no" / "f.svg")
    assert status == 2 and out == "" and "the directory" in err and "does not exist" in err


def test_cli_trace_max_steps():
    status, out, _ = run_cli("trace", "x*x*x*x", "x=2", "--max-steps", "1")
    assert status == 0 and "step 1:" in out and "... 2 more steps not shown" in out


def test_cli_mazur_trace():
    status, out, _ = run_cli("mazur", "--trace", "--json")
    assert status == 0
    data = json.loads(out)
    amounts = [s["amount"] for step in data["steps"] for s in step["sends"] if s["to"] == "out_h1"]
    assert abs(amounts[1] - THROUGH_O1) < 1e-9 and abs(amounts[0] - THROUGH_O2) < 1e-9
    assert abs(sum(amounts) - D_OUT_H1) < 1e-9
    status, _, err = run_cli("mazur", "--trace", "--steps", "3")
    assert status == 2 and "--steps does nothing with --trace" in err


def test_cli_animate_refusals_come_before_any_work(tmp_path):
    status, out, err = run_cli("grad", "x*x", "x=2", "--animate", str(tmp_path / "a.png"))
    assert status == 2 and out == "" and "does not end in .gif" in err
    big = "*".join(["x"] * 600)  # 600 nodes, above the drawing's limit of 500
    for command in ("trace", "grad"):
        status, out, err = run_cli(command, big, "x=1", "--animate", str(tmp_path / "a.gif"))
        assert status == 2 and out == "" and "more than the 500" in err
        assert not (tmp_path / "a.gif").exists()


def test_an_animation_too_much_work_to_draw_is_refused_before_any_work(tmp_path):
    from micrograd_bp import pictures

    # x0*y + ... + x24*y: 25 x's, y, 25 products, 24 sums = 75 nodes; backward takes one step per
    # product and sum, 49, so 51 frames of 75 nodes: 3,825 node drawings (20 terms, 2,460, took
    # 50 s of dot; 60 terms ran out of memory)
    terms = 25
    text = " + ".join(f"x{k}*y" for k in range(terms))
    values = [f"x{k}=1" for k in range(terms)]
    for command in ("trace", "grad"):
        status, out, err = run_cli(command, text, *values, "y=2", "--animate", tmp_path / "a.gif")
        assert status == 2 and out == "" and not (tmp_path / "a.gif").exists()
        assert "draws 51 frames of 75 nodes (3,825 nodes in all, more than 2,500" in err
    y = Value(2.0, "y")
    total = Value(1.0, "x0") * y
    for k in range(1, terms):
        total = total + Value(1.0, f"x{k}") * y
    with pytest.raises(ValueError, match="draws 51 frames of 75 nodes"):
        pictures.write_animation(trace_backward(total), tmp_path / "b.gif")
    assert not (tmp_path / "b.gif").exists()


def test_cli_animate_without_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    status, out, err = run_cli("one-weight", "--animate", str(tmp_path / "a.gif"))
    assert status == 2 and out == "" and "apt-get install graphviz" in err


def test_cli_animate_writes_one_frame_per_step(tmp_path):
    from PIL import Image

    path = tmp_path / "a.gif"
    status, out, err = run_cli("grad", "x*y + x", "x=2", "y=3", "--animate", str(path))
    assert status == 0 and "wrote" in err
    with Image.open(path) as gif:
        assert gif.n_frames == 2 + 2  # two steps, plus the first and the last picture
    # the pass ran once: the printed partials, and the grads, are the partials
    assert "df/dx  4" in out


def test_trace_notes_a_variable_given_but_not_used():
    status, out, _ = run_cli("trace", "2*y", "x=1", "y=2")
    assert status == 0
    assert out.rstrip().endswith("note: x is given but not used in the expression: "
                                 "backward() never reaches it")
    assert "y.grad 0 + 2 = 2" in out  # d(2y)/dy = 2, by hand
    status, out, _ = run_cli("trace", "2*y", "x=1", "y=2", "--json")
    assert status == 0 and json.loads(out)["unused"] == ["x"]
