"""Value, the node of the computation graph; topological order, backward() and grad()."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Union

from .ops import OPS, Op, power_op

Number = Union[int, float]

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_POW, _LINEAR = OPS["pow"], OPS["linear"]


def _check_number(data: object, what: str) -> float:
    cls = data.__class__
    if cls is float:
        if data - data == 0.0:  # finite
            return data
    elif cls is int:
        return float(data)
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise TypeError(f"{what} must be an int or float, got {type(data).__name__}: {data!r}")
    value = float(data)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


class Value:
    """A scalar in the computation graph: its data, its gradient, and how it was computed."""

    # No __weakref__, no __dict__: 56 bytes a node (72 with the garbage collector's header), plus
    # its data (24) and one tuple, its edges: the inputs, then the local derivative on each edge
    # (72 bytes for two inputs, 56 for one). A node of a binary op is 168 bytes in all.
    __slots__ = ("data", "grad", "edges", "op", "label")

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = _check_number(data, "Value data")
        self.grad = 0.0
        self.edges: tuple = ()  # (input_1, ..., input_n, local_1, ..., local_n); () for a leaf
        self.op: Op | None = None
        self.label = label

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The nodes this one was computed from, in the op's order: the first half of edges."""
        edges = self.edges
        return edges[:len(edges) >> 1]

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(input) for each input, as computed in the forward pass: the second half of edges."""
        edges = self.edges
        return edges[len(edges) >> 1:]

    @staticmethod
    def apply(op: Op, *inputs: Value | Number) -> Value:
        """A new node: op's forward on the inputs' data, with the local derivatives on its edges."""
        if op.arity >= 0 and len(inputs) != op.arity:
            raise ValueError(f"{op.name} takes {op.arity} input{'s' * (op.arity != 1)}, got {len(inputs)}")
        return _apply(op, tuple(lift(x) for x in inputs))

    # Python's operators, one line each: _unary and _binary are Value.apply for one and two inputs.
    def __add__(self, other: Value | Number) -> Value: return _binary(_ADD, self, other)
    def __radd__(self, other: Number) -> Value: return _binary(_ADD, _lift(other), self)
    def __sub__(self, other: Value | Number) -> Value: return _binary(_SUB, self, other)
    def __rsub__(self, other: Number) -> Value: return _binary(_SUB, _lift(other), self)
    def __mul__(self, other: Value | Number) -> Value: return _binary(_MUL, self, other)
    def __rmul__(self, other: Number) -> Value: return _binary(_MUL, _lift(other), self)
    def __truediv__(self, other: Value | Number) -> Value: return _binary(_DIV, self, other)
    def __rtruediv__(self, other: Number) -> Value: return _binary(_DIV, _lift(other), self)
    def __neg__(self) -> Value: return _unary(_NEG, self)
    def __rpow__(self, base: Number) -> Value: return _binary(_POW, _lift(base), self)

    def __pow__(self, exponent: Value | Number) -> Value:
        if isinstance(exponent, Value):
            return _binary(_POW, self, exponent)
        return _unary(power_op(_check_number(exponent, "exponent")), self)

    def exp(self) -> Value: return _unary(OPS["exp"], self)
    def log(self) -> Value: return _unary(OPS["log"], self)
    def tanh(self) -> Value: return _unary(OPS["tanh"], self)
    def sigmoid(self) -> Value: return _unary(OPS["sigmoid"], self)
    def relu(self) -> Value: return _unary(OPS["relu"], self)

    def named(self, label: str) -> Value:
        """Set the label and return self, so a node can be named where it is built."""
        self.label = label
        return self

    def local_grad(self, node: Value) -> float:
        """d(self)/d(node) along the direct edges from node to self (summed if node is used twice)."""
        total, found = 0.0, False
        for parent, local in zip(self.inputs, self.local_grads):
            if parent is node:
                total, found = total + local, True
        if not found:
            raise ValueError(f"{node!r} is not an input of {self!r}")
        return total

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def backward(self) -> None:
        """Chain rule from this node: leaves accumulate into .grad, interior nodes hold this pass's."""
        if self.op is None:
            self.grad += 1.0
            return
        order = _interior_order(self)  # also sets their grads to 0
        self.grad = 1.0
        for node in reversed(order):
            upstream = node.grad
            if upstream == 0.0:
                continue
            edges = node.edges
            n = len(edges)  # one and two inputs unrolled; the same additions in the same order
            if n == 4:
                a, b, local_a, local_b = edges
                a.grad += local_a * upstream
                b.grad += local_b * upstream
            elif n == 2:
                a, local_a = edges
                a.grad += local_a * upstream
            else:
                half = n >> 1
                if half < 10:  # few inputs: by index, no new tuple
                    for i in range(half):
                        edges[i].grad += edges[half + i] * upstream
                else:  # many: zip stops with the shorter, so (input_i, local_i) for each i
                    for parent, local in zip(edges, edges[half:]):
                        parent.grad += local * upstream

    def zero_grad(self) -> None:
        """Reset the gradient of every node in the graph that ends here."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


_new = object.__new__


def _apply(op: Op, inputs: tuple[Value, ...]) -> Value:
    xs = [v.data for v in inputs]
    out = op.forward(*xs)
    if out - out != 0.0:  # inf or nan: only an overflow gets here, the inputs are finite
        _overflow(op, xs)
    xs.append(out)
    partials = op.partials(*xs)  # (*inputs, out)
    if len(partials) != len(inputs):
        raise ValueError(f"{op.name}: partials gave {len(partials)} local derivatives for "
                         f"{len(inputs)} inputs")
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.edges = inputs + partials
    node.op = op
    node.label = ""
    return node


def _overflow(op: Op, xs: Sequence[float]) -> None:
    args = ", ".join(repr(x) for x in xs)
    raise OverflowError(f"{op.name}: overflow, the result of {op.name}({args}) is not finite")


def _unary(op: Op, a: Value) -> Value:
    x = a.data
    out = op.forward(x)
    if out - out != 0.0:
        _overflow(op, (x,))
    (local_a,) = op.partials(x, out)  # unpacked into one new tuple: faster than a concatenation
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.edges = (a, local_a)
    node.op = op
    node.label = ""
    return node


def _binary(op: Op, a: Value, b: Value | Number) -> Value:
    if b.__class__ is not Value:
        b = lift(b)
    x = a.data
    y = b.data
    out = op.forward(x, y)
    if out - out != 0.0:
        _overflow(op, (x, y))
    local_a, local_b = op.partials(x, y, out)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.edges = (a, b, local_a, local_b)
    node.op = op
    node.label = ""
    return node


def _lift(x: Number) -> Value:
    """A number (not a Value) as a constant leaf; a finite float without the checks Value() makes."""
    if x.__class__ is float and x - x == 0.0:
        node = _new(Value)
        node.data = x
        node.grad = 0.0
        node.edges = ()
        node.op = None
        node.label = ""
        return node
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"cannot combine a Value with {type(x).__name__}: {x!r}")
    return Value(x)


def lift(x: Value | Number) -> Value:
    """A Value as is; a number as a constant leaf."""
    return x if isinstance(x, Value) else _lift(x)


def linear(weights: Sequence[Value | Number], inputs: Sequence[Value | Number],
           bias: Value | Number | None = None) -> Value:
    """w1*x1 + w2*x2 + ... + b as one node, whose edges carry x_i, w_i and 1."""
    n = len(weights)
    if n != len(inputs):
        raise ValueError(f"linear: {n} weights for {len(inputs)} inputs")
    m = 2 * n
    args: list = [bias] * (m + (bias is not None))  # (w1, x1, w2, x2, ..., b)
    args[0:m:2] = weights
    args[1:m:2] = inputs
    for a in args:
        if a.__class__ is not Value:
            args = [lift(a) for a in args]
            break
    return _apply(_LINEAR, tuple(args))


def topological_order(root: Value) -> list[Value]:
    """Every node of the graph ending at root, each after all of its inputs (root last).

    Iterative depth-first search, so graph depth is limited by memory, not the recursion limit.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        edges = node.edges
        for parent in edges[(len(edges) >> 1) - 1::-1]:  # the inputs, last first
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


class _Mark(float):
    """A zero that is its own object: a visit mark of one backward() pass, and a grad of 0.0.

    A subclass, because identity of plain floats is an implementation detail (PyPy compares
    floats by value); its arithmetic gives plain floats.
    """

    __slots__ = ()


def _interior_order(root: Value) -> list[Value]:
    """topological_order(root) without its leaves; each node's grad is set to 0 on the way.

    The same depth-first search, with the visit marks kept in the grads themselves: two new zeros,
    told apart from every other number by identity, say "inputs pending" and "done".
    """
    order: list[Value] = []
    entered, done = _Mark(), _Mark()
    stack = [root]
    pop, push, append = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        mark = node.grad
        if mark is entered:  # its inputs are done: its place in the order
            node.grad = done
            append(node)
        elif mark is not done:
            node.grad = entered
            push(node)
            edges = node.edges  # the inputs are pushed last first; one and two unrolled
            n = len(edges)
            if n == 4:
                a, b, _, _ = edges
                if b.op is not None and b.grad is not done:
                    push(b)
                if a.op is not None and a.grad is not done:
                    push(a)
            elif n == 2:
                a = edges[0]
                if a.op is not None and a.grad is not done:
                    push(a)
            else:
                for parent in edges[(n >> 1) - 1::-1]:
                    if parent.op is not None and parent.grad is not done:
                        push(parent)
    return order


def grad(output: Value, inputs: Iterable[Value], create_graph: bool = False) -> list:
    """d(output)/d(input) for each input, without touching any .grad.

    With create_graph=False the results are floats. With create_graph=True they are Values built
    from the op table's partial rules, so they can be differentiated again.
    """
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs must be Values, got {type(x).__name__}")
    order = topological_order(output)
    adjoint: dict[int, object] = {id(output): Value(1.0) if create_graph else 1.0}
    for node in reversed(order):
        upstream = adjoint.get(id(node))
        if upstream is None or node.op is None:
            continue
        if create_graph:
            locals_ = node.op.partials(*node.inputs, node)
        else:
            locals_ = node.local_grads
        for parent, local in zip(node.inputs, locals_):
            term = local * upstream
            key = id(parent)
            adjoint[key] = adjoint[key] + term if key in adjoint else term
    missing = (lambda: Value(0.0)) if create_graph else (lambda: 0.0)
    return [adjoint[id(x)] if id(x) in adjoint else missing() for x in inputs]
