"""Neural networks built from Values: Module, Neuron, Layer, MLP, losses and SGD."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from . import engine
from .engine import Number, Value, lift
from .ops import OPS

ACTIVATIONS = ("sigmoid", "tanh", "relu", "none")  # the usual ones; any one-input op of OPS works too


def _describe(kind: str, name: str) -> str:
    return f"{kind} {name}" if name else kind


def _check_activation(activation: str) -> str:
    """"none", or the name of a one-input op in OPS (sigmoid, tanh, relu, a registered softplus...)."""
    op = OPS.get(activation) if isinstance(activation, str) else None
    if activation != "none" and (op is None or op.arity != 1 or not op.function):
        raise ValueError(f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)} "
                         "or another one-input op of OPS")
    return activation


def _activate(activation: str, net: Value) -> Value:
    """The activation on net: x.sigmoid() for a method of Value (the fast layer's builders), else
    the op of that name."""
    if activation == "none":
        return net
    method = getattr(net, activation, None)
    return method() if callable(method) else Value.apply(OPS[activation], net)


def _as_parameter(x: Value | Number, label: str) -> Value:
    if isinstance(x, Value):
        if not x.label:
            x.label = label
        return x
    return Value(x, label)


class Module:
    """Something with parameters."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


def _unique(values: list[Value]) -> list[Value]:
    """Each Value once (a shared bias is one parameter), in first-seen order."""
    seen: set[int] = set()
    return [v for v in values if not (id(v) in seen or seen.add(id(v)))]


class Neuron(Module):
    """out = activation(w1*x1 + ... + wn*xn + b), its weighted sum one `linear` node."""

    def __init__(self, n_inputs: int, activation: str = "sigmoid", *,
                 weights: Sequence[Value | Number] | None = None, bias: Value | Number | None = None,
                 use_bias: bool = True, name: str = "", rng: random.Random | None = None,
                 where: str = "") -> None:
        """`where` prefixes the labels of the parameters this neuron creates when it has no name
        (a Layer passes "n2", an MLP "L1.n2": the labels say where each weight is)."""
        self.activation = _check_activation(activation)
        self.name = name
        if weights is None:
            rng = rng or random.Random()
            weights = [rng.uniform(-1.0, 1.0) for _ in range(n_inputs)]
        if len(weights) != n_inputs:
            raise ValueError(f"{_describe('neuron', name)}: {len(weights)} weights for {n_inputs} inputs")
        prefix = f"{name or where}." if name or where else ""
        self.weights = [_as_parameter(w, f"{prefix}w{i + 1}") for i, w in enumerate(weights)]
        self.bias = _as_parameter(0.0 if bias is None else bias, f"{prefix}b") if use_bias else None

    def net(self, inputs: Sequence[Value | Number]) -> Value:
        """The weighted sum before the activation (labelled net_NAME for a named neuron)."""
        weights = self.weights
        if len(inputs) != len(weights):
            raise ValueError(f"{_describe('neuron', self.name)}: got {len(inputs)} inputs, "
                             f"expected {len(weights)}")
        net = engine.linear(weights, inputs, self.bias)  # the fast layer's, when it is on
        if self.name:
            net.label = f"net_{self.name}"
        return net

    def __call__(self, inputs: Sequence[Value | Number]) -> Value:
        net = self.net(inputs)
        if self.activation == "none":
            return net
        out = _activate(self.activation, net)
        if self.name:
            out.label = f"out_{self.name}"
        return out

    def parameters(self) -> list[Value]:
        return self.weights + ([self.bias] if self.bias is not None else [])

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        return f"Neuron({len(self.weights)}, {self.activation!r}{name})"


class Layer(Module):
    """n_outputs neurons on the same inputs; shared_bias gives them one bias Value between them."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str = "sigmoid", *,
                 weights: Sequence[Sequence[Value | Number]] | None = None,
                 bias: Value | Number | Sequence[Value | Number] | None = None,
                 shared_bias: bool = False, use_bias: bool = True,
                 names: Sequence[str] | None = None, rng: random.Random | None = None,
                 where: str = "") -> None:
        """`where` prefixes the labels of unnamed neurons' parameters (an MLP passes "L1")."""
        self.activation = _check_activation(activation)
        rng = rng or random.Random()
        names = list(names) if names is not None else [""] * n_outputs
        if len(names) != n_outputs:
            raise ValueError(f"layer: {len(names)} names for {n_outputs} neurons")
        if weights is not None and len(weights) != n_outputs:
            raise ValueError(f"layer: {len(weights)} weight rows for {n_outputs} neurons")
        if shared_bias:
            if bias is not None and not isinstance(bias, (Value, int, float)):
                raise ValueError("layer: a shared bias is one number or Value")
            shared = _as_parameter(0.0 if bias is None else bias, f"{where}.b" if where else "b")
            biases = [shared] * n_outputs
        elif bias is None or isinstance(bias, (Value, int, float)):
            biases = [bias] * n_outputs
        else:
            if len(bias) != n_outputs:
                raise ValueError(f"layer: {len(bias)} biases for {n_outputs} neurons")
            biases = list(bias)
        self.shared_bias = shared_bias
        self.neurons = [
            Neuron(n_inputs, activation, weights=None if weights is None else weights[j],
                   bias=biases[j], use_bias=use_bias, name=names[j], rng=rng,
                   where=f"{where}.n{j + 1}" if where else f"n{j + 1}")
            for j in range(n_outputs)
        ]

    def __call__(self, inputs: Sequence[Value | Number]) -> list[Value]:
        return [neuron(inputs) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return _unique([p for neuron in self.neurons for p in neuron.parameters()])

    def __repr__(self) -> str:
        return f"Layer({len(self.neurons[0].weights)} -> {len(self.neurons)}, {self.activation!r})"


class MLP(Module):
    """Layers in sequence. `activations` is one name for every layer or one per layer."""

    def __init__(self, n_inputs: int, layer_sizes: Sequence[int],
                 activations: str | Sequence[str] = "sigmoid", *, seed: int | None = None,
                 weights: Sequence | None = None, biases: Sequence | None = None,
                 shared_bias: bool = False, use_bias: bool = True,
                 names: Sequence[Sequence[str]] | None = None) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence) \
                or not layer_sizes:
            raise ValueError(f"MLP: layer_sizes must be a non-empty list of layer widths, "
                             f"got {layer_sizes!r}")
        sizes = [n_inputs, *layer_sizes]
        if activations is None or not isinstance(activations, (str, Sequence)):
            raise ValueError(f"MLP: activations must be one of {', '.join(ACTIVATIONS)} or a list "
                             f"of them, one per layer; got {activations!r}")
        if isinstance(activations, str):
            activations = [activations] * len(layer_sizes)
        if len(activations) != len(layer_sizes):
            raise ValueError(f"MLP: {len(activations)} activations for {len(layer_sizes)} layers")
        for name, given in (("weights", weights), ("biases", biases), ("names", names)):
            if given is not None and len(given) != len(layer_sizes):
                raise ValueError(f"MLP: {name} for {len(given)} layers, the network has {len(layer_sizes)}")
        rng = random.Random(seed)
        self.layers = [
            Layer(sizes[k], sizes[k + 1], activations[k],
                  weights=None if weights is None else weights[k],
                  bias=None if biases is None else biases[k], shared_bias=shared_bias,
                  use_bias=use_bias, names=None if names is None else names[k], rng=rng,
                  where=f"L{k + 1}")
            for k in range(len(layer_sizes))
        ]

    def __call__(self, inputs: Sequence[Value | Number]) -> list[Value]:
        values = list(inputs)
        for layer in self.layers:
            values = layer(values)
        return values

    def parameters(self) -> list[Value]:
        return _unique([p for layer in self.layers for p in layer.parameters()])

    def __repr__(self) -> str:
        return f"MLP({', '.join(repr(layer) for layer in self.layers)})"


# Losses. Each returns one Value; per-output terms are labelled when labels are given.

def _pairs(outputs: Sequence[Value], targets: Sequence[Number]) -> list[tuple[Value, Value]]:
    if len(outputs) != len(targets):
        raise ValueError(f"loss: {len(outputs)} outputs for {len(targets)} targets")
    return [(lift(o), lift(t)) for o, t in zip(outputs, targets)]


def _total(terms: list[Value]) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def half_squared_error(outputs: Sequence[Value], targets: Sequence[Number],
                       labels: Sequence[str] | None = None) -> Value:
    """sum of 1/2 (target - out)^2, the error of Mazur's tutorial."""
    terms = [0.5 * (t - o) ** 2 for o, t in _pairs(outputs, targets)]
    for term, label in zip(terms, labels or []):
        term.label = label
    return _total(terms)


def squared_error(outputs: Sequence[Value], targets: Sequence[Number]) -> Value:
    """sum of (out - target)^2."""
    return _total([(o - t) ** 2 for o, t in _pairs(outputs, targets)])


def mean_squared_error(outputs: Sequence[Value], targets: Sequence[Number]) -> Value:
    """mean of (out - target)^2."""
    return squared_error(outputs, targets) / len(outputs)


class SGD:
    """Plain gradient descent: p <- p - lr * p.grad (see descend)."""

    def __init__(self, parameters: Sequence[Value], lr: float = 0.01) -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"SGD: the learning rate must be a positive finite number, got {lr!r}")
        self.parameters = list(parameters)
        self.lr = float(lr)

    def step(self) -> None:
        descend(self.parameters, self.lr)

    def __repr__(self) -> str:
        return f"SGD({len(self.parameters)} parameters, lr={self.lr:g})"

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = 0.0


def descend(parameters: Sequence[Value], lr: float) -> None:
    """One step of gradient descent: p.data -= lr * p.grad for each parameter, in order.

    If a new value would not be finite, raises OverflowError naming the parameter and saying the
    learning rate is too large, and changes no parameter.
    """
    new = [p.data - lr * p.grad for p in parameters]
    check = sum(new, 0.0)
    if check - check != 0.0:  # some value is inf or nan (or only the sum overflowed)
        for p, x in zip(parameters, new):
            if not math.isfinite(x):
                name = repr(p.label) if p.label else "a parameter"
                raise OverflowError(
                    f"gradient descent diverged: the step would make {name} {x!r} "
                    f"(data {p.data!r}, grad {p.grad!r}, learning rate {lr!r}): the learning rate "
                    "is too large")
    for p, x in zip(parameters, new):
        p.data = x
