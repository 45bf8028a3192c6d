"""The batch replay against the eager engine: the same losses and gradients, the same errors."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from micrograd_bp import Value, linear, register_op, unregister_op
from micrograd_bp.batch import BatchReplay, compile_batch
from micrograd_bp.examples import mazur
from micrograd_bp.examples.moons import make_moons, max_margin_loss, moons_model, rows, sample_loss
from micrograd_bp.nn import MLP, half_squared_error
from micrograd_bp.ops import ArrayForm, Op

RTOL = 1e-12


def assert_agrees(got: tuple, want: tuple) -> None:
    """Loss to 1e-12 relative; each gradient to 1e-12 relative to the largest gradient (the sums run
    in another order, so a gradient near zero after cancellation is compared at the gradient's scale)."""
    (loss, grads), (ref_loss, ref_grads) = got, want
    assert loss == pytest.approx(ref_loss, rel=RTOL, abs=1e-300)
    ref = np.asarray(ref_grads)
    scale = max(float(np.abs(ref).max()), 1e-300)
    assert np.abs(np.asarray(grads) - ref).max() <= RTOL * scale


def eager_batch(build, params: list[float], batch: list[list[float]], reduce: str = "mean") -> tuple:
    """The oracle: each sample built afresh on the eager engine and back-propagated; losses and
    gradients summed (or averaged) in row order."""
    total, grads = 0.0, [0.0] * len(params)
    for row in batch:
        loss, ps, _ = build(params, row)
        loss.backward()
        total += loss.data
        grads = [g + p.grad for g, p in zip(grads, ps)]
    n = len(batch) if reduce == "mean" else 1
    return total / n, [g / n for g in grads]


def compiled(build, params: list[float], row: list[float], reduce: str = "mean") -> BatchReplay:
    loss, ps, data = build(params, row)
    return compile_batch(loss, ps, data, reduce=reduce)


# ------------------------------------------------------------------------------ the moons MLP

def moons_build(params: list[float], row: list[float]) -> tuple:
    model = moons_model()
    ps = model.parameters()
    for p, x in zip(ps, params):
        p.data = x
    loss, data = sample_loss(model)  # built with data 0, 0, 1: rebuilt below with the row's
    x1, x2, y = (Value(v) for v in row)
    score = model([x1, x2])[0]
    loss = (1 - y * score).relu() + 1e-4 * linear(ps, ps)
    return loss, ps, [x1, x2, y]


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_moons_agrees_with_the_eager_engine(layer: str, reduce: str) -> None:
    points, labels = make_moons(100)
    batch = rows(points, labels)
    start = [p.data for p in moons_model().parameters()]
    replay = compiled(moons_build, start, batch[0], reduce)
    assert_agrees(replay.forward_backward(batch), eager_batch(moons_build, start, batch, reduce))


def test_moons_mean_is_max_margin_loss() -> None:
    """Averaged over the batch, the sample's loss is micrograd's whole-batch loss."""
    points, labels = make_moons(100)
    model = moons_model()
    sample, data = sample_loss(model)
    replay = compile_batch(sample, model.parameters(), data)
    loss, grads = replay.forward_backward(rows(points, labels))
    whole, _ = max_margin_loss(model, points, labels)
    whole.backward()
    assert_agrees((loss, grads), (whole.data, [p.grad for p in model.parameters()]))


def test_sgd_steps_follow_the_eager_engine() -> None:
    points, labels = make_moons(40, seed=3)
    batch = rows(points, labels)
    params = [p.data for p in moons_model().parameters()]
    replay = compiled(moons_build, params, batch[0])
    losses = replay.sgd_steps(batch, 5, 0.5)
    for step in range(5):
        loss, grads = eager_batch(moons_build, params, batch)
        assert losses[step] == pytest.approx(loss, rel=1e-11)
        params = [p - 0.5 * g for p, g in zip(params, grads)]
    assert np.allclose(replay.values(), params, rtol=1e-10, atol=1e-13)


def test_write_back_and_load() -> None:
    model = moons_model()
    sample, data = sample_loss(model)
    replay = compile_batch(sample, model.parameters(), data)
    before = [p.data for p in model.parameters()]
    replay.sgd_steps(rows(*make_moons(20)), 3, 0.1)
    assert [p.data for p in model.parameters()] == before  # the Values are not touched ...
    replay.write_back()
    assert [p.data for p in model.parameters()] == replay.values().tolist()  # ... until write_back
    replay.load(before)
    assert replay.values().tolist() == before


def test_outputs_are_each_samples_score() -> None:
    """outputs() is the graph's output per row, not reduced: the eager model's score at each point."""
    model = moons_model()
    x1, x2 = Value(0.0), Value(0.0)
    replay = compile_batch(model([x1, x2])[0], model.parameters(), [x1, x2])
    points, _ = make_moons(30)
    scores = replay.outputs(points)
    expected = [model(p)[0].data for p in points]
    assert np.abs(scores - expected).max() <= 1e-12 * np.abs(expected).max()


def test_the_generated_code_is_shown_and_a_layer_is_one_matrix_product() -> None:
    model = moons_model()
    sample, data = sample_loss(model)
    replay = compile_batch(sample, model.parameters(), data)
    source = replay.source()
    forward = source.split("def forward():")[1].split("def backward():")[0]
    assert forward.count("np.matmul(") == 3  # three layers, three products
    assert "up @ x0.T" in source and "def backward():" in source
    assert replay.n_groups == 11 and replay.n_nodes == 413


# ------------------------------------------------------------------------------ Mazur's network

def mazur_build(params: list[float], row: list[float]) -> tuple:
    w = [Value(x) for x in params]
    i1, i2, t1, t2 = (Value(v) for v in row)
    b1, b2 = mazur.BIASES.values()
    mlp = MLP(2, [2, 2], "sigmoid", shared_bias=True, weights=[[w[0:2], w[2:4]], [w[4:6], w[6:8]]],
              biases=[b1, b2])
    return half_squared_error(mlp([i1, i2]), [t1, t2]), w, [i1, i2, t1, t2]


def test_mazur_tutorial_row_gives_the_reference_numbers() -> None:
    row = [*mazur.INPUTS.values(), *mazur.TARGETS.values()]
    replay = compiled(mazur_build, list(mazur.WEIGHTS.values()), row)
    loss, grads = replay.forward_backward([row])
    assert loss == pytest.approx(0.298371109, abs=1e-9)  # E_total, the reference
    assert grads[4] == pytest.approx(0.082167041, abs=1e-9)  # dE/dw5
    assert grads[0] == pytest.approx(0.000438568, abs=1e-9)  # dE/dw1


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_mazur_agrees_with_the_eager_engine(reduce: str) -> None:
    rng = random.Random(5)
    batch = [[rng.uniform(-1, 1), rng.uniform(-1, 1), rng.random(), rng.random()] for _ in range(30)]
    weights = list(mazur.WEIGHTS.values())
    replay = compiled(mazur_build, weights, batch[0], reduce)
    assert_agrees(replay.forward_backward(batch), eager_batch(mazur_build, weights, batch, reduce))


# ------------------------------------------------------------------------------ random graphs, every op

def _softplus_forward(a: float) -> float:
    return math.log1p(math.exp(-abs(a))) + max(a, 0.0)


SOFTPLUS = Op("softplus_b", 1, _softplus_forward, lambda a, out: (1.0 / (1.0 + math.exp(-a)),),
              ("1/(1 + exp(-a))",))  # no array form: replayed sample by sample
CUBE = Op("cube_b", 1, lambda a: a * a * a, lambda a, out: (3.0 * a * a,), ("3*a**2",),
          array=ArrayForm(lambda np, a: a * a * a))


@pytest.fixture
def user_ops():
    register_op(SOFTPLUS)
    register_op(CUBE)
    yield
    unregister_op("softplus_b")
    unregister_op("cube_b")


MAKERS = {  # each op on nodes a, b of the pool, its inputs kept in its domain
    "add": lambda a, b, rng, pool: a + b,
    "sub": lambda a, b, rng, pool: a - b,
    "mul": lambda a, b, rng, pool: a * b.tanh(),
    "div": lambda a, b, rng, pool: a / (1.5 + b.tanh()),
    "neg": lambda a, b, rng, pool: -a,
    "pow": lambda a, b, rng, pool: (1.2 + a.sigmoid()) ** b.tanh(),
    "exp": lambda a, b, rng, pool: a.tanh().exp(),
    "log": lambda a, b, rng, pool: (1 + a * a).log(),
    "tanh": lambda a, b, rng, pool: a.tanh(),
    "sigmoid": lambda a, b, rng, pool: a.sigmoid(),
    "relu": lambda a, b, rng, pool: a.relu(),
    "step": lambda a, b, rng, pool: OP("step")(a) + a,
    "linear": lambda a, b, rng, pool: linear(rng.sample(pool, 2), rng.sample(pool, 2), rng.choice(pool)),
    "powc": lambda a, b, rng, pool: (a * a + 0.5) ** rng.choice([2, 3, 0.5, -1, -1.5]),
    "sin": lambda a, b, rng, pool: OP("sin")(a),
    "cos": lambda a, b, rng, pool: OP("cos")(a),
    "abs": lambda a, b, rng, pool: OP("abs")(a - 0.25),
    "sqrt": lambda a, b, rng, pool: OP("sqrt")(1.0 + a * a),
    "max": lambda a, b, rng, pool: OP("max")(a, b),
    "min": lambda a, b, rng, pool: OP("min")(a, b * 0.5),
    "softplus": lambda a, b, rng, pool: OP("softplus_b")(a.tanh()),
    "cube": lambda a, b, rng, pool: OP("cube_b")(a.tanh()),
}


def random_build(seed: int):
    """A random graph over 3 parameters and 2 data leaves using every op, each kept in its domain."""
    def build(params: list[float], row: list[float]) -> tuple:
        rng = random.Random(seed)
        ps, xs = [Value(v) for v in params], [Value(v) for v in row]
        pool = [*ps, *xs, Value(0.7)]
        for _ in range(14):
            a, b = rng.choice(pool), rng.choice(pool)
            pool.append(MAKERS[rng.choice(sorted(MAKERS))](a, b, rng, pool))
        loss = pool[-1] + pool[-2] * pool[-3] + linear(ps, ps)
        return loss, ps, xs
    return build


def OP(name: str) -> Op:  # noqa: N802
    from micrograd_bp import OPS

    return OPS[name]


@pytest.mark.parametrize("seed", range(30))
def test_random_graphs_with_every_op_agree(user_ops: None, seed: int) -> None:
    rng = random.Random(100 + seed)
    params = [rng.uniform(-1, 1) for _ in range(3)]
    batch = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(7)]
    reduce = "mean" if seed % 2 else "sum"
    build = random_build(seed)
    replay = compiled(build, params, batch[0], reduce)
    assert_agrees(replay.forward_backward(batch), eager_batch(build, params, batch, reduce))


def test_an_op_without_an_array_form_is_replayed_sample_by_sample(user_ops: None) -> None:
    x, w = Value(0.0), Value(0.3)
    replay = compile_batch(OP("softplus_b")(x * w), [w], [x])
    assert "_each(op" in replay.source()
    loss, grads = replay.forward_backward([[1.0], [-2.0]])
    expected = (_softplus_forward(0.3) + _softplus_forward(-0.6)) / 2
    slope = [1 / (1 + math.exp(-0.3)) * 1.0, 1 / (1 + math.exp(0.6)) * -2.0]
    assert loss == pytest.approx(expected, rel=1e-15)
    assert grads[0] == pytest.approx(sum(slope) / 2, rel=1e-15)


# ------------------------------------------------------------------------------ nothing silently non-finite

def one_input(f):
    x, w = Value(1.0, "x"), Value(1.0, "w")
    return compile_batch(f(x, w), [w], [x])


@pytest.mark.parametrize("f, row, error, message", [
    (lambda x, w: (x * w).log(), -1.0, ValueError, "log: math domain error, log(-1.0)"),
    (lambda x, w: (x * w).exp(), 800.0, OverflowError, "exp: overflow, exp(800.0)"),
    (lambda x, w: w / x, 0.0, ZeroDivisionError, "div: division by zero (1.0 / 0)"),
    (lambda x, w: x ** w, -2.0, ValueError, "pow: a Value exponent needs a positive base"),
    (lambda x, w: (x * w) ** 0.5, 0.0, ZeroDivisionError, "the derivative of x**0.5 is infinite"),
    (lambda x, w: x * w * 1e300, 1e10, OverflowError, "linear: overflow" if False else "overflow"),
])
def test_a_sample_out_of_range_raises_the_eager_error_naming_its_row(f, row, error, message) -> None:
    replay = one_input(f)
    with pytest.raises(error) as caught:
        replay.forward_backward([[0.5], [1.5], [row], [row]])
    assert str(caught.value).startswith("row 2 of the batch: ")
    assert message in str(caught.value)


def test_a_gradient_out_of_range_raises_naming_its_row() -> None:
    x, w = Value(0.0, "x"), Value(1.0, "w")
    replay = compile_batch(w * w * x, [w], [x])
    replay.load([1e200])  # w * w is one value for the whole batch: every sample fails, the first says so
    with pytest.raises(OverflowError, match=r"^row 0 of the batch: mul: overflow, the result of mul\(1e"):
        replay.forward_backward([[1e-300], [1.0]])
    x, w = Value(0.0, "x"), Value(1.0, "w")
    replay = compile_batch((w * x).tanh() * x, [w], [x])
    replay.load([1e-300])
    replay.forward_backward([[1e-10]])  # d/dw = x * x * (1 - tanh(w x)**2): 1e-20
    with pytest.raises(OverflowError, match="^row 1 of the batch: backward: overflow"):
        replay.forward_backward([[1e-10], [1e300]])  # 1e600 * (1 - tanh(1)**2): past the range


def test_an_infinite_derivative_met_by_a_zero_gradient_is_no_error() -> None:
    """Eager skips a node whose gradient is 0; numpy gives inf * 0 = nan: the eager engine decides."""
    def build(params: list[float], row: list[float]) -> tuple:
        x, z, w = Value(row[0]), Value(row[1]), Value(params[0])
        return (x / w) * (z - 1.0).relu(), [w], [x, z]  # d(x/w)/dw = -x/w**2

    replay = compiled(build, [1e-160], [1e-13, 2.0])
    batch = [[1e-13, 2.0], [1e-3, 0.0]]  # row 1: -x/w**2 is -inf, but relu(z - 1) is off: no gradient
    assert_agrees(replay.forward_backward(batch), eager_batch(build, [1e-160], batch))


def test_too_large_a_learning_rate_is_an_error() -> None:
    x, w = Value(0.0), Value(1.0, "w")
    replay = compile_batch((x * w) ** 2, [w], [x])
    with pytest.raises(OverflowError, match="'w'.*the learning rate is too large"):
        replay.sgd_steps([[1e150]], 3, 1e10)


# ------------------------------------------------------------------------------ bad input

def test_bad_input_is_named() -> None:
    x, w, c = Value(0.0), Value(1.0), Value(2.0)
    loss = x * w + c
    with pytest.raises(ValueError, match="reduce must be 'mean' or 'sum'"):
        compile_batch(loss, [w], [x], reduce="max")
    with pytest.raises(ValueError, match="not a leaf"):
        compile_batch(loss, [loss.inputs[0]], [x])
    with pytest.raises(ValueError, match="not in the graph"):
        compile_batch(loss, [Value(3.0)], [x])
    with pytest.raises(ValueError, match="in both params and data"):
        compile_batch(loss, [w, x], [x])
    with pytest.raises(ValueError, match="given twice"):
        compile_batch(loss, [w, w], [x])
    replay = compile_batch(loss, [w], [x])
    with pytest.raises(ValueError, match=r"rows of 1 number .* shape \(2, 2\)"):
        replay.forward_backward([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="row 1 of the batch: column 0 is nan"):
        replay.forward_backward([[1.0], [math.nan]])
    with pytest.raises(ValueError, match="learning rate"):
        replay.sgd_steps([[1.0]], 1, -0.1)
    with pytest.raises(ValueError, match="steps"):
        replay.sgd_steps([[1.0]], -1, 0.1)


def test_constants_and_a_scalar_loss() -> None:
    """A loss that reads no datum is the same for every sample: mean is itself, sum n times it."""
    x, w = Value(0.0), Value(3.0)
    mean = compile_batch(w * w + 0.0 * x, [w], [x])
    assert mean.forward_backward([[1.0], [2.0]]) == (pytest.approx(9.0), pytest.approx(np.array([6.0])))
    x, w = Value(0.0), Value(3.0)
    total = compile_batch(w * 2.0 + x * 0.0, [w], [x], reduce="sum")
    loss, grads = total.forward_backward([[1.0], [2.0], [5.0]])
    assert loss == 18.0 and grads.tolist() == [6.0]


# ------------------------------------------------------------------------------ array forms

def test_register_op_checks_the_array_form() -> None:
    wrong = Op("twice_b", 1, lambda a: 2.0 * a, lambda a, out: (2.0,), ("2",),
               array=ArrayForm(lambda np, a: 3.0 * a))
    with pytest.raises(ValueError, match="twice_b: array: the array forward gives"):
        register_op(wrong)
    float_only = Op("expm_b", 1, math.exp, lambda a, out: (out,), ("out",),
                    array=ArrayForm(lambda np, a: math.exp(a)))
    with pytest.raises(ValueError, match="expm_b: array: the array form fails on arrays"):
        register_op(float_only)
    unguarded = Op("rlog_b", 1, lambda a: math.log(a) if a > 0 else _raise(), lambda a, out: (1.0 / a,),
                   ("1/a",), array=ArrayForm(lambda np, a: np.log(np.abs(a))))
    with pytest.raises(ValueError, match="rlog_b: array: the array form gives .* where forward raises"):
        register_op(unguarded)
    from micrograd_bp import OPS

    assert not {"twice_b", "expm_b", "rlog_b"} & set(OPS)


def _raise() -> float:
    raise ValueError("outside the domain")


# ------------------------------------------------------------------------------ size and imports

def test_a_2_64_64_1_mlp_over_10000_points_runs_in_under_a_gigabyte() -> None:
    model = MLP(2, [64, 64, 1], ["relu", "relu", "none"], seed=1)
    sample, data = sample_loss(model)
    points, labels = make_moons(10_000)
    batch = rows(points, labels)
    tracemalloc.start()
    try:
        replay = compile_batch(sample, model.parameters(), data)
        loss, grads = replay.forward_backward(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert math.isfinite(loss) and len(grads) == 64 * 3 + 64 * 65 + 65
    assert peak < 1e9
    buffers = replay._ns["V"].nbytes + replay._ns["GV"].nbytes
    rows_ = 3 + 64 * 4 + 1 + 4  # the data, 4 layers of 64 (linear, relu), the score, 4 of the loss
    assert buffers == 2 * 8 * 10_000 * rows_


def test_the_package_imports_without_numpy() -> None:
    code = ("import sys; sys.modules['numpy'] = None\n"
            "import micrograd_bp, micrograd_bp.engine, micrograd_bp.nn, micrograd_bp.diagnose\n"
            "from micrograd_bp.batch import compile_batch\n"
            "x = micrograd_bp.Value(1.0)\n"
            "try:\n    compile_batch(x * x, [x], [])\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'micrograd_bp[batch]'" in out
    code = ("import sys, micrograd_bp.engine, micrograd_bp.nn, micrograd_bp.diagnose\n"
            "print('numpy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_shared_and_scattered_inputs() -> None:
    """Nodes that read the same parameters (a view read, an index written with np.add.at) and
    inputs out of order (gathered): the same numbers as the eager engine."""
    def build(params: list[float], row: list[float]) -> tuple:
        ps, xs = [Value(v) for v in params], [Value(v) for v in row]
        a = linear(ps[:2], ps[:2]) * xs[0]  # two scalar linear nodes on the same parameters
        b = linear(ps[:2], ps[1::-1]) * xs[1]
        h = [(xs[1] * ps[2]).tanh(), (xs[0] * ps[2]).tanh(), (xs[1] * ps[0]).tanh()]
        c = linear(ps[:3], h[::-1]) + linear(ps[1:], [h[0], h[0]])  # inputs reversed, one twice
        return a + b + c * c, ps, xs

    params, batch = [0.3, -0.7, 1.1], [[0.5, -1.5], [2.0, 0.25], [-0.3, 0.9]]
    replay = compiled(build, params, batch[0])
    assert "np.add.at" in replay.source() or "[i_" in replay.source()
    assert_agrees(replay.forward_backward(batch), eager_batch(build, params, batch))


def test_a_step_whose_parameters_are_finite_is_taken_though_their_sum_is_not() -> None:
    """loss = -(a + b)*x at x = 1: each gradient is -1 (by hand), so a step of lr 1e308 from 0 makes
    a = b = 1e308, both finite, though a + b is past the float range: the step is taken."""
    a, b, x = Value(0.0, "a"), Value(0.0, "b"), Value(1.0, "x")
    replay = compile_batch(-((a + b) * x), [a, b], [x])
    losses = replay.sgd_steps([[1.0]], 1, 1e308)
    assert losses == [0.0] and replay.values().tolist() == [1e308, 1e308]
