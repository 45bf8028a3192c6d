"""Benchmarks: the engine side by side with a closure-per-node reference, the float floor, micrograd."""

from __future__ import annotations

import gc
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from .compiled import compile_graph
from .engine import Value, linear
from .examples import mazur
from .examples.moons import make_moons, max_margin_loss, moons_model
from .nn import MLP, SGD, half_squared_error


class BenchmarkMismatch(RuntimeError):
    """Two engines computed different losses: the benchmark would be timing wrong code."""


# ------------------------------------------------------------------ the closure reference engine
# The classic design (micrograd's): every node stores a closure that pushes its gradient to its
# parents, parents are kept in a set, and backward() sorts the graph recursively. Each closure
# refers to the node that owns it, so every node is a reference cycle that only the cyclic
# garbage collector can free. Written here for the benchmark, as the baseline to beat.

def _no_backward() -> None:
    pass


class ClosureValue:
    """A scalar with a closure per node (the reference engine of the benchmark)."""

    def __init__(self, data: float, parents: tuple = (), op: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self._backward = _no_backward
        self._parents = set(parents)
        self._op = op

    def __add__(self, other: Any) -> ClosureValue:
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other), "+")

        def backward() -> None:
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __mul__(self, other: Any) -> ClosureValue:
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other), "*")

        def backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def __pow__(self, exponent: float) -> ClosureValue:
        out = ClosureValue(self.data ** exponent, (self,), f"**{exponent}")

        def backward() -> None:
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = backward
        return out

    def _unary(self, data: float, local: float, op: str) -> ClosureValue:
        out = ClosureValue(data, (self,), op)

        def backward() -> None:
            self.grad += local * out.grad
        out._backward = backward
        return out

    def relu(self) -> ClosureValue:
        return self._unary(self.data if self.data > 0 else 0.0, 1.0 if self.data > 0 else 0.0, "relu")

    def sigmoid(self) -> ClosureValue:
        s = 1.0 / (1.0 + math.exp(-self.data))
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def exp(self) -> ClosureValue:
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def tanh(self) -> ClosureValue:
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def __neg__(self) -> ClosureValue: return self * -1.0
    def __radd__(self, other: Any) -> ClosureValue: return self + other
    def __sub__(self, other: Any) -> ClosureValue: return self + (-other)
    def __rsub__(self, other: Any) -> ClosureValue: return other + (-self)
    def __rmul__(self, other: Any) -> ClosureValue: return self * other
    def __truediv__(self, other: Any) -> ClosureValue: return self * other ** -1

    def backward(self) -> None:
        order: list[ClosureValue] = []
        seen: set[ClosureValue] = set()

        def visit(node: ClosureValue) -> None:
            if node not in seen:
                seen.add(node)
                for parent in node._parents:
                    visit(parent)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# ------------------------------------------------------------------------ workload 1: Mazur
def mazur_floor(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The pure-Python floor: Mazur's network on plain floats with hand-written derivatives.

    Simultaneous order, biases fixed, as the engines do; returns E_total after `steps` steps.
    """
    exp = math.exp
    i1, i2 = mazur.INPUTS.values()
    t1, t2 = mazur.TARGETS.values()
    w1, w2, w3, w4, w5, w6, w7, w8 = mazur.WEIGHTS.values()
    b1, b2 = mazur.BIASES.values()
    for _ in range(steps):
        h1 = 1.0 / (1.0 + exp(-(w1 * i1 + w2 * i2 + b1)))
        h2 = 1.0 / (1.0 + exp(-(w3 * i1 + w4 * i2 + b1)))
        o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b2)))
        o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b2)))
        d1 = (o1 - t1) * o1 * (1.0 - o1)  # dE/dnet_o1
        d2 = (o2 - t2) * o2 * (1.0 - o2)
        e1 = (d1 * w5 + d2 * w7) * h1 * (1.0 - h1)  # dE/dnet_h1, with the old w5, w7
        e2 = (d1 * w6 + d2 * w8) * h2 * (1.0 - h2)
        w1, w2, w3, w4 = w1 - lr * e1 * i1, w2 - lr * e1 * i2, w3 - lr * e2 * i1, w4 - lr * e2 * i2
        w5, w6, w7, w8 = w5 - lr * d1 * h1, w6 - lr * d1 * h2, w7 - lr * d2 * h1, w8 - lr * d2 * h2
    h1 = 1.0 / (1.0 + exp(-(w1 * i1 + w2 * i2 + b1)))
    h2 = 1.0 / (1.0 + exp(-(w3 * i1 + w4 * i2 + b1)))
    o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b2)))
    o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b2)))
    return 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2


def sum_net(weights: Sequence[Any], inputs: Sequence[Any], bias: Any) -> Any:
    """A weighted sum from + and * nodes, as a closure engine's neuron builds it: b + w1*x1 + ..."""
    return sum((w * x for w, x in zip(weights, inputs)), bias)


def mazur_error(weights: Sequence[Any], leaf: Callable[[float], Any], net: Callable[..., Any],
                sigmoid: Callable[[Any], Any]) -> Any:
    """E_total of the 2-2-2 network built op by op, the same way on every engine.

    leaf(x) makes a constant, net(weights, inputs, bias) a neuron's weighted sum (one `linear` node
    on ours, + and * nodes on a closure engine), sigmoid(x) the logistic node.
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = weights
    i1, i2 = (leaf(v) for v in mazur.INPUTS.values())
    b1, b2 = (leaf(v) for v in mazur.BIASES.values())
    t1, t2 = mazur.TARGETS.values()
    h1 = sigmoid(net((w1, w2), (i1, i2), b1))
    h2 = sigmoid(net((w3, w4), (i1, i2), b1))
    o1 = sigmoid(net((w5, w6), (h1, h2), b2))
    o2 = sigmoid(net((w7, w8), (h1, h2), b2))
    return 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2


def _zero_grads(params: Sequence[Any]) -> None:
    for p in params:
        p.grad = 0.0


def _descend(params: Sequence[Any], lr: float) -> None:
    for p in params:
        p.data -= lr * p.grad


def _train_mazur(leaf: Callable[[float], Any], net: Callable[..., Any], sigmoid: Callable[[Any], Any],
                 steps: int, lr: float) -> float:
    """`steps` steps of gradient descent on the weights (biases fixed); E_total after them."""
    weights = [leaf(v) for v in mazur.WEIGHTS.values()]
    for _ in range(steps):
        loss = mazur_error(weights, leaf, net, sigmoid)
        _zero_grads(weights)
        loss.backward()
        _descend(weights, lr)
    return mazur_error(weights, leaf, net, sigmoid).data


def mazur_ours(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """Mazur's training on our engine, each net one `linear` node; E_total after `steps` steps."""
    return _train_mazur(Value, linear, Value.sigmoid, steps, lr)


def mazur_ours_mlp(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The same through the library: nn.MLP, half_squared_error and SGD (what a user would write)."""
    w = {name: Value(v, name) for name, v in mazur.WEIGHTS.items()}
    mlp = MLP(2, [2, 2], "sigmoid", shared_bias=True,
              weights=[[[w["w1"], w["w2"]], [w["w3"], w["w4"]]], [[w["w5"], w["w6"]], [w["w7"], w["w8"]]]],
              biases=list(mazur.BIASES.values()))
    inputs = [Value(v, name) for name, v in mazur.INPUTS.items()]
    targets = list(mazur.TARGETS.values())
    optimizer = SGD(list(w.values()), lr)
    for _ in range(steps):
        loss = half_squared_error(mlp(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return half_squared_error(mlp(inputs), targets).data


def mazur_walkthrough(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The main job itself: the walk-through's training loop (MazurNetwork.step, what
    `micrograd-bp mazur --steps N` runs), with its named nodes; E_total after `steps` steps."""
    return mazur.walkthrough(steps, lr).final_error


def mazur_compiled(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """Mazur's training by the compiled replay: the graph traced once (timed too), then a Python
    loop of forward_backward() and the update, as a user's own training loop would be."""
    weights = [Value(v) for v in mazur.WEIGHTS.values()]
    graph = compile_graph(mazur_error(weights, Value, linear, Value.sigmoid), leaves=weights)
    for _ in range(steps):
        _zero_grads(weights)
        graph.forward_backward()
        _descend(weights, lr)
    return graph.forward()


def mazur_compiled_sgd(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The same with the update inside the generated loop (sgd_steps, what `mazur --compiled` runs)."""
    weights = [Value(v) for v in mazur.WEIGHTS.values()]
    graph = compile_graph(mazur_error(weights, Value, linear, Value.sigmoid), leaves=weights)
    graph.sgd_steps(steps, lr)
    return graph.forward()


def mazur_closure(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The same training on the closure reference engine."""
    return _train_mazur(ClosureValue, sum_net, ClosureValue.sigmoid, steps, lr)


def mazur_closure_training(steps: int, lr: float = mazur.LEARNING_RATE, order: str = "simultaneous",
                           train_biases: bool = False) -> float:
    """The walk-through's training on the closure reference, in either order, biases trained or
    not (what `micrograd-bp mazur --steps N [--order sequential] [--train-biases]` is timed against);
    E_total after `steps` steps. The sequential order as MazurNetwork's: the output layer updated
    first, then the hidden layer from the surrogate sum(delta_j * net_j) on the updated weights."""
    c = ClosureValue
    w = [c(v) for v in mazur.WEIGHTS.values()]
    b1, b2 = (c(v) for v in mazur.BIASES.values())
    t1, t2 = mazur.TARGETS.values()
    hidden_params, output_params = w[:4] + [b1] * train_biases, w[4:] + [b2] * train_biases

    def hidden() -> list:
        i = [c(v) for v in mazur.INPUTS.values()]
        return [sum_net(w[0:2], i, b1).sigmoid(), sum_net(w[2:4], i, b1).sigmoid()]

    def error() -> tuple[Any, list]:
        h = hidden()
        nets = [sum_net(w[4:6], h, b2), sum_net(w[6:8], h, b2)]
        o1, o2 = (n.sigmoid() for n in nets)
        return 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2, nets

    for _ in range(steps):
        loss, nets = error()
        _zero_grads(w + [b1, b2])
        loss.backward()
        if order == "simultaneous":
            _descend(hidden_params + output_params, lr)
            continue
        deltas = [n.grad for n in nets]
        _descend(output_params, lr)
        h = hidden()
        surrogate = deltas[0] * sum_net(w[4:6], h, b2) + deltas[1] * sum_net(w[6:8], h, b2)
        _zero_grads(w + [b1, b2])
        surrogate.backward()
        _descend(hidden_params, lr)
    return error()[0].data


def _process_seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def whole_processes(steps: int, repeats: int, order: str = "simultaneous",
                    train_biases: bool = False, plain: bool = False) -> tuple[float, float]:
    """The main job measured as whole processes: (seconds of `micrograd-bp mazur --steps N` minus
    `--steps 1`, the same for the closure reference training the same network), each the fastest
    of `repeats` runs, so start-up and the walk-through's printing cancel out. plain: ours runs
    engine.py's plain core alone (MICROGRAD_BP_PLAIN=1, the fast layer off)."""
    env = {**os.environ, "MICROGRAD_BP_PLAIN": "1"} if plain else None
    extra = (["--order", order] if order != "simultaneous" else []) + (["--train-biases"] * train_biases)

    def ours(n: int) -> list[str]:
        return ["-m", "micrograd_bp", "mazur", "--steps", str(n), *extra]

    def closure(n: int) -> list[str]:
        return ["-c", f"from micrograd_bp.bench import mazur_closure_training as t; "
                      f"t({n}, order={order!r}, train_biases={train_biases!r})"]
    runs: dict[str, list[float]] = {"ours": [], "ours1": [], "closure": [], "closure1": []}
    for _ in range(repeats):
        for key, argv in (("ours", ours(steps)), ("ours1", ours(1)), ("closure", closure(steps)),
                          ("closure1", closure(1))):
            runs[key].append(_process_seconds(argv, env if key.startswith("ours") else None))
    best = {key: min(times) for key, times in runs.items()}
    return best["ours"] - best["ours1"], best["closure"] - best["closure1"]


def bench_processes(steps: int, repeats: int, configurations: Sequence[tuple[str, bool]]) -> Workload:
    rows, ratios = [], {}
    for order, train_biases in configurations:
        name = f"mazur --steps {steps:,}" + (f" --order {order}" if order != "simultaneous" else "") + \
            (" --train-biases" if train_biases else "")
        ours, closure = whole_processes(steps, repeats, order, train_biases)
        rows += [Row(name, ours), Row("closure reference, the same training", closure)]
        ratios[f"closure_over_process: {name}"] = closure / ours
        if (order, train_biases) == ("simultaneous", False):  # the plain core beside it, for scale
            plain, closure_again = whole_processes(steps, repeats, order, train_biases, plain=True)
            rows.append(Row(f"{name}, the plain core alone (MICROGRAD_BP_PLAIN=1)", plain))
            ratios[f"closure_over_plain_process: {name}"] = closure_again / plain
    return Workload("processes", f"the main job as whole processes ({steps:,} steps minus 1, fastest "
                    f"of {repeats})", "s", rows, ratios)


NOT_INSTALLED = "micrograd is not installed (pip install 'micrograd_bp[bench]')"


def _micrograd() -> Any:
    """The real micrograd package (the `bench` extra), or None when it is not installed."""
    try:
        import micrograd.engine
        import micrograd.nn
    except ImportError:
        return None
    return micrograd


def _micrograd_sigmoid(x: Any) -> Any:
    """micrograd 0.1.0 has no sigmoid (nor exp): one node of its own kind, built by its constructor."""
    value_cls = type(x)
    s = 1.0 / (1.0 + math.exp(-x.data))
    out = value_cls(s, (x,), "sigmoid")

    def backward() -> None:
        x.grad += s * (1.0 - s) * out.grad
    out._backward = backward
    return out


def mazur_micrograd(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """The same training on micrograd 0.1.0, with a sigmoid node added."""
    return _train_mazur(_micrograd().engine.Value, sum_net, _micrograd_sigmoid, steps, lr)


# ------------------------------------------------------------------------ workload 2: moons
MOONS_ALPHA = 1e-4
MOONS_SEED = 1337


def _moons_lr(k: int) -> float:
    return 1.0 - 0.9 * k / 100  # micrograd's demo schedule


def moons_parameters(model: MLP) -> list[list[tuple[list[float], float]]]:
    """Our model's initial parameters, layer by layer: (weights, bias) per neuron."""
    return [[([w.data for w in n.weights], n.bias.data) for n in layer.neurons] for layer in model.layers]


class MoonsOurs:
    """micrograd's demo step on our engine: one `linear` node per neuron."""

    def __init__(self, seed: int, points: list, labels: list) -> None:
        self.model = moons_model(seed)
        self.params = self.model.parameters()
        self.points, self.labels = points, labels

    def step(self, k: int) -> float:
        loss, _ = max_margin_loss(self.model, self.points, self.labels, MOONS_ALPHA)
        self.model.zero_grad()
        loss.backward()
        _descend(self.params, _moons_lr(k))
        return loss.data


class MoonsCompiled:
    """The same step by the compiled replay: the step's graph traced once, then replayed."""

    def __init__(self, seed: int, points: list, labels: list) -> None:
        model = moons_model(seed)
        self.params = model.parameters()
        loss, _ = max_margin_loss(model, points, labels, MOONS_ALPHA)
        self.graph = compile_graph(loss, leaves=self.params)
        self.graph.forward_backward()  # builds the replay's code here, untimed; no data changes

    def step(self, k: int) -> float:
        _zero_grads(self.params)
        loss = self.graph.forward_backward()
        _descend(self.params, _moons_lr(k))
        return loss


class _ClosureMLP:
    """MLP(2, [16, 16, 1]) with ReLU hidden layers on a closure engine, each sum built from + and *."""

    def __init__(self, cls: type, parameters: list) -> None:
        self.layers = [[([cls(w) for w in ws], cls(b)) for ws, b in layer] for layer in parameters]

    def __call__(self, xs: list) -> Any:
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            sums = [sum_net(ws, xs, b) for ws, b in layer]
            xs = sums if k == last else [s.relu() for s in sums]
        return xs[0]

    def parameters(self) -> list:
        return [p for layer in self.layers for ws, b in layer for p in (*ws, b)]


class MoonsClosure:
    """micrograd's demo step on a closure engine: the reference (cls=ClosureValue) or micrograd."""

    def __init__(self, cls: type, parameters: list, points: list, labels: list,
                 model: Any = None) -> None:
        self.cls = cls
        self.model = model if model is not None else _ClosureMLP(cls, parameters)
        self.params = self.model.parameters()
        self.points, self.labels = points, labels

    def step(self, k: int) -> float:
        cls = self.cls
        inputs = [[cls(x) for x in p] for p in self.points]
        scores = [self.model(x) for x in inputs]
        margins = [(1 + -y * s).relu() for y, s in zip(self.labels, scores)]
        data_loss = sum(margins) * (1.0 / len(margins))
        loss = data_loss + MOONS_ALPHA * sum(p * p for p in self.params)
        _zero_grads(self.params)
        loss.backward()
        _descend(self.params, _moons_lr(k))
        return loss.data


def micrograd_moons_model(parameters: list) -> Any:
    """micrograd's own MLP(2, [16, 16, 1]) holding our initial parameters."""
    mg = _micrograd()
    state = random.getstate()
    model = mg.nn.MLP(2, [16, 16, 1])  # draws from the global random module: put it back after
    random.setstate(state)
    flat = [x for layer in parameters for ws, b in layer for x in (*ws, b)]
    for p, x in zip(model.parameters(), flat):
        p.data = x
    return model


# ------------------------------------------------------------------ workload 2b: the batch replay
# The moons step at batch 100 by the batch replay, beside PyTorch eager (float64, one thread) and a
# hand-written numpy forward and backward: the same initial weights, the same loss (mean hinge +
# alpha * L2), the same learning rates.

TORCH_MISSING = "torch is not installed (pip install 'micrograd_bp[bench]')"


def _moons_mlp(width: int) -> MLP:
    return MLP(2, [width, width, 1], ["relu", "relu", "none"], seed=MOONS_SEED)


def _torch() -> Any:
    """PyTorch, on one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def _layers(width: int) -> list[tuple[list[list[float]], list[float]]]:
    """The initial (weights (out x in), biases) of each layer of the width's MLP."""
    return [([ws for ws, _ in layer], [b for _, b in layer]) for layer in moons_parameters(_moons_mlp(width))]


class MoonsBatch:
    """The moons step by the batch replay: one sample's graph compiled once (untimed here)."""

    def __init__(self, width: int, points: list, labels: list) -> None:
        import numpy as np

        from .batch import compile_batch
        from .examples.moons import rows, sample_loss

        model = _moons_mlp(width)
        sample, data = sample_loss(model, MOONS_ALPHA)
        self.replay = compile_batch(sample, model.parameters(), data)
        self.batch = np.array(rows(points, labels))
        self.replay.forward_backward(self.batch)  # buffers made, first calls paid: untimed, no update

    def step(self, k: int) -> float:
        return self.replay.sgd_steps(self.batch, 1, _moons_lr(k))[0]


class MoonsNumpy:
    """The floor: the same network's forward and backward written by hand in numpy."""

    def __init__(self, width: int, points: list, labels: list) -> None:
        import numpy as np

        self.np = np
        self.params = [np.array(x, dtype=float) for w, b in _layers(width) for x in (w, b)]
        self.x, self.y = np.array(points, dtype=float).T, np.array(labels, dtype=float)

    def step(self, k: int) -> float:
        np, (w1, b1, w2, b2, w3, b3), x, y = self.np, self.params, self.x, self.y
        z1 = w1 @ x + b1[:, None]
        h1 = np.maximum(z1, 0.0)
        z2 = w2 @ h1 + b2[:, None]
        h2 = np.maximum(z2, 0.0)
        margin = 1.0 - y * (w3 @ h2 + b3[:, None])[0]
        loss = np.maximum(margin, 0.0).mean() + MOONS_ALPHA * sum(float((p * p).sum()) for p in self.params)
        g3 = ((margin > 0.0) * (-y / len(y)))[None, :]  # d loss / d score
        g2 = (w3.T @ g3) * (z2 > 0.0)
        g1 = (w2.T @ g2) * (z1 > 0.0)
        grads = [g1 @ x.T, g1.sum(1), g2 @ h1.T, g2.sum(1), g3 @ h2.T, g3.sum(1)]
        lr = _moons_lr(k)
        for p, g in zip(self.params, grads):
            p -= lr * (g + 2.0 * MOONS_ALPHA * p)
        return float(loss)


class MoonsTorch:
    """The same step in PyTorch eager, float64 on one thread."""

    def __init__(self, width: int, points: list, labels: list) -> None:
        torch = self.torch = _torch()
        self.params = [torch.tensor(x, dtype=torch.float64, requires_grad=True)
                       for w, b in _layers(width) for x in (w, b)]
        self.x = torch.tensor(points, dtype=torch.float64)
        self.y = torch.tensor(labels, dtype=torch.float64)
        self._loss().backward()  # its first pass paid here too, untimed; no update
        for p in self.params:
            p.grad = None

    def _loss(self) -> Any:
        w1, b1, w2, b2, w3, b3 = self.params
        h = self.torch.relu(self.x @ w1.T + b1)
        h = self.torch.relu(h @ w2.T + b2)
        score = (h @ w3.T + b3)[:, 0]
        l2 = sum((p * p).sum() for p in self.params)
        return self.torch.relu(1.0 - self.y * score).mean() + MOONS_ALPHA * l2

    def step(self, k: int) -> float:
        torch = self.torch
        loss = self._loss()
        for p in self.params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= _moons_lr(k) * p.grad
        return loss.item()


def mazur_torch(steps: int, lr: float = mazur.LEARNING_RATE) -> float:
    """Mazur's training (weights trained, biases fixed) in PyTorch eager, float64 on one thread:
    the one-sample step where per-call overhead is everything; E_total after `steps` steps."""
    torch = _torch()
    w = torch.tensor(list(mazur.WEIGHTS.values()), dtype=torch.float64, requires_grad=True)
    i = torch.tensor(list(mazur.INPUTS.values()), dtype=torch.float64)
    t = torch.tensor(list(mazur.TARGETS.values()), dtype=torch.float64)
    b1, b2 = mazur.BIASES.values()

    def error() -> Any:
        hidden = torch.sigmoid(w[0:4].reshape(2, 2) @ i + b1)
        out = torch.sigmoid(w[4:8].reshape(2, 2) @ hidden + b2)
        return (0.5 * (t - out) ** 2).sum()
    for _ in range(steps):
        w.grad = None
        error().backward()
        with torch.no_grad():
            w -= lr * w.grad
    return error().item()


def _torch_notes(workload: Workload) -> Workload:
    """The PyTorch rows that did not run say why."""
    for row in workload.rows:
        if row.seconds is None and row.engine.startswith("PyTorch"):
            row.note = TORCH_MISSING
    return workload


def bench_batch(width: int, steps: int, repeats: int) -> Workload:
    """The moons step at batch 100: the batch replay beside PyTorch eager and the numpy floor."""
    points, labels = make_moons(100, noise=0.1, seed=1)
    contenders: dict[str, Contender] = {
        "batch replay": _per_step(lambda: MoonsBatch(width, points, labels), steps),
        "PyTorch eager (float64, 1 thread)": _per_step(lambda: MoonsTorch(width, points, labels), steps)
        if _torch() else None,
        "numpy by hand (the floor)": _per_step(lambda: MoonsNumpy(width, points, labels), steps),
    }
    title = f"moons: MLP(2,[{width},{width},1]), batch 100, one step (forward, backward, update)"
    ratios = {"batch_over_torch": ("batch replay", "PyTorch eager (float64, 1 thread)"),
              "batch_over_numpy": ("batch replay", "numpy by hand (the floor)")}
    return _torch_notes(_side_by_side(f"batch{width}", title, "s/step", contenders, repeats, ratios))


def bench_batch_compile(width: int, repeats: int) -> Workload:
    """compile_batch's time for one sample's moons graph (the graph built untimed)."""
    from .batch import compile_batch
    from .examples.moons import sample_loss

    runs = []
    for _ in range(repeats):
        model = _moons_mlp(width)
        sample, data = sample_loss(model, MOONS_ALPHA)
        seconds, replay = _timed(compile_batch, sample, model.parameters(), data)
        runs.append(seconds)
    row = Row(f"compile_batch ({replay.n_nodes:,} nodes, {replay.n_groups} groups)",
              statistics.median(runs), runs)
    return Workload(f"batch_compile{width}", f"compiling the moons sample's graph, "
                    f"MLP(2,[{width},{width},1])", "s", [row], {"compile_seconds": row.seconds})


def batch_targets(r: dict[str, dict[str, float]]) -> list[Target]:
    """The batch replay's goals (each only where its workload ran; PyTorch's where it is installed)."""
    torch, floor = "batch replay / PyTorch eager", "batch replay / numpy by hand"
    goals = [("batch16", "batch_over_torch", f"moons (width 16, batch 100): {torch}", 0.5),
             ("batch64", "batch_over_torch", f"moons (width 64, batch 100): {torch}", 1.0),
             ("batch16", "batch_over_numpy", f"moons (width 16, batch 100): {floor}", 2.0),
             ("batch64", "batch_over_numpy", f"moons (width 64, batch 100): {floor}", 2.0),
             ("batch_compile64", "compile_seconds", "moons (width 64): compile_batch, in seconds", 0.1)]
    found = []
    for key, ratio, name, bound in goals:
        measured = r.get(key, {}).get(ratio)
        if measured is None:
            continue
        if ratio == "compile_seconds":
            what = "compiling one sample's graph of the width-64 network takes {x} s"
            found.append(target(name, what, measured, f"< {bound:g}"))
        else:
            engine = "PyTorch eager" if ratio == "batch_over_torch" else "a hand-written numpy step"
            width = key[len("batch"):]
            what = f"a moons step (width {width}) by the batch replay takes {{x}} times as long as by " \
                f"{engine}"
            found.append(target(name, what, measured, f"<= {bound:g}"))
    return found


# ------------------------------------------------------------------- workload 3 and 4: chains

def chain(cls: type, n: int) -> Any:
    """n nodes in a line: y*a and y+b in turn, from shared leaves (the graph of workloads 3 and 4)."""
    y, a, b = cls(1.0), cls(0.9999), cls(0.001)
    for i in range(n):
        y = y * a if i % 2 == 0 else y + b
    return y


def bytes_per_node(cls: type, n: int) -> float:
    """Memory held by an n-node chain of cls (tracemalloc), divided by n."""
    gc.collect()
    tracemalloc.start()
    try:
        root = chain(cls, n)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del root
    gc.collect()
    return held / n


# ----------------------------------------------------------------------------- the harness

@dataclass
class Row:
    """One engine's measurements in one workload."""

    engine: str
    seconds: float | None  # the median; None when the engine did not run
    runs: list[float] = field(default_factory=list)
    result: float | None = None  # the loss it computed (the cross-check), or bytes per node
    note: str = ""


@dataclass
class Workload:
    key: str
    title: str
    unit: str
    rows: list[Row]
    ratios: dict[str, float]  # medians of per-repeat ratios, each pair timed in the same repeat
    note: str = ""


@dataclass
class Target:
    """One goal: name (its key in the JSON), the ratio measured, the goal on it (">= 3", "< 12",
    "<= 0.30"), whether it is met, and `what` is measured, in a reader's words ({x}: the ratio)."""

    name: str
    measured: float | None
    goal: str
    met: bool
    what: str = ""


def target(name: str, what: str, measured: float, goal: str) -> Target:
    """A Target whose `met` is read off its goal: a comparison (>=, >, <=, <) and a number."""
    relation, bound = goal.split()
    met = {">=": measured >= float(bound), ">": measured > float(bound),
           "<=": measured <= float(bound), "<": measured < float(bound)}[relation]
    return Target(name, measured, goal, met, what)


@dataclass
class BenchReport:
    machine: dict[str, Any]
    repeats: int
    quick: bool
    workloads: list[Workload]
    targets: list[Target]

    def to_json(self) -> dict:
        data = asdict(self)
        data["workloads"] = {w["key"]: w for w in data["workloads"]}
        return data


@dataclass
class Sizes:
    mazur_steps: int = 10_000
    moons_steps: int = 2  # steps timed back to back per repeat (so a step pays for earlier garbage)
    moons_repeats: int | None = None  # None: as --repeats
    batch_steps: int = 100  # batch replay steps timed back to back per repeat
    chain_long: int = 1_000_000
    chain_short: int = 100_000
    memory_nodes: int = 100_000
    process_steps: int = 10_000
    process_configurations: tuple = (("simultaneous", False), ("simultaneous", True),
                                     ("sequential", False), ("sequential", True))


FULL = Sizes()
QUICK = Sizes(mazur_steps=1_000, moons_steps=1, moons_repeats=1, batch_steps=10, chain_long=100_000,
              chain_short=10_000, memory_nodes=20_000, process_steps=1_000,
              process_configurations=(("simultaneous", False),))


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds and result of fn(*args); earlier garbage is collected first, untimed."""
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(t / b for t, b in zip(top, bottom))


def _agree(workload: str, results: dict[str, float], tol: float) -> None:
    (first, x), *others = results.items()
    for name, y in others:
        if not abs(x - y) <= tol * max(1.0, abs(x)):
            raise BenchmarkMismatch(f"{workload}: {name} computed {y!r}, {first} computed {x!r}")


def _rows(runs: dict[str, list[float]], results: dict[str, float]) -> list[Row]:
    return [Row(name, statistics.median(times), times, results.get(name)) for name, times in runs.items()]


# One engine in a timed workload: a call that runs it once and returns (seconds, [loss, ...]), or
# None when the engine is not installed (its row then says so).
Contender = Optional[Callable[[], "tuple[float, list[float]]"]]


def _side_by_side(key: str, title: str, unit: str, contenders: dict[str, Contender], repeats: int,
                  ratios: dict[str, tuple[str, str]]) -> Workload:
    """Each repeat runs every engine once, in turn; every loss must agree across engines (1e-9)."""
    present = {name: go for name, go in contenders.items() if go is not None}
    runs: dict[str, list[float]] = {name: [] for name in present}
    losses: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, go in present.items():
            seconds, losses[name] = go()
            runs[name].append(seconds)
        for k, values in enumerate(zip(*losses.values())):
            _agree(f"{key} loss {k}", dict(zip(losses, values)), 1e-9)
    rows = _rows(runs, {name: ls[-1] for name, ls in losses.items()})
    rows += [Row(name, None, note=NOT_INSTALLED) for name, go in contenders.items() if go is None]
    measured = {label: _median_ratio(runs[top], runs[bottom])
                for label, (top, bottom) in ratios.items() if top in runs and bottom in runs}
    return Workload(key, title, unit, rows, measured)


def _once(run: Callable[[int], float], steps: int) -> Contender:
    """run(steps) timed as a whole: (seconds, [its final loss])."""
    def go() -> tuple[float, list[float]]:
        seconds, loss = _timed(run, steps)
        return seconds, [loss]
    return go


def mazur_contenders(steps: int) -> dict[str, Contender]:
    """The engines of workload 1."""
    return {
        "micrograd_bp": _once(mazur_ours, steps),
        "micrograd_bp via nn.MLP": _once(mazur_ours_mlp, steps),
        "the walk-through (mazur --steps)": _once(mazur_walkthrough, steps),
        "closure reference": _once(mazur_closure, steps),
        "float floor": _once(mazur_floor, steps),
        "micrograd 0.1.0 + sigmoid": _once(mazur_micrograd, steps) if _micrograd() else None,
        "compiled replay, sgd_steps": _once(mazur_compiled_sgd, steps),
        "compiled replay, Python loop": _once(mazur_compiled, steps),
        "PyTorch eager (float64, 1 thread)": _once(mazur_torch, steps) if _torch() else None,
    }


def bench_mazur(steps: int, repeats: int) -> Workload:
    title = f"Mazur 2-2-2, {steps:,} steps (forward, backward, update)"
    return _torch_notes(_side_by_side("mazur", title, "s", mazur_contenders(steps), repeats,
                         {"closure_over_ours": ("closure reference", "micrograd_bp"),
                          "closure_over_ours_mlp": ("closure reference", "micrograd_bp via nn.MLP"),
                          "closure_over_walkthrough": ("closure reference",
                                                       "the walk-through (mazur --steps)"),
                          "micrograd_over_ours": ("micrograd 0.1.0 + sigmoid", "micrograd_bp"),
                          "ours_over_floor": ("micrograd_bp", "float floor"),
                          "compiled_sgd_over_floor": ("compiled replay, sgd_steps", "float floor"),
                          "compiled_loop_over_floor": ("compiled replay, Python loop", "float floor"),
                          "torch_over_compiled": ("PyTorch eager (float64, 1 thread)",
                                                  "compiled replay, sgd_steps")}))


def _per_step(make: Callable[[], Any], steps: int) -> Contender:
    """A fresh trainer, then `steps` steps timed back to back: (seconds per step, losses)."""
    def go() -> tuple[float, list[float]]:
        trainer = make()
        seconds, losses = _timed(lambda: [trainer.step(k) for k in range(steps)])
        return seconds / steps, losses
    return go


def moons_contenders(steps: int) -> dict[str, Contender]:
    """The engines of workload 2, all from our model's initial weights."""
    points, labels = make_moons(100, noise=0.1, seed=1)
    initial = moons_parameters(moons_model(MOONS_SEED))
    mg = _micrograd()

    def real_micrograd() -> MoonsClosure:
        return MoonsClosure(mg.engine.Value, initial, points, labels, micrograd_moons_model(initial))
    return {
        "micrograd_bp": _per_step(lambda: MoonsOurs(MOONS_SEED, points, labels), steps),
        "closure reference": _per_step(lambda: MoonsClosure(ClosureValue, initial, points, labels), steps),
        "micrograd 0.1.0": _per_step(real_micrograd, steps) if mg else None,
        "compiled replay": _per_step(lambda: MoonsCompiled(MOONS_SEED, points, labels), steps),
    }


def bench_moons(steps: int, repeats: int) -> Workload:
    return _side_by_side("moons", "moons: MLP(2,[16,16,1]), 100 points, one full-batch step", "s/step",
                         moons_contenders(steps), repeats,
                         {"closure_over_ours": ("closure reference", "micrograd_bp"),
                          "micrograd_over_ours": ("micrograd 0.1.0", "micrograd_bp"),
                          "micrograd_over_compiled": ("micrograd 0.1.0", "compiled replay")})


def bench_chain(long: int, short: int, repeats: int) -> Workload:
    runs: dict[str, list[float]] = {f"micrograd_bp, {long:,} nodes": [], f"micrograd_bp, {short:,} nodes": []}
    for _ in range(repeats):
        for times, n in zip(runs.values(), (long, short)):
            root = chain(Value, n)
            seconds, _ = _timed(root.backward)
            times.append(seconds)
            del root
    long_times, short_times = runs.values()
    rows = _rows(runs, {})
    rows.append(Row("closure reference", None, note=_closure_chain_note(short)))
    return Workload("chain", "backward() through a chain", "s", rows,
                    {"long_over_short": _median_ratio(long_times, short_times)},
                    note=f"linear scaling gives {long / short:g}")


def _closure_chain_note(n: int) -> str:
    root = chain(ClosureValue, n)
    try:
        root.backward()
    except RecursionError:
        return f"RecursionError on {n:,} nodes (recursive topological sort)"
    finally:
        del root
        gc.collect()
    return f"ran on {n:,} nodes"


def bench_memory(n: int) -> Workload:
    ours, reference = bytes_per_node(Value, n), bytes_per_node(ClosureValue, n)
    rows = [Row("micrograd_bp", None, result=ours), Row("closure reference", None, result=reference)]
    return Workload("memory", f"memory per node, a {n:,}-node graph (tracemalloc)", "bytes", rows,
                    {"ours_over_closure": ours / reference})


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "cores": os.cpu_count(), "platform": platform.platform(), "executable": sys.executable}


def targets(workloads: list[Workload]) -> list[Target]:
    r = {w.key: w.ratios for w in workloads}
    found = [
        target("mazur: closure reference / ours", "training Mazur's network with the engine is {x} times as "
               "fast as with the closure-per-node reference",
               r["mazur"]["closure_over_ours"], ">= 3"),
        target("mazur: closure reference / the walk-through's training (the main job)",
               "the training loop of `mazur --steps` is {x} times as fast as the same loop on the "
               "closure-per-node reference",
               r["mazur"]["closure_over_walkthrough"], ">= 3"),
        target("moons: closure reference / ours", "a training step of the moons network is {x} "
               "times as fast as on the closure-per-node reference",
               r["moons"]["closure_over_ours"], ">= 5"),
        target("chain: long / short backward", "backward() through a chain 10 times as long takes {x} "
               "times as long, 10 being linear", r["chain"]["long_over_short"], "< 12"),
        target("memory: ours / closure reference", "memory per node is {x} of the closure-per-node "
               "reference's", r["memory"]["ours_over_closure"], "<= 0.30"),
        target("mazur: compiled replay (sgd_steps, with the compile) / float floor",
               "training Mazur's network on the compiled replay (compiling included) takes {x} times as long "
               "as the same training in plain floats", r["mazur"]["compiled_sgd_over_floor"], "<= 2"),
    ]
    for key, ratio in r.get("processes", {}).items():
        if key.startswith("closure_over_process: "):  # the plain core's ratio is reported, not a target
            command = key.split(": ", 1)[1]
            found.append(target(f"{command}: closure reference / ours, whole processes",
                                f"`micrograd-bp {command}` as a whole process is {{x}} times as fast "
                                "as the same training on the closure-per-node reference", ratio, ">= 3"))
    over_compiled = r["moons"].get("micrograd_over_compiled")  # absent without micrograd installed
    if over_compiled is not None:
        found.append(target("moons: micrograd 0.1.0 / compiled replay", "the moons network on the compiled "
                            "replay is {x} times as fast as on micrograd 0.1.0", over_compiled, ">= 100"))
    return found + batch_targets(r)


def run(repeats: int = 5, quick: bool = False,
        progress: Callable[[str], None] | None = None) -> BenchReport:
    """Every workload, each engine timed `repeats` times side by side with its references.

    progress(title) is called as each workload starts (the command line shows it on stderr).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    sizes = QUICK if quick else FULL
    steps: list[tuple[str, Callable[[], Workload]]] = [
        ("Mazur", lambda: bench_mazur(sizes.mazur_steps, repeats)),
        ("moons", lambda: bench_moons(sizes.moons_steps, sizes.moons_repeats or repeats)),
        ("the batch replay, width 16", lambda: bench_batch(16, sizes.batch_steps, repeats)),
        ("the batch replay, width 64", lambda: bench_batch(64, sizes.batch_steps, repeats)),
        ("compiling the batch replay", lambda: bench_batch_compile(64, repeats)),
        ("chain", lambda: bench_chain(sizes.chain_long, sizes.chain_short, repeats)),
        ("memory", lambda: bench_memory(sizes.memory_nodes)),
        ("the main job as whole processes", lambda: bench_processes(
            sizes.process_steps, min(repeats, 3), sizes.process_configurations)),
    ]
    workloads = []
    for name, work in steps:
        if progress is not None:
            progress(name)
        workloads.append(work())
    return BenchReport(machine(), repeats, quick, workloads, targets(workloads))


# ---------------------------------------------------------------------------- the report in words

RATIO_NAMES = {
    "closure_over_ours": "closure reference / micrograd_bp",
    "closure_over_ours_mlp": "closure reference / micrograd_bp via nn.MLP",
    "closure_over_walkthrough": "closure reference / the walk-through's training (mazur --steps)",
    "micrograd_over_ours": "micrograd 0.1.0 / micrograd_bp",
    "ours_over_floor": "micrograd_bp / float floor",
    "compiled_sgd_over_floor": "compiled replay, sgd_steps / float floor",
    "compiled_loop_over_floor": "compiled replay, Python loop / float floor",
    "micrograd_over_compiled": "micrograd 0.1.0 / compiled replay",
    "long_over_short": "long chain / short chain",
    "ours_over_closure": "micrograd_bp / closure reference",
    "batch_over_torch": "batch replay / PyTorch eager",
    "torch_over_compiled": "PyTorch eager / compiled replay, sgd_steps",
    "batch_over_numpy": "batch replay / numpy by hand",
    "compile_seconds": "compile time, in seconds / 1 s",
}


def ratio_name(key: str) -> str:
    """A ratio's key in words; the whole-process ones name their command."""
    kind, _, command = key.partition(": ")
    if kind == "closure_over_process":
        return f"closure reference / micrograd-bp {command}"
    if kind == "closure_over_plain_process":
        return f"closure reference / MICROGRAD_BP_PLAIN=1 micrograd-bp {command}"
    return RATIO_NAMES[key]


def quantity(x: float, unit: str) -> str:
    """A measurement with its unit: bytes as a whole number, seconds in s, ms or us."""
    if unit == "bytes":
        return f"{x:.0f} bytes"
    scale, name = next(((s, n) for s, n in ((1.0, "s"), (1e-3, "ms")) if x >= s), (1e-6, "us"))
    return f"{x / scale:.3g} {name}"


def _workload_lines(w: Workload) -> list[str]:
    lines = [w.title]
    width = max(len(r.engine) for r in w.rows)
    for r in w.rows:
        measured = r.seconds if r.seconds is not None else r.result
        loss = f"  (loss {r.result:.9g})" if r.seconds is not None and r.result is not None else ""
        text = quantity(measured, "bytes" if w.unit == "bytes" else "s") if measured is not None else "-"
        lines.append(f"  {r.engine:<{width}}  {text:>12}{loss}{'  ' + r.note if r.note else ''}")
    lines += [f"  {ratio_name(k)}: {v:.2f}" for k, v in w.ratios.items()]
    if w.note:
        lines.append(f"  ({w.note})")
    return lines


GOAL_WORDS = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}


def goal_text(t: Target) -> str:
    """A goal in words, and by how much it is met or missed: "NOT met  the training loop of
    `mazur --steps` is 2.88 times as fast as ... (goal: at least 3; short by 0.12, 4%)"."""
    relation, bound_text = t.goal.split()
    bound, measured = float(bound_text), float(t.measured or 0.0)
    gap = abs(measured - bound)
    if t.met:
        verdict = f"{gap:.2f} to spare"
    else:
        verdict = f"{'short' if relation in ('>=', '>') else 'over'} by {gap:.2f}, {gap / bound:.0%}"
    said = t.what.replace("{x}", f"{measured:.2f}") if t.what else f"{t.name}: {measured:.2f}"
    return f"{'met' if t.met else 'NOT met':<8} {said} (goal: {GOAL_WORDS[relation]} {bound_text}; {verdict})"


def report_text(report: BenchReport, prog: str = "micrograd-bp") -> str:
    """The report as the command line prints it: the machine, each workload's table and ratios,
    then the targets."""
    m = report.machine
    lines = [f"{prog} bench: {m['implementation']} {m['python']}, {m['cores']} cores, {m['platform']}; "
             f"medians of {report.repeats} run(s){', quick sizes' if report.quick else ''}"]
    for w in report.workloads:
        lines += ["", *_workload_lines(w)]
    lines += ["", "Goals" + (" (at quick sizes: short runs, so start-up and noise weigh more than in "
                             "a full run)" if report.quick else "")]
    lines += [f"  {goal_text(t)}" for t in report.targets]
    return "\n".join(lines)
