"""Compiled replay: the same bits as the eager engine, its errors, its ShapeErrors."""

from __future__ import annotations

import json
import math
import tracemalloc
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from micrograd_bp import OPS, Value, compiled, grad, linear
from micrograd_bp.cli import main
from micrograd_bp.compiled import ShapeError, compile_graph, template_for
from micrograd_bp.examples import mazur
from micrograd_bp.examples.moons import make_moons, max_margin_loss, moons_model
from micrograd_bp.ops import power_op


def bits(x: float) -> str:
    """Equal bits, not just ==: -0.0 and 0.0 differ."""
    return float(x).hex() if x == x else "nan"


def same(xs, ys) -> bool:
    return [bits(x) for x in xs] == [bits(y) for y in ys]


def test_every_op_has_a_template():
    for op in OPS.values():
        assert op.replay is not None, op.name  # a built-in op has its own template
        for arity in ((op.arity,) if op.arity > 0 else (0, 1, 2, 3, 4, 5)):
            assert len(template_for(op, arity).partials) == arity
    for n in (2.0, 3.0, 0.5, -1.0, 0.0, 1.5):
        assert len(template_for(power_op(n), 1).partials) == 1


# --------------------------------------------------------------------------------- Mazur


def mazur_graph():
    network = mazur.MazurNetwork()
    total = network.forward()["E_total"]
    leaves = [network.params[name] for name in mazur.PARAMETER_NAMES]
    return network, total, leaves


def test_mazur_forward_and_gradients_bit_for_bit():
    _, total, leaves = mazur_graph()
    total.backward()
    eager = [p.grad for p in leaves]
    graph = compile_graph(total, leaves)
    assert graph.n_nodes == 31 and graph.leaves == leaves
    assert bits(graph.forward()) == bits(total.data)
    for p in leaves:
        p.grad = 0.0
    assert bits(graph.forward_backward()) == bits(total.data)
    assert same(graph.gradients(), eager) and same([p.grad for p in leaves], eager)
    grads = dict(zip(mazur.PARAMETER_NAMES, graph.gradients()))
    assert abs(grads["w5"] - 0.082167041) < 1e-8 and abs(grads["w1"] - 0.000438568) < 1e-8


def test_mazur_ten_thousand_steps_equal_eager_and_the_reference():
    network, total, leaves = mazur_graph()
    graph = compile_graph(total, leaves)
    losses = graph.sgd_steps(10_000, 0.5, leaves[:8])
    eager = mazur.MazurNetwork()
    for _ in range(10_000):
        eager.step()
    assert same(network.weights().values(), eager.weights().values())
    assert len(losses) == 10_000 and bits(losses[0]) == bits(total.data)
    final = network.forward()
    assert abs(final["E_total"].data - 0.000035102) < 1e-9
    assert abs(final["out_o1"].data - 0.015913620) < 1e-8
    assert abs(final["out_o2"].data - 0.984064274) < 1e-8


def test_sgd_steps_is_zero_grad_forward_backward_update():
    _, total, leaves = mazur_graph()
    _, total2, leaves2 = mazur_graph()
    fused = compile_graph(total, leaves)
    stepwise = compile_graph(total2, leaves2)
    losses = fused.sgd_steps(5, 0.7, leaves[2:])
    expected = []
    for _ in range(5):
        for p in leaves2:
            p.grad = 0.0
        expected.append(stepwise.forward_backward())
        for p in leaves2[2:]:
            p.data -= 0.7 * p.grad
    assert same(losses, expected)
    assert same([p.data for p in leaves], [p.data for p in leaves2])
    assert same([p.grad for p in leaves], [p.grad for p in leaves2])
    assert same(fused.gradients(), stepwise.gradients())
    assert fused.sgd_steps(0, 0.7) == []


@pytest.mark.parametrize("steps", [1, 1000])
def test_cli_mazur_compiled_json_equals_eager(capsys, steps):
    assert main(["mazur", "--json", "--steps", str(steps)]) == 0
    eager = json.loads(capsys.readouterr().out)
    assert main(["mazur", "--json", "--steps", str(steps), "--compiled"]) == 0
    assert json.loads(capsys.readouterr().out) == eager
    assert main(["mazur", "--steps", str(steps), "--compiled", "--train-biases"]) == 0
    text = capsys.readouterr().out
    assert main(["mazur", "--steps", str(steps), "--train-biases"]) == 0
    assert capsys.readouterr().out == text


def test_cli_mazur_compiled_sequential_is_a_clear_error(capsys):
    assert main(["mazur", "--compiled", "--order", "sequential"]) == 2
    err = capsys.readouterr().err
    assert "simultaneous order only" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="simultaneous"):
        mazur.walkthrough(order="sequential", compiled=True)


def test_walkthrough_history_compiled():
    a = mazur.walkthrough(7, record_history=True)
    b = mazur.walkthrough(7, record_history=True, compiled=True)
    assert same(a.history, b.history) and a.to_json() == b.to_json()


# ---------------------------------------------------------------------- random expressions
# A program is a list of instructions over a pool of nodes (the leaves first); the same program
# builds the eager graph for any leaf values, so replay on new values can be checked too.

UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "powc"]
BINARY = ["add", "sub", "mul", "div", "pow"]
EXPONENTS = [2.0, 3.0, 0.5, -1.0, 1.5, 0.0, -2.0, 1.0]
instruction = st.tuples(st.sampled_from(UNARY + BINARY + ["linear", "const"]),
                        st.lists(st.integers(0, 1000), min_size=5, max_size=5),
                        st.sampled_from(EXPONENTS), st.floats(-3, 3))
number = st.floats(-3, 3).map(lambda x: round(x, 3))


def run_program(values, program):
    """The eager graph: (leaves, root); an instruction that leaves the domain is skipped."""
    leaves = [Value(v, f"x{i}") for i, v in enumerate(values)]
    pool: list[Value] = list(leaves)
    for name, picks, exponent, constant in program:
        a, b = pool[picks[0] % len(pool)], pool[picks[1] % len(pool)]
        try:
            if name == "const":
                node = a * constant if picks[2] % 2 else constant - a
            elif name == "powc":
                node = a ** exponent
            elif name == "pow":
                node = a ** b
            elif name == "linear":
                n = picks[2] % 3
                ws = [pool[(picks[3] + i) % len(pool)] for i in range(n)]
                xs = [pool[(picks[4] + 2 * i) % len(pool)] for i in range(n)]
                node = linear(ws, xs, a if picks[3] % 2 else None)
            elif name in UNARY:
                node = Value.apply(OPS[name], a)
            else:
                node = Value.apply(OPS[name], a, b)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        pool.append(node)
    total = pool[-1]
    for node in pool[len(leaves):-1:3]:  # several nodes feed the output: shared subgraphs
        total = total + node
    return leaves, total


def eager_pass(values, program, grads=None):
    """The eager engine's output and leaf grads (starting from grads), or its exception."""
    leaves, root = run_program(values, program)
    for leaf, g in zip(leaves, grads or [0.0] * len(leaves)):
        leaf.grad = g
    root.backward()
    return root.data, [leaf.grad for leaf in leaves]


# Two cases hypothesis found: a log that the first data skips (log of 0) and the second does not,
# so a later node takes another leaf; the shapes agree, and check() must tell them apart by label.
_NEG_LOG_NEG = [("neg", [1, 0, 0, 0, 0], 2.0, 0.0), ("neg", [0, 0, 0, 0, 0], 2.0, 0.0),
                ("log", [0, 0, 0, 0, 0], 2.0, 0.0), ("neg", [948, 0, 0, 0, 0], 2.0, 0.0)]

_NEG = ("neg", [0, 0, 0, 0, 0], 2.0, 0.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(number, min_size=1, max_size=4), st.lists(instruction, min_size=1, max_size=14),
       st.lists(number, min_size=4, max_size=4))
@example(values=[0.0] * 4, program=_NEG_LOG_NEG, other=[1.0, 0.0, 0.0, 0.0])
@example(values=[0.0] * 4, program=[_NEG_LOG_NEG[0], _NEG_LOG_NEG[1], ("log", [244, 0, 0, 0, 0], 2.0, 0.0),
                                    _NEG_LOG_NEG[3]], other=[0.0, -1.0, 0.0, 0.0])
@example(values=[1.0, 0.0, 0.0, 0.0],  # found by hypothesis: a div's derivative past the float range
         program=[_NEG, _NEG, _NEG, ("const", [0, 0, 1, 0, 0], 2.0, 1.5142228696237992e-156),
                  _NEG, _NEG, _NEG, _NEG, _NEG, ("div", [0, 787, 0, 0, 0], 2.0, 0.0)],
         other=[0.0, 0.0, 0.0, 0.0])
@example(values=[0.0] * 4,  # found by hypothesis: the new data's backward overflows, not its forward
         program=[_NEG, _NEG, _NEG, _NEG, ("const", [0, 0, 1, 0, 0], 2.0, 2.1789829241663508e-277),
                  _NEG, _NEG, ("div", [0, 8, 0, 0, 0], 2.0, 0.0)],
         other=[1.0, 0.0, 0.0, 0.0])
def test_random_expressions_replay_bit_for_bit(values, program, other):
    leaves, root = run_program(values, program)
    graph = compile_graph(root)
    inputs = [leaf for leaf in graph.leaves if leaf.label]  # the x_i; the constants are leaves too
    try:
        root.backward()
    except OverflowError as error:  # a gradient past the float range: the replay says the same
        for leaf in graph.leaves:
            leaf.grad = 0.0
        assert bits(graph.forward()) == bits(root.data)
        with pytest.raises(OverflowError) as raised:
            graph.forward_backward()
        assert str(raised.value) == str(error)
        return
    eager = [leaf.grad for leaf in graph.leaves]
    for leaf in graph.leaves:
        leaf.grad = 0.0
    assert bits(graph.forward()) == bits(root.data)
    assert bits(graph.forward_backward()) == bits(root.data)
    assert same(graph.gradients(), eager) and same([leaf.grad for leaf in graph.leaves], eager)
    # the same graph replayed on new data: the eager engine built on that data, or its exception
    new_values = [other[i] for i in range(len(values))]
    by_label = {leaf.label: new_values[int(leaf.label[1:])] for leaf in inputs}
    start = [0.25 * i for i in range(len(values))]  # grads accumulate onto these
    try:
        _, rebuilt = run_program(new_values, program)
    except OverflowError as error:  # the output's sum leaves the float range: the forward says so
        with pytest.raises(type(error)) as raised:
            graph.forward(by_label)
        assert str(raised.value) == str(error)
        return
    try:
        graph.check(rebuilt)
    except ShapeError:
        return  # other data took another path through the program (a skipped instruction)
    try:
        expected = eager_pass(new_values, program, start)
    except OverflowError as error:  # the backward pass leaves the float range: so does the replay's
        assert bits(graph.forward(by_label)) == bits(rebuilt.data)
        with pytest.raises(OverflowError) as raised:
            graph.forward_backward(by_label)
        assert str(raised.value) == str(error)
        return
    for leaf in inputs:
        leaf.grad = start[int(leaf.label[1:])]
    assert bits(graph.forward(by_label)) == bits(expected[0])
    assert bits(graph.forward_backward(by_label)) == bits(expected[0])
    grads = {leaf.label: leaf.grad for leaf in inputs}
    assert same([grads[f"x{i}"] for i in range(len(values)) if f"x{i}" in grads],
                [g for i, g in enumerate(expected[1]) if f"x{i}" in grads])


# ------------------------------------------------------------------------------------ moons


def test_moons_one_step_loss_and_every_gradient():
    points, labels = make_moons(40, noise=0.1, seed=1)
    model = moons_model(seed=1337)
    params = model.parameters()
    loss, _ = max_margin_loss(model, points, labels)
    loss.backward()
    eager = [p.grad for p in params]
    graph = compile_graph(loss, params)
    model.zero_grad()
    assert bits(graph.forward_backward()) == bits(loss.data)
    assert same(graph.gradients(), eager) and same([p.grad for p in params], eager)
    # and a second step on updated weights equals a freshly built eager graph
    for p in params:
        p.data -= 0.5 * p.grad
    model.zero_grad()
    out = graph.forward_backward()
    replayed = [p.grad for p in params]
    model.zero_grad()
    loss2, _ = max_margin_loss(model, points, labels)
    loss2.backward()
    assert bits(out) == bits(loss2.data) and same(replayed, [p.grad for p in params])


# --------------------------------------------------------------------- gradient semantics


def test_grads_accumulate_as_eager_and_gradients_is_the_last_pass():
    def build():
        x, y = Value(0.3, "x"), Value(-1.7, "y")
        return x, y, (x * y + x.exp() * y).tanh() * x
    x, y, z = build()
    x.grad, y.grad = 0.1, 1e-17
    z.backward()
    z.backward()
    ex, ey = x.grad, y.grad
    x2, y2, z2 = build()
    graph = compile_graph(z2)
    x2.grad, y2.grad = 0.1, 1e-17
    graph.forward_backward()
    graph.forward_backward()
    assert same([x2.grad, y2.grad], [ex, ey])
    x3, y3, z3 = build()
    z3.backward()
    assert same(graph.gradients(), [x3.grad, y3.grad])


def test_a_node_with_zero_upstream_is_skipped_as_in_eager():
    # log's partial 1/x is inf at a subnormal x; relu is off, so the upstream is exactly 0.0:
    # eager skips the node (x.grad stays 0.0), replay must not turn it into inf * 0 = nan
    x = Value(1e-310, "x")
    y = (x * 1.0).log().relu()
    y.backward()
    assert x.grad == 0.0
    graph = compile_graph(y, [x])
    x.grad = 0.0
    graph.forward_backward()
    assert bits(x.grad) == bits(0.0) and graph.gradients() == [0.0]
    graph.sgd_steps(1, 0.1)
    assert bits(x.grad) == bits(0.0) and x.data == 1e-310
    # a leaf whose .grad is -0.0 keeps it when the pass skips it, as in eager
    for build in (lambda a: (a * 2.0).relu() + a * 0.0, lambda a: (a * 2.0).relu() * 3.0):
        a = Value(-1.0, "a")
        b = build(a)
        a.grad = -0.0
        b.backward()
        eager = a.grad
        graph = compile_graph(b, [a])
        a.grad = -0.0
        graph.forward_backward()
        assert bits(a.grad) == bits(eager) and bits(graph.gradients()[0]) == bits(0.0)


def test_output_that_is_a_leaf():
    x = Value(2.0, "x")
    graph = compile_graph(x)
    x.grad = 0.5
    assert graph.forward_backward() == 2.0 and x.grad == 1.5 and graph.gradients() == [1.0]


# ------------------------------------------------------------------------ leaves, constants


def test_constants_are_baked_and_leaves_are_inputs():
    x, c = Value(3.0, "x"), Value(2.0, "c")
    y = x * c + c.exp()  # c.exp() depends on the constant only: computed once
    graph = compile_graph(y, [x])
    assert graph.leaves == [x]
    c.data = 100.0  # the constant was baked in when compiled
    assert graph.forward() == 3.0 * 2.0 + math.exp(2.0)
    assert graph.forward([4.0]) == 4.0 * 2.0 + math.exp(2.0) and x.data == 3.0
    graph.forward_backward({"x": 5.0})
    assert x.grad == 2.0 and c.grad == 0.0  # a constant's grad is left alone
    assert graph.forward({x: 1.0}) == 2.0 + math.exp(2.0)


def test_compile_graph_checks_the_leaves():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    z = x * y
    with pytest.raises(ValueError, match="not in the graph"):
        compile_graph(z, [Value(1.0)])
    with pytest.raises(ValueError, match="not a leaf"):
        compile_graph(z + 1, [z])
    with pytest.raises(ValueError, match="twice"):
        compile_graph(z, [x, x])
    with pytest.raises(TypeError):
        compile_graph(3.0)


def test_shape_errors():
    x, y, x_again = Value(1.0, "x"), Value(2.0, "y"), Value(3.0, "x")
    z = x * y + x_again
    graph = compile_graph(z)
    with pytest.raises(ShapeError, match="2 values for the 3 leaves"):
        graph.forward([1.0, 2.0])
    with pytest.raises(ShapeError, match="'w' is not a leaf's label"):
        graph.forward({"w": 1.0})
    with pytest.raises(ShapeError, match="names several leaves"):
        graph.forward({"x": 1.0})
    for bad in ("1", None, True, float("nan"), float("inf")):
        with pytest.raises(ShapeError, match="'y'"):
            graph.forward_backward({"y": bad})
    with pytest.raises(ShapeError, match="not one of the compiled graph's leaves"):
        graph.forward({Value(1.0): 1.0})
    with pytest.raises(ShapeError, match="not one of"):
        graph.sgd_steps(1, 0.1, [Value(0.0)])
    with pytest.raises(ShapeError, match="sequence"):
        graph.forward(3.0)
    assert issubclass(ShapeError, ValueError)
    with pytest.raises(RuntimeError, match="forward_backward"):
        compile_graph(z).gradients()


def test_check_says_when_the_shape_changed():
    def build(x_data):  # Python control flow on data: the graph depends on it
        x = Value(x_data, "x")
        return x * 2.0 if x.data > 0 else x * 3.0 + 1.0
    first = build(1.0)
    graph = compile_graph(first, [first.inputs[0]])  # the 2.0 is a constant
    graph.check(build(5.0))
    with pytest.raises(ShapeError, match="nodes"):
        graph.check(build(-1.0))
    x = Value(1.0, "x")
    with pytest.raises(ShapeError, match="constant"):
        graph.check(x * 3.0)
    with pytest.raises(ShapeError, match="'add' node"):
        graph.check(x + 2.0)
    with pytest.raises(ShapeError, match="the leaf 'y', it was the leaf 'x'"):
        graph.check(Value(1.0, "y") * 2.0)


def test_check_tells_apart_graphs_that_differ_only_in_which_variable():
    # Found by hypothesis: -x0 + -x1 and -x3 + -x1 have one shape; replaying the first with the
    # second's data (by label) would silently compute the wrong function.
    xs = [Value(0.0, f"x{i}") for i in range(4)]
    graph = compile_graph(-xs[0] + -xs[1])
    ys = [Value(1.0, f"x{i}") for i in range(4)]
    with pytest.raises(ShapeError, match="the leaf 'x3', it was the leaf 'x0'"):
        graph.check(-ys[3] + -ys[1])
    graph.check(-ys[0] + -ys[1])


def test_labels_never_enter_the_generated_code():
    x = Value(1.0, "__import__('os').system('echo hi')")
    graph = compile_graph((x * 2.0).tanh())
    assert "import" not in graph.source and "v0 = L0.data" in graph.source


# ------------------------------------------------------------------------------ domain errors


def eager_error(build, value):
    with pytest.raises((ValueError, ZeroDivisionError, OverflowError)) as raised:
        root = build(Value(value))
        root.backward()
    return type(raised.value), str(raised.value)


@pytest.mark.parametrize("build, good, bad", [
    (lambda x: x.log(), 2.0, -1.0),
    (lambda x: x.log(), 2.0, 0.0),
    (lambda x: 1.0 / x, 2.0, 0.0),
    (lambda x: (x * 1.0).exp(), 1.0, 1000.0),
    (lambda x: x * 1e300, 1.0, 1e10),
    (lambda x: x + 1.7e308, -1.0, 1e308),
    (lambda x: x ** 0.5, 4.0, -4.0),
    (lambda x: x ** 0.5, 4.0, 0.0),  # the derivative is infinite at 0
    (lambda x: x ** -1.0, 4.0, 0.0),
    (lambda x: x ** 2.0, 4.0, 1e200),
    (lambda x: x ** Value(0.5), 4.0, -4.0),
    (lambda x: Value(2.0) ** x, 4.0, 5000.0),
    (lambda x: (x / 1e-300).sigmoid(), 1.0, 1e10),  # the overflow is hidden by a later op
    (lambda x: ((x * 1e300) ** 3.0 * 2.0).sigmoid(), 1e-300, 1e10),  # inf through ** to a check
    (lambda x: ((x * 1e300) ** -1.0).tanh(), 1.0, 1e10),  # inf ** -1 is 0.0: checked before
])
def test_domain_errors_are_the_eager_ones(build, good, bad):
    kind, message = eager_error(build, bad)
    x = Value(good, "x")
    graph = compile_graph(build(x), [x])
    for replay in (graph.forward, graph.forward_backward):
        with pytest.raises(kind) as raised:
            replay([bad])
        assert str(raised.value) == message
    x.data = bad  # as an SGD update would
    with pytest.raises(kind, match=re_escape(message)):
        graph.forward_backward()


def re_escape(text: str) -> str:
    import re
    return re.escape(text)


def test_sgd_steps_that_overflow_stop_where_eager_does():
    def run(fused):
        w = Value(1.0, "w")
        loss = (w * 3.0).exp()
        graph = compile_graph(loss, [w])
        losses = []
        with pytest.raises(OverflowError) as raised:
            if fused:
                graph.sgd_steps(100, -1.0)
            else:
                while True:
                    w.grad = 0.0
                    losses.append(graph.forward_backward())
                    w.data -= -1.0 * w.grad
        return w.data, str(raised.value)
    assert run(True) == run(False)


# ------------------------------------------------- never a silent inf or nan, limits that hold


def test_the_replay_raises_the_eager_overflow_errors_of_backward():
    z = Value(-1.0, "z")
    graph = compile_graph(1 / (z.relu() + 1e-200), [z])  # d out/d(relu(z) + 1e-200) = -1e400
    with pytest.raises(OverflowError, match=r"backward: overflow, the local derivative d out/d b of "
                                            r"div\(1\.0, 1e-200\) is -inf"):
        graph.forward_backward()
    x = Value(1e-103, "x")
    with pytest.raises(OverflowError, match=r"d out/d a of powc\(1e-103\) is -inf"):
        compile_graph(x ** -2, [x]).forward_backward()
    x = Value(1.5e308, "x")
    y = Value(1e-300, "y")
    with pytest.raises(OverflowError, match="overflow"):  # two finite terms whose sum is inf
        compile_graph(x * y + x * y, [x, y]).forward_backward()
    assert math.isfinite(y.grad)
    z = Value(-1.0, "z")
    c = Value(1.0, "c")
    graph = compile_graph(1 / (z.relu() + 1e-200) + c, [z, c])
    for params in ([z], [c], None):  # a trained leaf's gradient, or another leaf's, is not finite
        with pytest.raises(OverflowError, match=r"backward: overflow.*div\(1\.0, 1e-200\)"):
            graph.sgd_steps(2, 0.1, params)
        assert (z.data, c.data) == (-1.0, 1.0)


def test_a_zero_slope_before_an_infinite_derivative_gives_zero_in_the_replay():
    x = Value(1e-200, "x")
    graph = compile_graph((1 / x) ** 0, [x])
    assert graph.forward_backward() == 1.0 and graph.gradients() == [0.0] == grad((1 / x) ** 0, [x])


def test_sgd_steps_with_a_learning_rate_too_large_stops_with_a_clear_error():
    w = Value(0.5, "w")
    graph = compile_graph((w * 3.0 - 1.0) ** 2, [w])  # d/dw = 6 (3w - 1) = 3 at w = 0.5
    with pytest.raises(OverflowError, match="'w'.*the learning rate is too large"):
        graph.sgd_steps(3, 1e308)  # 0.5 - 3e308 is -inf
    assert w.data == 0.5  # the step that would make it infinite changed nothing


@pytest.mark.parametrize("value", [10**400, -(10**309)])
def test_huge_integers_are_a_shape_error(value):
    x = Value(1.0, "x")
    graph = compile_graph(x * 2.0, [x])
    for call in (graph.forward, graph.forward_backward):
        with pytest.raises(ShapeError, match="the value for 'x' must be finite.*too large for a float"):
            call([value])
        with pytest.raises(ShapeError, match="must be finite"):
            call({"x": value})
    assert graph.forward([Fraction(1, 4)]) == 0.5  # any real number type


def test_a_graph_past_the_documented_size_is_refused_clearly(monkeypatch):
    monkeypatch.setattr(compiled, "MAX_NODES", 10)
    x = Value(1.0, "x")
    y = x
    for _ in range(5):
        y = y * 1.5  # 6 nodes + 5 constants = 11
    with pytest.raises(ValueError, match="the graph has 11 nodes, more than the replay takes \\(10\\)"):
        compile_graph(y)
    assert compile_graph(x * 1.5).n_nodes == 3


def test_compile_memory_per_node_stays_under_the_documented_bound():
    # the bound MAX_NODES rests on: at most 30 KB a node at the peak (building and compiling the code)
    x = Value(0.5, "x")
    y = x
    for i in range(2_000):
        y = (y * 0.999 + x).tanh() if i % 3 == 0 else y * 1.0001 + 0.01
    tracemalloc.start()
    try:
        graph = compile_graph(y, [x])
        graph.forward_backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / graph.n_nodes < 30_000, peak / graph.n_nodes
