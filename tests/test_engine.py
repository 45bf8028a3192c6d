"""Value, backward() and grad() against hand derivations, finite differences and sympy."""

from __future__ import annotations

import math
import numbers
import sys
import threading
from decimal import Decimal
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, central_difference, close, trees

from micrograd_bp import OPS, Value, engine, fast, grad, topological_order
from micrograd_bp.engine import finite_float, is_finite_real, linear
from micrograd_bp.ops import Op

# ----------------------------------------------------------------------------- construction


@pytest.mark.parametrize("bad", ["1.0", None, True, [1.0], 1j])
def test_value_rejects_non_numbers_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_value_rejects_non_finite_data(bad):
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_int_data_is_stored_as_float():
    v = Value(3)
    assert v.data == 3.0 and isinstance(v.data, float)


def test_arithmetic_with_strings_is_a_type_error():
    with pytest.raises(TypeError):
        Value(1.0) + "2"
    with pytest.raises(TypeError, match="bool"):
        Value(1.0) * True


def test_repr_shows_label_data_and_grad():
    w = Value(0.4, "w5")
    w.grad = 0.25
    assert repr(w) == "Value('w5', data=0.4, grad=0.25)"


def test_values_hash_by_identity():
    a, b = Value(1.0), Value(1.0)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert a != b and a == a


# ------------------------------------------------------------------ mixed arithmetic, by hand


def test_mixed_arithmetic_on_both_sides():
    x = Value(2.0, "x")
    cases = {  # expression: (value, d/dx), derived by hand at x = 2
        "2 * x": (2 * x, 4.0, 2.0),
        "x * 2": (x * 2, 4.0, 2.0),
        "1 - x": (1 - x, -1.0, -1.0),
        "x - 1": (x - 1, 1.0, 1.0),
        "x / 4": (x / 4, 0.5, 0.25),
        "3 / x": (3 / x, 1.5, -0.75),
        "5 + x": (5 + x, 7.0, 1.0),
        "-x": (-x, -2.0, -1.0),
        "x ** 3": (x**3, 8.0, 12.0),
        "2 ** x": (2**x, 4.0, 4.0 * math.log(2)),
        "x ** x": (x**x, 4.0, 4.0 * (math.log(2) + 1)),
    }
    for text, (out, value, derivative) in cases.items():
        assert close(out.data, value), text
        (d,) = grad(out, [x])
        assert close(d, derivative), text


# ------------------------------------------------------------------------- every op vs FD

# Each op of the table with a domain to sample from (away from relu's kink and pow's edge).
OP_DOMAINS = {
    "add": [(-5, 5), (-5, 5)],
    "sub": [(-5, 5), (-5, 5)],
    "mul": [(-5, 5), (-5, 5)],
    "div": [(-5, 5), (0.2, 5)],
    "neg": [(-5, 5)],
    "pow": [(0.1, 4), (-3, 3)],
    "exp": [(-20, 20)],
    "log": [(0.01, 100)],
    "tanh": [(-5, 5)],
    "sigmoid": [(-30, 30)],
    "relu": [(-5, 5)],
    "step": [(-5, 5)],
    "linear": [(-3, 3)] * 5,
    "sin": [(-6, 6)],
    "cos": [(-6, 6)],
    "abs": [(-5, 5)],
    "sqrt": [(0.01, 100)],
    "max": [(-5, 5), (-5, 5)],
    "min": [(-5, 5), (-5, 5)],
}
KINKS = {"relu": lambda x: abs(x[0]), "step": lambda x: abs(x[0]), "abs": lambda x: abs(x[0]),
         "max": lambda x: abs(x[0] - x[1]), "min": lambda x: abs(x[0] - x[1])}


def test_every_op_of_the_table_has_a_domain_here():
    assert set(OP_DOMAINS) == set(OPS)


@pytest.mark.parametrize("name", sorted(OP_DOMAINS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_op_partials_match_central_differences(name, data):
    op = OPS[name]
    xs = [data.draw(st.floats(lo, hi, allow_nan=False)) for lo, hi in OP_DOMAINS[name]]
    if name in KINKS and KINKS[name](xs) < 1e-3:
        return  # the kink: no derivative there (its conventions are tested in test_ops)
    out = Value.apply(op, *[Value(x) for x in xs])
    for i, local in enumerate(out.local_grads):
        def f(t, i=i):
            args = list(xs)
            args[i] = t
            return op.forward(*args)
        assert close(local, central_difference(f, xs[i]), rtol=1e-5, atol=1e-6), (name, xs, i)


@pytest.mark.parametrize("exponent", [2, 3, -1, 0.5, -2.5, 0])
@settings(max_examples=30, deadline=None)
@given(x=st.floats(0.1, 5))
def test_number_power_matches_central_differences(exponent, x):
    v = Value(x)
    (d,) = grad(v**exponent, [v])
    assert close(d, central_difference(lambda t: t**exponent, x), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------- composites vs sympy


@settings(max_examples=150, deadline=None)
@given(tree=trees(), point=st.tuples(*[st.floats(-2, 2) for _ in VARIABLES]))
def test_random_expressions_match_sympy_derivatives(tree, point):
    symbols = {n: sympy.Symbol(n) for n in VARIABLES}
    leaves = {n: Value(p, n) for n, p in zip(VARIABLES, point)}
    expression = build(tree, symbols, "sympy")
    out = build(tree, leaves, "engine")
    if not isinstance(out, Value):
        return  # a bare variable name: nothing was computed
    at = {symbols[n]: p for n, p in zip(VARIABLES, point)}
    assert close(out.data, float(expression.subs(at)), rtol=1e-9, atol=1e-9)
    out.backward()
    for n in VARIABLES:
        exact = float(sympy.diff(expression, symbols[n]).subs(at))
        assert close(leaves[n].grad, exact, rtol=1e-7, atol=1e-9), n


# ------------------------------------------------------------------- gradient semantics


def test_leaves_accumulate_across_backward_calls():
    x = Value(1.0, "x")
    z = (x * 2) * 3
    z.backward()
    z.backward()
    assert x.grad == 12.0


def test_interior_nodes_hold_the_last_pass():
    x = Value(1.0, "x")
    y = x * 2
    z = y * 3
    z.backward()
    z.backward()
    assert y.grad == 3.0 and z.grad == 1.0


def test_zero_grad_resets_the_graph():
    x = Value(1.5)
    z = x * x
    z.backward()
    z.zero_grad()
    assert x.grad == 0.0 and z.grad == 0.0
    z.backward()
    assert x.grad == 3.0


def test_grad_function_leaves_dot_grad_alone():
    x = Value(3.0)
    (d,) = grad(x * x, [x])
    assert d == 6.0 and x.grad == 0.0


def test_input_not_in_graph_has_zero_partial():
    x, unused = Value(1.0), Value(2.0)
    assert grad(x * 3, [x, unused]) == [3.0, 0.0]


def test_shared_subexpressions_count_every_edge():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    a.grad = 0.0
    b = a * a  # diamond: c depends on b twice, b on a twice
    c = b + b
    c.backward()
    assert a.grad == 4 * 3.0  # d(2a^2)/da


def test_topological_order_puts_inputs_first_and_is_deterministic():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    out = (x * y + x).exp()
    order = topological_order(out)
    position = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is out and len(order) == len({id(n) for n in order})
    for node in order:
        for parent in node.inputs:
            assert position[id(parent)] < position[id(node)]
    assert [n.label or n.op.name for n in order] == [n.label or n.op.name for n in topological_order(out)]


def test_a_million_node_chain_backpropagates_without_recursion():
    x = Value(0.5, "x")
    node = x
    for _ in range(1_000_000):
        node = node + 1.0
    node.backward()
    assert x.grad == 1.0
    assert node.data == 1_000_000.5
    del node  # freeing a deep chain must not overflow the C stack either


def test_a_node_keeps_its_inputs_and_their_local_derivatives():
    a, b = Value(2.0), Value(3.0)
    out = a * b
    assert out.inputs == (a, b) and out.local_grads == (3.0, 2.0)
    assert out.edges == (a, b, 3.0, 2.0)  # the one-tuple layout of earlier versions, still readable
    assert (-a).edges == (a, -1.0) and a.edges == () and a.inputs == () and a.local_grads == ()
    bad = Op("bad", 2, lambda x, y: x + y, lambda x, y, out: (1.0,))
    with pytest.raises(ValueError, match="bad: partials gave 1 local derivatives for 2 inputs"):
        Value.apply(bad, a, b)

def test_linear_node_is_the_weighted_sum_with_partials_on_every_edge():
    w1, x1, w2, x2, b = (Value(v) for v in (0.15, 0.05, 0.2, 0.1, 0.35))
    net = linear([w1, w2], [x1, x2], b)
    assert close(net.data, 0.3775)  # Mazur's net_h1
    assert net.local_grads == (0.05, 0.15, 0.1, 0.2, 1.0)
    with pytest.raises(ValueError, match="2 weights for 1 inputs"):
        linear([w1, w2], [x1])


def textbook_backward(root: Value) -> None:
    """backward() as first written: the full topological order, reversed, edge by edge."""
    order = topological_order(root)
    for node in order:
        if node.op is not None:
            node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        if node.grad != 0.0:
            for parent, local in zip(node.inputs, node.local_grads):
                parent.grad += local * node.grad


def shared_graph(tree, point):
    """A random expression, then reused: h*h + tanh(h) + h (interior nodes with several consumers)."""
    env = {name: Value(v, name) for name, v in zip(VARIABLES, point)}
    h = build(tree, env, "engine")
    return h * h + h.tanh() + h


@settings(max_examples=100, deadline=None)
@given(tree=trees(), point=st.tuples(*[st.floats(-2, 2) for _ in VARIABLES]))
def test_backward_adds_in_the_textbook_order_bit_for_bit(tree, point):
    try:
        fast, slow = shared_graph(tree, point), shared_graph(tree, point)
    except (OverflowError, ZeroDivisionError, ValueError):
        return
    fast.backward()
    textbook_backward(slow)
    assert [n.grad for n in topological_order(fast)] == [n.grad for n in topological_order(slow)]


def test_backward_again_from_inside_a_graph_and_from_an_overlapping_one():
    x = Value(0.5, "x")
    a = x * x
    b = a.tanh()
    b.backward()
    assert close(x.grad, (1 - math.tanh(0.25) ** 2) * 1.0)
    x.grad = 0.0
    a.backward()  # a's grad was set by the first pass: this pass starts afresh from a
    assert x.grad == 1.0 and a.grad == 1.0
    c = a + b  # shares a and b with the graph above
    x.grad = 0.0
    c.backward()
    assert close(x.grad, 1.0 + (1 - math.tanh(0.25) ** 2)) and b.grad == 1.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=41))
def test_linear_adds_left_to_right_from_the_bias(xs):
    total = xs[-1] if len(xs) % 2 else 0.0
    for i in range(0, len(xs) - 1, 2):
        total += xs[i] * xs[i + 1]
    assert OPS["linear"].forward(*xs) == total
    swapped = [p for i in range(0, len(xs) - 1, 2) for p in (xs[i + 1], xs[i])] + [1.0] * (len(xs) % 2)
    assert OPS["linear"].partials(*xs, total) == tuple(swapped)


def test_a_number_exponent_builds_its_op_once():
    x, y = Value(1.5), Value(-2.0)
    assert (x ** 2).op is (y ** 2.0).op and (x ** 3).op is not (x ** 2).op
    assert (x ** 2).op.symbol == "**2" and (x ** 0.5).op.symbol == "**0.5"


# ---------------------------------------------------------------- higher-order derivatives


def test_second_derivative_of_cube():
    x = Value(2.0)
    (dx,) = grad(x**3, [x], create_graph=True)
    (d2x,) = grad(dx, [x])
    assert dx.data == 12.0 and d2x == 12.0


@pytest.mark.parametrize("name, second", [
    ("sigmoid", lambda s, x: s * (1 - s) * (1 - 2 * s)),
    ("tanh", lambda t, x: -2 * t * (1 - t * t)),
    ("exp", lambda e, x: e),
    ("log", lambda _, x: -1 / x**2),
])
@pytest.mark.parametrize("x0", [-1.3, 0.4, 2.0])
def test_second_derivatives_by_hand(name, second, x0):
    if name == "log" and x0 <= 0:
        x0 = -x0
    x = Value(x0)
    y = getattr(x, name)()
    (dx,) = grad(y, [x], create_graph=True)
    (d2x,) = grad(dx, [x])
    assert close(d2x, second(y.data, x0), rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(tree=trees(max_leaves=5), point=st.tuples(*[st.floats(-1.5, 1.5) for _ in VARIABLES]))
def test_second_derivatives_match_sympy(tree, point):
    symbols = {n: sympy.Symbol(n) for n in VARIABLES}
    leaves = {n: Value(p, n) for n, p in zip(VARIABLES, point)}
    out = build(tree, leaves, "engine")
    if not isinstance(out, Value):
        return
    first = grad(out, [leaves["x"]], create_graph=True)[0]
    second = grad(first, [leaves["x"], leaves["y"]])
    expression = build(tree, symbols, "sympy")
    at = {symbols[n]: p for n, p in zip(VARIABLES, point)}
    for value, wrt in zip(second, ("x", "y")):
        exact = float(sympy.diff(expression, symbols["x"], symbols[wrt]).subs(at))
        assert close(value, exact, rtol=1e-6, atol=1e-8), wrt


# ----------------------------------------------------------------- out-of-domain errors


@pytest.mark.parametrize("make, error, words", [
    (lambda: Value(0.0).log(), ValueError, ["log", "0.0"]),
    (lambda: Value(-2.0).log(), ValueError, ["log", "-2.0"]),
    (lambda: Value(1.0) / 0, ZeroDivisionError, ["div", "zero"]),
    (lambda: 1 / Value(0.0), ZeroDivisionError, ["div", "zero"]),
    (lambda: Value(0.0) ** -1, ZeroDivisionError, ["pow", "negative"]),
    (lambda: Value(1000.0).exp(), OverflowError, ["exp", "1000.0"]),
    (lambda: Value(1e200) * Value(1e200), OverflowError, ["mul", "1e+200"]),
    (lambda: Value(-8.0) ** (1 / 3), ValueError, ["pow", "-8.0"]),
    (lambda: Value(-2.0) ** Value(2.0), ValueError, ["pow", "positive base"]),
    (lambda: Value(0.0) ** 0.5, ZeroDivisionError, ["infinite"]),
])
def test_out_of_domain_input_raises_a_named_error(make, error, words):
    with pytest.raises(error) as caught:
        make()
    for word in words:
        assert word in str(caught.value)


def test_sigmoid_is_stable_at_the_extremes():
    low, high = Value(-1000.0).sigmoid(), Value(1000.0).sigmoid()
    assert low.data == 0.0 and high.data == 1.0
    assert low.local_grads == (0.0,) and high.local_grads == (0.0,)


def test_sigmoid_symmetry_law():
    for x in (-30.0, -2.5, 0.0, 0.7, 12.0):
        assert close(Value(-x).sigmoid().data, 1 - Value(x).sigmoid().data, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------- numbers the engine takes


class RealLike:
    """A real number type that is not a float subclass (as numpy.float32 is): numbers.Real by
    registration, read through float()."""

    def __init__(self, x: float) -> None:
        self.x = x

    def __float__(self) -> float:
        return self.x


class IntegralLike:
    """An integer type that is not an int subclass (as numpy.int64 is): read through __index__."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __index__(self) -> int:
        return self.n

    def __float__(self) -> float:  # deliberately wrong: the engine must read __index__
        return -1.0


numbers.Real.register(RealLike)
numbers.Integral.register(IntegralLike)


def test_any_real_number_type_is_accepted_as_data_constant_and_exponent():
    assert Value(RealLike(2.5)).data == 2.5 and type(Value(RealLike(2.5)).data) is float
    assert Value(IntegralLike(2)).data == 2.0
    assert Value(Fraction(5, 2)).data == 2.5
    x = Value(3.0)
    assert (x * RealLike(0.5)).data == 1.5 and (Fraction(1, 4) + x).data == 3.25
    assert (x ** IntegralLike(2)).data == 9.0 and (x ** IntegralLike(2)).op.exponent == 2.0
    assert finite_float(IntegralLike(7)) == 7.0 and finite_float(10**20) == 1e20


@pytest.mark.parametrize("bad, error, words", [
    (True, TypeError, ["bool"]), ("2", TypeError, ["str"]), (None, TypeError, ["NoneType"]),
    (1j, TypeError, ["complex"]), (Decimal("1.5"), TypeError, ["Decimal"]),
    (float("nan"), ValueError, ["finite", "nan"]), (-math.inf, ValueError, ["finite", "-inf"]),
    (10**400, ValueError, ["finite", "1329 bits"]), (RealLike(math.inf), ValueError, ["finite"]),
])
def test_finite_float_is_the_one_check_of_a_number(bad, error, words):
    assert not is_finite_real(bad)
    for check in (finite_float, Value):
        with pytest.raises(error) as caught:
            check(bad)
        assert all(word in str(caught.value) for word in words), str(caught.value)
    assert is_finite_real(Fraction(1, 3)) and is_finite_real(-0.0) and is_finite_real(RealLike(1.0))


def test_a_label_must_be_a_string():
    with pytest.raises(TypeError, match="label must be a str, got int: 3"):
        Value(2, 3)
    assert Value(2, "x").label == "x"


def test_grad_explains_a_misuse():
    x = Value(2.0)
    with pytest.raises(TypeError, match=r"grad\(y, \[x\]\)"):
        grad(x * x, x)
    with pytest.raises(TypeError, match="output must be a Value, got float"):
        grad(3.0, [x])


# ------------------------------------------------------------------- no trace of a pass


def test_every_grad_is_a_plain_float_after_backward():
    y = Value(0.5)
    s = y * y
    out = (s.exp() * 0.0) + y  # s: nothing reaches it (its consumer's upstream is zero)
    out.backward()
    assert type(s.grad) is float and s.grad == 0.0
    assert all(type(n.grad) is float for n in topological_order(out))
    z = Value(-1.0)
    masked = (z * 3.0).relu() + z  # relu off: its input gets exactly 0.0
    masked.backward()
    assert [type(n.grad) for n in topological_order(masked)] == [float] * 5
    assert z.grad == 1.0


def old_topological_order(root: Value) -> list[Value]:
    """The first implementation (a set of id()s, (node, flag) pairs): the oracle of the order."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.inputs):
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


@settings(max_examples=100, deadline=None)
@given(tree=trees(), point=st.tuples(*[st.floats(-2, 2) for _ in VARIABLES]))
def test_topological_order_is_the_first_implementations_order(tree, point):
    try:
        root = shared_graph(tree, point)
        wide = linear([root, root, Value(2.0)], [Value(1.0), root, root], root)  # many inputs
        wide.backward()
    except (OverflowError, ZeroDivisionError, ValueError):
        return
    wide.edges[1].grad = -0.0  # a leaf's -0.0 must come back with its sign
    for r in (root, wide):
        before = [(n.grad, n.grad.__class__, math.copysign(1.0, n.grad)) for n in old_topological_order(r)]
        assert [id(n) for n in topological_order(r)] == [id(n) for n in old_topological_order(r)]
        after = [(n.grad, n.grad.__class__, math.copysign(1.0, n.grad)) for n in old_topological_order(r)]
        assert after == before  # the walk's marks, kept in the grads, are all put back


def test_a_failed_pass_leaves_plain_floats_and_the_lock_free():
    z = Value(-1.0, "z")
    out = 1 / (z.relu() + 1e-200)
    with pytest.raises(OverflowError):
        out.backward()
    assert all(type(n.grad) is float for n in topological_order(out))
    (out * 0.0 + z).backward()  # the next pass runs (the lock was released)
    assert z.grad == 1.0


# ------------------------------------------------------------------- threads


def wide_shared_graph(n: int) -> tuple[Value, Value, list[Value]]:
    """Two roots over a long shared interior chain: backward() from both at once used to collide."""
    x = Value(0.5, "x")
    h = x
    for i in range(n):
        h = (h * 1.0001 + 0.001).tanh() if i % 2 else h * 0.9999 + x
    return h * 2.0, h * 3.0, [x]


def run_switching_often(threads: list[threading.Thread]) -> None:
    """Start and join the threads, the interpreter switching between them every 10 microseconds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)


def test_backward_from_several_threads_on_shared_nodes_gives_every_pass_whole():
    first, second, (x,) = wide_shared_graph(3_000)
    first.backward()
    once_first = x.grad
    x.grad = 0.0
    second.backward()
    once_second = x.grad
    x.grad = 0.0
    rounds = 4
    threads = [threading.Thread(target=lambda r=r: [r.backward() for _ in range(rounds)])
               for r in (first, second) for _ in range(2)]
    run_switching_often(threads)
    expected = 2 * rounds * (once_first + once_second)
    assert close(x.grad, expected, rtol=1e-12, atol=0)
    assert all(type(n.grad) is float for n in topological_order(first))


def test_grad_is_thread_safe():
    first, second, (x,) = wide_shared_graph(2_000)
    alone = [grad(first, [x])[0], grad(second, [x])[0]]
    results: list[list[float]] = []

    def work():
        results.append([grad(r, [x])[0] for r in (first, second) for _ in range(3)])
    run_switching_often([threading.Thread(target=work) for _ in range(4)])
    assert results == [[alone[0]] * 3 + [alone[1]] * 3] * 4
    assert x.grad == 0.0


# ------------------------------------------------- never a silent inf or nan (the edges of the range)


def both_passes(out: Value, wrt: list[Value]) -> tuple[list[float], list[float]]:
    """(backward()'s grads, grad()'s floats) for the leaves wrt, from zeroed grads."""
    for x in wrt:
        x.grad = 0.0
    out.backward()
    return [x.grad for x in wrt], grad(out, wrt)


def test_second_derivative_of_y_log_y_at_the_edge_of_the_range():
    # y = e^x, f = y log y = x e^x: f'' = (x + 2) e^x, exactly 416 e^414 = 2.6122e182 at x = 414.
    # log's partial 1/y (3.7e-180) met an upstream of y^2 (past the range): inf * -0.0 was nan.
    x = Value(414.0)
    y = x.exp()
    (g,) = grad(y * y.log(), [x], create_graph=True)
    (second,) = grad(g, [x])
    assert close(g.data, 415 * math.exp(414), rtol=1e-14, atol=0)
    assert close(second, 416 * math.exp(414), rtol=1e-14, atol=0)


def test_a_zero_slope_stays_zero_before_an_infinite_derivative():
    x = Value(1e-206)  # log x = -474: relu is off; d(1/x)/dx = -1e412 is past the range
    (g,) = grad(x.log().relu(), [x], create_graph=True)
    assert g.data == 0.0 and grad(g, [x]) == [0.0]
    x = Value(1e-200)
    out = (1 / x) ** 0  # d/dx = 0 * (-1e400): exactly 0, as PyTorch gives
    assert both_passes(out, [x]) == ([0.0], [0.0])
    assert grad(out, [x], create_graph=True)[0].data == 0.0


def test_an_infinite_local_derivative_that_carries_a_gradient_is_an_overflow_error():
    z = Value(-1.0, "z")
    out = 1 / (z.relu() + 1e-200)  # built fine: out is 1e200; d out/d(relu(z) + 1e-200) is -1e400
    assert out.data == 1e200 and out.local_grads[1] == -math.inf
    for run, where in ((out.backward, "backward"), (lambda: grad(out, [z]), "grad")):
        with pytest.raises(OverflowError) as caught:
            run()
        message = str(caught.value)
        assert message.startswith(f"{where}: overflow") and "div(1.0, 1e-200)" in message, message
        assert "-inf" in message and "d out/d b" in message
    assert z.grad == 0.0 and math.isfinite(out.grad)


@pytest.mark.parametrize("make, at", [
    (lambda x, y: x * y * y, (1e-300, 1e300)),  # (1e-300 * 1e300) * 1e300: d/dx = 1e600
    (lambda x, y: 1 / x - 1 / x, (1e-200, 1.0)),  # -inf + inf was nan
    (lambda x, y: x * y + x * y, (1.5e308, 1e-300)),  # d/dy: two terms of 1.5e308, their sum inf
])
def test_a_gradient_that_leaves_the_float_range_is_an_overflow_error_never_inf_or_nan(make, at):
    x, y = Value(at[0], "x"), Value(at[1], "y")
    out = make(x, y)
    with pytest.raises(OverflowError, match="overflow"):
        out.backward()
    assert all(math.isfinite(n.grad) and type(n.grad) is float for n in topological_order(out))
    with pytest.raises(OverflowError, match="overflow"):
        grad(out, [x, y])


def test_a_power_whose_derivative_overflows_builds_and_complains_only_when_used():
    y = Value(1e-160) ** -1  # 1e160; its derivative -1e320 is past the range: stored as -inf
    assert y.data == 1e160 and y.local_grads == (-math.inf,)
    x = Value(1e-103)
    sq = x ** -2  # 1e206; d/dx = -2e309
    assert sq.local_grads == (-math.inf,) and (Value(-1e-103) ** -2).local_grads == (math.inf,)
    with pytest.raises(OverflowError, match=r"overflow, the local derivative d out/d a of powc\(1e-103\)"):
        grad(sq, [x])
    assert grad(sq * 0.0, [x]) == [0.0]  # no gradient reaches it: no complaint
    with pytest.raises(OverflowError, match="overflow"):
        grad(Value(1e-103) ** Value(-2.0), [x])  # a Value exponent: the same partial, the same error
    assert (Value(2.0) ** Value(3.0)).local_grads[0] == 12.0


# ------------------------------------------------------------------- the generated builders


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=80))
def test_linear_nodes_of_every_width_are_built_as_the_op_record_says(xs):
    values = [Value(x) for x in xs]
    weights, inputs = values[0:len(values) // 2 * 2:2], values[1:len(values) // 2 * 2:2]
    bias = values[-1] if len(values) % 2 else None
    node = linear(weights, inputs, bias)
    args = [*(p for pair in zip(weights, inputs) for p in pair), *([bias] if bias is not None else [])]
    data = [a.data for a in args]
    out = OPS["linear"].forward(*data)
    assert node.data == out and node.inputs == tuple(args)
    assert node.local_grads == OPS["linear"].partials(*data, out)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "tanh",
                                  "sigmoid", "relu"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_operators_build_what_the_op_record_computes_bit_for_bit(name, data):
    op = OPS[name]
    xs = [data.draw(st.floats(-50, 50, allow_nan=False)) for _ in range(op.arity)]
    try:
        out = op.forward(*xs)
        expected = op.partials(*xs, out)
        failure = None
    except (ArithmeticError, ValueError) as error:
        failure = type(error)
    values = [Value(x) for x in xs]
    operators = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                 "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a}
    build = operators.get(name) or getattr(Value, name)
    if failure is not None or not math.isfinite(out):
        with pytest.raises((ArithmeticError, ValueError)):
            build(*values)
        return
    node = build(*values)
    assert node.op is op and node.data == out and node.local_grads == expected
    assert [math.copysign(1, g) for g in node.local_grads] == [math.copysign(1, g) for g in expected]


def test_a_pass_started_during_another_waits_for_it(monkeypatch, layer):
    """The worst interleaving, forced: a second backward() from another thread starts while the
    first is between its traversal and its loop. It must wait (else its marks and sums would be
    mixed into the first pass's). On both layers: the fast one's traversal, the plain one's order."""
    first, second, (x,) = wide_shared_graph(200)
    first.backward()
    alone_first = x.grad
    x.grad = 0.0
    second.backward()
    alone_second = x.grad
    x.grad = 0.0
    module, name = (fast, "_interior_order") if layer == "fast" else (engine, "topological_order")
    traverse = getattr(module, name)
    others: list[threading.Thread] = []

    def traverse_then_let_another_pass_run(root: Value) -> list[Value]:
        order = traverse(root)
        if not others:
            other = threading.Thread(target=second.backward)
            others.append(other)
            other.start()
            other.join(timeout=0.3)  # with the lock it cannot finish now: it waits for this pass
        return order
    monkeypatch.setattr(module, name, traverse_then_let_another_pass_run)
    first.backward()
    others[0].join()
    assert close(x.grad, alone_first + alone_second, rtol=1e-12, atol=0)
    assert first.grad == 1.0 and second.grad == 1.0
