"""Value, the node of the computation graph, and the chain rule on it: backward() and grad()."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from typing import NoReturn

from .ops import OPS, Op, power_op
from .real import Number, finite_float, is_finite_real  # noqa: F401  (the one check of a number)

ADD, SUB, MUL, DIV, NEG, POW = (OPS[name] for name in ("add", "sub", "mul", "div", "neg", "pow"))


class Value:
    """A scalar in the computation graph: its data, its gradient, and how it was computed."""

    __slots__ = ("data", "grad", "inputs", "local_grads", "op", "label")

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        self.data = finite_float(data, "Value data")
        self.grad = 0.0  # d(root)/d(self), filled in by backward()
        self.inputs: tuple[Value, ...] = ()  # the nodes this one was computed from, in order
        self.local_grads: tuple[float, ...] = ()  # d(self)/d(input) for each input
        self.op: Op | None = None  # the op record that made it; None for a leaf
        self.label = label

    @staticmethod
    def apply(op: Op, *inputs: Value | Number) -> Value:
        """A new node: op's forward on the inputs' data, and its local derivative on each input."""
        if op.arity >= 0 and len(inputs) != op.arity:
            raise ValueError(f"{op.name} takes {op.arity} input{'s' * (op.arity != 1)}, got {len(inputs)}")
        inputs = tuple(lift(x) for x in inputs)
        xs = [x.data for x in inputs]
        out = op.forward(*xs)
        if not math.isfinite(out):  # the inputs are finite: only an overflow gets here
            _overflow(op, xs)
        local_grads = tuple(op.partials(*xs, out))
        if len(local_grads) != len(inputs):
            raise ValueError(f"{op.name}: partials gave {len(local_grads)} local derivatives for "
                             f"{len(inputs)} inputs")
        node = Value(out)
        node.inputs, node.local_grads, node.op = inputs, local_grads, op
        return node

    # Python's operators, one line each: the op record does the work.
    def __add__(self, other: Value | Number) -> Value: return Value.apply(ADD, self, other)
    def __radd__(self, other: Number) -> Value: return Value.apply(ADD, other, self)
    def __sub__(self, other: Value | Number) -> Value: return Value.apply(SUB, self, other)
    def __rsub__(self, other: Number) -> Value: return Value.apply(SUB, other, self)
    def __mul__(self, other: Value | Number) -> Value: return Value.apply(MUL, self, other)
    def __rmul__(self, other: Number) -> Value: return Value.apply(MUL, other, self)
    def __truediv__(self, other: Value | Number) -> Value: return Value.apply(DIV, self, other)
    def __rtruediv__(self, other: Number) -> Value: return Value.apply(DIV, other, self)
    def __neg__(self) -> Value: return Value.apply(NEG, self)
    def __rpow__(self, base: Number) -> Value: return Value.apply(POW, base, self)

    def __pow__(self, exponent: Value | Number) -> Value:
        if isinstance(exponent, Value):
            return Value.apply(POW, self, exponent)
        return Value.apply(power_op(finite_float(exponent, "the exponent")), self)  # x ** 2

    # One-input ops by name: the op of that name in OPS now (register_op adds x.softplus() too).
    def exp(self) -> Value: return Value.apply(OPS["exp"], self)
    def log(self) -> Value: return Value.apply(OPS["log"], self)
    def tanh(self) -> Value: return Value.apply(OPS["tanh"], self)
    def sigmoid(self) -> Value: return Value.apply(OPS["sigmoid"], self)
    def relu(self) -> Value: return Value.apply(OPS["relu"], self)
    def sin(self) -> Value: return Value.apply(OPS["sin"], self)
    def cos(self) -> Value: return Value.apply(OPS["cos"], self)
    def abs(self) -> Value: return Value.apply(OPS["abs"], self)
    def sqrt(self) -> Value: return Value.apply(OPS["sqrt"], self)
    def __abs__(self) -> Value: return Value.apply(OPS["abs"], self)

    def named(self, label: str) -> Value:
        """Set the label and return self, so a node can be named where it is built."""
        self.label = label
        return self

    def local_grad(self, node: Value) -> float:
        """d(self)/d(node) along the direct edges from node to self (summed if node is used twice)."""
        if not any(parent is node for parent in self.inputs):
            raise ValueError(f"{node!r} is not an input of {self!r}")
        return sum((local for parent, local in zip(self.inputs, self.local_grads) if parent is node), 0.0)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def edges(self) -> tuple:
        """The inputs, then their local derivatives, in one tuple (the layout of earlier versions)."""
        return self.inputs + self.local_grads

    def backward(self) -> None:
        """The chain rule from this node: d(self)/d(node) into every node's .grad.

        Leaves add this pass's partial to their .grad (they accumulate across calls: zero_grad()
        resets them); interior nodes hold this pass's. Raises OverflowError, naming the op and its
        inputs, where a gradient would leave the float range: no inf or nan is stored. Passes run
        one at a time (a lock), so threads sharing nodes each see a whole pass.
        """
        with _ONE_PASS_AT_A_TIME:
            order = topological_order(self)
            for node in order:
                if node.op is not None:
                    node.grad = 0.0  # an interior node: this pass's gradient only
            self.grad += 1.0  # d(self)/d(self)
            for node in reversed(order):  # each node after every node that uses it
                if node.grad == 0.0:
                    continue  # nothing reached it (or a mask, relu off): it sends nothing
                for parent, local in zip(node.inputs, node.local_grads):
                    total = parent.grad + local * node.grad  # the chain rule: +=, local x upstream
                    if not math.isfinite(total):
                        _not_finite("backward", node, node.grad)
                    parent.grad = total

    def zero_grad(self) -> None:
        """Reset the gradient of every node in the graph that ends here."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


_ONE_PASS_AT_A_TIME = threading.Lock()


def add_op_method(op: Op) -> None:
    """x.NAME() for a one-input op that register_op adds (a name Value uses already is left alone)."""
    name = op.name
    if op.arity != 1 or not op.function or hasattr(Value, name):
        return

    def method(self: Value) -> Value:
        return Value.apply(OPS[name], self)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(self) as a new node: the op {name!r} of OPS."
    method.registered = True  # type: ignore[attr-defined]
    setattr(Value, name, method)


def remove_op_method(name: str) -> None:
    """Undo add_op_method when unregister_op removes the op."""
    if getattr(Value.__dict__.get(name), "registered", False):
        delattr(Value, name)


def _call_op(op: Op, *inputs: Value | Number) -> Value:
    """op(x, ...): Value.apply(op, x, ...) (set on Op here: ops.py sits below the engine)."""
    return Value.apply(op, *inputs)


Op.__call__ = _call_op  # type: ignore[method-assign]


def lift(x: Value | Number) -> Value:
    """A Value as is; a number as a constant leaf."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except TypeError:
        raise TypeError(f"cannot combine a Value with {type(x).__name__}: {x!r}") from None


def linear(weights: Sequence[Value | Number], inputs: Sequence[Value | Number],
           bias: Value | Number | None = None) -> Value:
    """w1*x1 + w2*x2 + ... + b as one node: inputs (w1, x1, w2, x2, ..., b), local grads (x1, w1, ..., 1)."""
    if len(weights) != len(inputs):
        raise ValueError(f"linear: {len(weights)} weights for {len(inputs)} inputs")
    pairs = [v for w_x in zip(weights, inputs) for v in w_x]
    return Value.apply(OPS["linear"], *pairs, *([] if bias is None else [bias]))


def topological_order(root: Value) -> list[Value]:
    """Every node of the graph ending at root, each after all of its inputs (root last).

    A depth-first search with its own stack (no recursion: depth is limited by memory only). A
    node is met, pushed back, then its inputs on top of it, the first input last; when it comes up
    again its inputs are placed and it takes its place. The marks are kept here, not on the nodes.
    """
    order: list[Value] = []
    placed: dict[Value, bool] = {}  # False: met, its inputs pending; True: in the order
    stack = [root]
    while stack:
        node = stack.pop()
        state = placed.get(node)
        if state is None:
            placed[node] = False
            stack.append(node)
            stack.extend(parent for parent in reversed(node.inputs) if parent not in placed)
        elif state is False:
            placed[node] = True
            order.append(node)
    return order


def _overflow(op: Op, xs: Sequence[float]) -> NoReturn:
    args = ", ".join(repr(x) for x in xs)
    raise OverflowError(f"{op.name}: overflow, the result of {op.name}({args}) is not finite")


def _not_finite(where: str, node: Value, upstream: object) -> NoReturn:
    """Raise the OverflowError of a gradient that left the float range at node."""
    op, inputs, locals_ = node.op, node.inputs, node.local_grads
    call = f"{op.name}({', '.join(repr(p.data) for p in inputs)})"
    up = upstream.data if isinstance(upstream, Value) else upstream
    for name, parent, local in zip(op.input_names(len(inputs)), inputs, locals_):
        if not math.isfinite(local):
            label = f" ({parent.label})" if parent.label else ""
            raise OverflowError(
                f"{where}: overflow, the local derivative d out/d {name}{label} of {call} is "
                f"{local!r}, past the float range, and the gradient reaching it is {up!r}, not zero")
    raise OverflowError(f"{where}: overflow at {call}: the gradient reaching it, {up!r}, times its "
                        f"local derivatives {locals_!r} gives a gradient past the float range")


def grad(output: Value, inputs: Iterable[Value], create_graph: bool = False,
         order: Sequence[Value] | None = None) -> list:
    """d(output)/d(input) for each input, without touching any .grad (safe from several threads).

    With create_graph=False the results are floats, the same numbers backward() gives. With
    create_graph=True they are Values built from the op table's partial rules, so they can be
    differentiated again. An edge carrying a gradient of exactly zero, or whose local derivative
    is the constant 0, adds nothing (a mask stays a mask, even before an infinite derivative).
    Raises OverflowError, as backward() does, where a gradient would leave the float range.
    `order` is topological_order(output), if the caller has it.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: the output must be a Value, got {type(output).__name__}: {output!r}")
    if isinstance(inputs, Value):
        raise TypeError("grad: inputs must be a list of Values (for one Value x, write grad(y, [x]))")
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs must be Values, got {type(x).__name__}")
    adjoint: dict[Value, object] = {output: Value(1.0) if create_graph else 1.0}  # d output/d node
    for node in reversed(topological_order(output) if order is None else order):
        upstream = adjoint.get(node)
        if upstream is None or node.op is None:
            continue
        if create_graph:
            _add_value_terms(node, upstream, adjoint)
        elif upstream != 0.0:
            for parent, local in zip(node.inputs, node.local_grads):
                term = local * upstream
                total = adjoint[parent] + term if parent in adjoint else term
                if not math.isfinite(total):
                    _not_finite("grad", node, upstream)
                adjoint[parent] = total
    return [adjoint[x] if x in adjoint else Value(0.0) if create_graph else 0.0 for x in inputs]


def _add_value_terms(node: Value, upstream: Value, adjoint: dict) -> None:
    """create_graph: local * upstream for each input of node, as Values (the partials on Values)."""
    try:
        partials = node.op.partials(*node.inputs, node)
    except OverflowError as error:
        raise OverflowError(f"grad: the local derivatives of {node.op.name}"
                            f"({', '.join(repr(p.data) for p in node.inputs)}) as Values: {error}") from None
    for parent, local in zip(node.inputs, partials):
        if local.__class__ is not Value and local == 0.0:
            continue  # a constant zero slope: the term is zero whatever the upstream
        try:
            term = _times(local, upstream)
            adjoint[parent] = adjoint[parent] + term if parent in adjoint else term
        except OverflowError:
            _not_finite("grad", node, upstream)


def _times(local: Value | float, upstream: Value) -> Value:
    """local * upstream; a reciprocal 1/d (log's and div's partials) as upstream / d, which stays
    finite where 1/d and the upstream alone would underflow and overflow."""
    if local.__class__ is Value and local.op is DIV:
        one, d = local.inputs
        if one.op is None and one.data == 1.0:
            return upstream / d
    return local * upstream
