"""walk.backward_steps: backward()'s loop step by step, against a hand derivation and backward()."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, trees

from micrograd_bp import Value, linear, topological_order
from micrograd_bp.walk import Add, backward_steps


def test_the_steps_of_a_small_graph_by_hand():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    ab = a * b
    f = ab + a  # df/da = b + 1 = 4, df/db = a = 2
    steps = list(backward_steps(f))
    assert [(s.node, s.upstream) for s in steps] == [(f, 1.0), (ab, 1.0)]
    assert steps[0].adds == (Add(ab, 1.0, 1.0, 0.0, 1.0), Add(a, 1.0, 1.0, 0.0, 1.0))
    assert steps[1].adds == (Add(a, 3.0, 3.0, 1.0, 4.0), Add(b, 2.0, 2.0, 0.0, 2.0))
    assert a.grad == 0.0 and b.grad == 0.0 and f.grad == 0.0  # the walk touches no .grad


def test_a_zero_upstream_is_a_skipped_step_and_leaves_start_from_their_grad():
    z = Value(-1.0, "z")
    r = (z * 3.0).relu()  # off: its input gets exactly 0
    out = r + z
    z.grad = 0.5  # from an earlier pass: backward() adds to it
    steps = {s.node: s for s in backward_steps(out)}
    assert steps[r.inputs[0]].skipped and steps[r.inputs[0]].adds == ()
    assert steps[out].adds[1] == Add(z, 1.0, 1.0, 0.5, 1.5)
    assert list(backward_steps(z)) == []  # a leaf root: no steps (backward() adds 1 to its grad)


def exact(x: float) -> str:
    return struct.pack("<d", x).hex()


def walked_grads(root: Value) -> list[str]:
    """Each node's gradient after the walk: its last `after`, else where the walk starts it."""
    order = topological_order(root)
    grads = {node: 0.0 if node.op is not None else node.grad for node in order}
    grads[root] += 1.0
    for step in backward_steps(root, order):
        for add in step.adds:
            grads[add.target] = add.after
    return [exact(grads[node]) for node in order]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees(), point=st.tuples(*[st.floats(-2, 2) for _ in VARIABLES]), earlier=st.floats(-3, 3))
def test_the_walk_is_backward_bit_for_bit_on_both_layers(layer, tree, point, earlier):
    env = {name: Value(v, name) for name, v in zip(VARIABLES, point)}
    try:
        h = build(tree, env, "engine")
        root = h * h + linear([h, env["x"]], [env["y"], h], 0.5).tanh() + h
    except (ArithmeticError, ValueError):
        return
    env["x"].grad = earlier  # leaves accumulate
    walked = walked_grads(root)
    root.backward()
    assert walked == [exact(node.grad) for node in topological_order(root)]


def test_a_gradient_past_the_float_range_stops_the_walk_as_it_stops_backward():
    x, y = Value(1e-300, "x"), Value(1e300, "y")
    out = x * y * y  # d/dx = 1e600
    with pytest.raises(OverflowError) as walking:
        list(backward_steps(out))
    with pytest.raises(OverflowError) as running:
        out.backward()
    assert str(walking.value) == str(running.value) and str(walking.value).startswith("backward: overflow")
    assert math.isfinite(x.grad)


def test_a_ledger_that_overflows_leaves_the_grads_as_backward_leaves_them():
    from micrograd_bp.trace import trace_backward

    def graph() -> tuple[Value, Value, Value]:
        x, y = Value(1e-300, "x"), Value(1e300, "y")
        return x * y * y + y, x, y  # y gets 1 from the +, 1 from the outer *; then d/dx = 1e600
    out, x, y = graph()
    with pytest.raises(OverflowError) as tracing:
        trace_backward(out)
    traced = (x.grad, y.grad)
    out, x, y = graph()
    with pytest.raises(OverflowError) as running:
        out.backward()
    assert str(tracing.value) == str(running.value) and traced == (x.grad, y.grad) == (0.0, 2.0)
