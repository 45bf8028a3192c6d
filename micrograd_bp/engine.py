"""Value, the node of the computation graph; topological order, backward() and grad()."""

from __future__ import annotations

import math
import numbers
import operator
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn, Union

from .ops import OPS, Op, power_op

# A number the engine takes: int, float, or any other real number type (fractions.Fraction,
# numpy's float32 and int64 ...): every numbers.Real but bool, read with float() or operator.index.
Number = Union[int, float, numbers.Real]

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_POW, _LINEAR = OPS["pow"], OPS["linear"]
_POWERS: dict[Number, Callable[[Value], Value]] = {}  # a finite int or float exponent -> its builder


_BIG = 2**1000  # ints below this in size convert to finite floats


def finite_float(x: object, what: str = "the number") -> float:
    """x as a float if it is a finite real number; TypeError if it is no real number, ValueError if
    it is not finite (inf, nan, or an integer too large for a float). The one check of a number."""
    cls = x.__class__
    if cls is float:
        if x - x == 0.0:  # finite (inf - inf and nan - nan are nan)
            return x
    elif cls is int and -_BIG < x < _BIG:  # the common cases first, before the ABC checks
        return float(x)
    elif isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {cls.__name__}: {x!r}")
    else:
        try:
            x = float(operator.index(x)) if isinstance(x, numbers.Integral) else float(x)
        except OverflowError:
            raise ValueError(f"{what} must be finite, got an integer of {int(x).bit_length()} bits, "
                             "too large for a float") from None
        if x - x == 0.0:
            return x
    raise ValueError(f"{what} must be finite, got {float(x)!r}")


def is_finite_real(x: object) -> bool:
    """True for a finite real number (what finite_float accepts), False for anything else."""
    try:
        finite_float(x)
    except (TypeError, ValueError):
        return False
    return True


class Value:
    """A scalar in the computation graph: its data, its gradient, and how it was computed."""

    # No __weakref__, no __dict__: 56 bytes a node (72 with the garbage collector's header), plus
    # its data (24) and one tuple, its edges: the inputs, then the local derivative on each edge
    # (72 bytes for two inputs, 56 for one). A node of a binary op is 168 bytes in all.
    __slots__ = ("data", "grad", "edges", "op", "label")

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        self.data = finite_float(data, "Value data")
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

    # Python's operators, one line each: _ADD_NODE ... are Value.apply's fast path for each op.
    def __add__(self, other: Value | Number) -> Value: return _ADD_NODE(self, other)
    def __radd__(self, other: Number) -> Value: return _ADD_NODE(_lift(other), self)
    def __sub__(self, other: Value | Number) -> Value: return _SUB_NODE(self, other)
    def __rsub__(self, other: Number) -> Value: return _SUB_NODE(_lift(other), self)
    def __mul__(self, other: Value | Number) -> Value: return _MUL_NODE(self, other)
    def __rmul__(self, other: Number) -> Value: return _MUL_NODE(_lift(other), self)
    def __truediv__(self, other: Value | Number) -> Value: return _DIV_NODE(self, other)
    def __rtruediv__(self, other: Number) -> Value: return _DIV_NODE(_lift(other), self)
    def __neg__(self) -> Value: return _NEG_NODE(self)
    def __rpow__(self, base: Number) -> Value: return _POW_NODE(_lift(base), self)

    def __pow__(self, exponent: Value | Number) -> Value:
        cls = exponent.__class__
        if cls is float or cls is int:  # x**2 in a loop: its builder straight from a cache
            make = _POWERS.get(exponent)
            if make is not None:
                return make(self)
        if isinstance(exponent, Value):
            return _POW_NODE(self, exponent)
        op = power_op(finite_float(exponent, "the exponent"))
        if (cls is float or cls is int) and len(_POWERS) < 256:  # generated once per exponent
            make = _POWERS[exponent] = _builder(op, 1)
            return make(self)
        return _apply(op, (self,))

    # exp, log, tanh, sigmoid, relu: the op of that name in OPS now (see _op_method, below the class)
    exp: Callable[[Value], Value]
    log: Callable[[Value], Value]
    tanh: Callable[[Value], Value]
    sigmoid: Callable[[Value], Value]
    relu: Callable[[Value], Value]

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
        """The chain rule from this node: d(self)/d(node) into every node's .grad.

        Leaves add this pass's partial to their .grad (they accumulate across calls: zero_grad()
        resets them); interior nodes hold this pass's. The loop below is, written plainly,

            for node in reversed(interior nodes, each after its inputs):   # self first
                if node.grad != 0.0:           # a node nothing reached, or a mask (relu off)
                    for input, local in zip(node.inputs, node.local_grads):
                        input.grad += local * node.grad

        Raises OverflowError, naming the op and its inputs, where a gradient would leave the float
        range (an infinite local derivative on an edge that carries a gradient, or a sum that
        overflows): no inf or nan is stored; the grads keep the part of the pass done before it.
        Passes run one at a time (a lock), so threads sharing nodes each see a whole pass, and
        leaves get every pass's gradient.
        """
        if self.op is None:
            self.grad += 1.0
            return
        with _ONE_PASS_AT_A_TIME:
            order = _interior_order(self)  # also sets their grads to 0
            self.grad = 1.0
            for node in reversed(order):
                upstream = node.grad
                if upstream == 0.0:
                    node.grad = 0.0  # plain 0.0 in place of the visit mark: no trace of the pass
                    continue
                # Speed: one and two inputs are unrolled, the n-ary loop goes by index; each new
                # sum is checked finite by g - g, which is 0.0 for a finite g and nan otherwise.
                # The additions are those of the loop above, in its order, bit for bit.
                edges = node.edges
                n = len(edges)
                if n == 4:
                    a, b, local_a, local_b = edges
                    g = a.grad + local_a * upstream
                    if g - g != 0.0:
                        _not_finite("backward", node, upstream, order)
                    a.grad = g
                    g = b.grad + local_b * upstream
                    if g - g != 0.0:
                        _not_finite("backward", node, upstream, order)
                    b.grad = g
                elif n == 2:
                    a, local_a = edges
                    g = a.grad + local_a * upstream
                    if g - g != 0.0:
                        _not_finite("backward", node, upstream, order)
                    a.grad = g
                else:
                    half = n >> 1
                    for i in range(half):
                        parent = edges[i]
                        g = parent.grad + edges[half + i] * upstream
                        if g - g != 0.0:
                            _not_finite("backward", node, upstream, order)
                        parent.grad = g

    def zero_grad(self) -> None:
        """Reset the gradient of every node in the graph that ends here."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


# ------------------------------------------------------------------------ building a node
# A node is made in one place: _NODE, the five stores below, which _node runs for the generic path
# and every generated builder inlines. Value() checks its input; these trust theirs.

_NODE = """node = _new(Value)
node.data = {data}
node.grad = 0.0
node.edges = {edges}
node.op = {op}
node.label = ''
return node"""
_new = object.__new__


def _generated(name: str, params: str, body: str, namespace: dict) -> Callable:
    source = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    exec(compile(source, f"<engine: {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


_node: Callable[[float, tuple, Op | None], Value] = _generated(
    "_node", "data, edges, op", _NODE.format(data="data", edges="edges", op="op"),
    {"_new": _new, "Value": Value})
_node.__doc__ = "A node: data, grad 0.0, edges (inputs, then their local derivatives), op, no label."


def _apply(op: Op, inputs: tuple[Value, ...]) -> Value:
    """Value.apply: the op's forward on the inputs' data, its partials on (*data, out)."""
    xs = list(map(_data, inputs))
    out = op.forward(*xs)
    if out - out != 0.0:  # inf or nan: only an overflow gets here, the inputs are finite
        _overflow(op, xs)
    xs.append(out)
    partials = op.partials(*xs)
    if len(partials) != len(inputs):
        raise ValueError(f"{op.name}: partials gave {len(partials)} local derivatives for "
                         f"{len(inputs)} inputs")
    return _node(out, inputs + tuple(partials), op)


_data = operator.attrgetter("data")


def _builder(op: Op, n: int, tupled: bool = False) -> Callable[..., Value]:
    """A function making a node of op from n Values (the operators' fast path; for two inputs the
    second may be a number; tupled: from one tuple of n Values, as linear passes them). Speed: it is
    generated from the op's replay template (ops.Replay, the float operations of its forward and
    partials, bit for bit), so a node costs one call, not one each for the forward, the partials and
    the node; anything the template cannot do as eager does (a redo condition, a Python error) goes
    to _apply, which raises the op's own error or stores an infinite derivative. An op without a
    template is built by _apply."""
    replay = op.replay(op, n) if callable(op.replay) else op.replay
    if replay is None:
        if tupled:
            return lambda inputs: _apply(op, inputs)
        return (lambda a, b: _apply(op, (a, lift(b)))) if n == 2 else (lambda *inputs: _apply(op, inputs))
    xs = [f"x{i}" for i in range(n)]
    names = {"out": "out", "t": "t"}
    inputs = [f"a{i}" for i in range(n)]
    lines = [", ".join(inputs) + ", = inputs"] if tupled and n else []
    if n == 2 and not tupled:
        lines.append("if a1.__class__ is not Value: a1 = lift(a1)")
    lines += [f"{x} = {a}.data" for x, a in zip(xs, inputs)]
    given = "inputs" if tupled else "(" + "".join(f"{a}, " for a in inputs) + ")"
    if replay.redo_if:
        lines.append(f"if {replay.redo_if.format(*xs, **names)}: return _apply(op, {given})")
    lines.append("try:")
    lines += ["    " + line for line in replay.forward.format(*xs, **names).split("\n")]
    lines += [f"    p{i} = {partial.format(*xs, **names)}" for i, partial in enumerate(replay.partials)]
    lines += ["except (ArithmeticError, ValueError):", f"    return _apply(op, {given})",
              "if out - out != 0.0: _overflow(op, (" + "".join(f"{x}, " for x in xs) + "))"]
    edges = "(" + "".join(f"{a}, " for a in inputs) + "".join(f"p{i}, " for i in range(n)) + ")"
    lines += _NODE.format(data="out", edges=edges, op="op").split("\n")
    namespace = {"_new": _new, "Value": Value, "lift": lift, "_apply": _apply, "_overflow": _overflow,
                 "op": op, "exp": math.exp, "log": math.log, "tanh": math.tanh}
    return _generated(f"make_{op.name}", "inputs" if tupled else ", ".join(inputs), "\n".join(lines),
                      namespace)


def _overflow(op: Op, xs: Sequence[float]) -> NoReturn:
    args = ", ".join(repr(x) for x in xs)
    raise OverflowError(f"{op.name}: overflow, the result of {op.name}({args}) is not finite")


def _lift(x: Number) -> Value:
    """A number (not a Value) as a constant leaf."""
    if x.__class__ is float and x - x == 0.0:
        return _node(x, (), None)
    try:
        return _node(finite_float(x), (), None)
    except TypeError:
        raise TypeError(f"cannot combine a Value with {type(x).__name__}: {x!r}") from None


def lift(x: Value | Number) -> Value:
    """A Value as is; a number as a constant leaf."""
    return x if isinstance(x, Value) else _lift(x)


_ADD_NODE, _SUB_NODE, _MUL_NODE, _DIV_NODE, _POW_NODE = (
    _builder(op, 2) for op in (_ADD, _SUB, _MUL, _DIV, _POW))
_NEG_NODE = _builder(_NEG, 1)


def _op_method(name: str) -> Callable[[Value], Value]:
    """Value.NAME(): a node of OPS[NAME], by the built-in record's generated builder while that
    record is the one in OPS (a replaced record, say a test's deliberately wrong rule, is built by
    calling its own forward and partials)."""
    built_in = OPS[name]
    make = _builder(built_in, 1)

    def method(self: Value) -> Value:
        op = OPS[name]
        return make(self) if op is built_in else _apply(op, (self,))
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(self) as a new node."
    return method


for _name in ("exp", "log", "tanh", "sigmoid", "relu"):
    setattr(Value, _name, _op_method(_name))
_LINEAR_NODES: dict[int, Callable[[tuple], Value]] = {}  # one builder per number of inputs, to 65


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
    n = len(args)
    make = _LINEAR_NODES.get(n)
    if make is None:
        if n > 65:  # a wide node: generated code would gain little and cost much to compile
            return _apply(_LINEAR, tuple(args))
        make = _LINEAR_NODES[n] = _builder(_LINEAR, n, tupled=True)
    return make(tuple(args))


# ------------------------------------------------------------------------ traversals
# Both are the same iterative depth-first search (no recursion: depth is limited by memory), with
# one and two inputs unrolled. A node is pushed, then its inputs last first; popped again once
# its inputs are placed, it takes its place. topological_order keeps its marks in a dict (it must
# not touch the nodes); backward()'s keeps them in the grads it is about to reset anyway.


def topological_order(root: Value) -> list[Value]:
    """Every node of the graph ending at root, each after all of its inputs (root last).

    The depth-first search of backward() (see _interior_order), leaves included: the visit marks
    are kept in the grads, each node's grad saved on entry and put back when the walk ends (under
    backward()'s lock, so no pass sees the marks; other threads reading a .grad meanwhile may).
    """
    order: list[Value] = []
    entered_nodes: list[Value] = []
    saved: list[float] = []
    entered, done = _Mark(), _Mark()
    stack = [root]
    pop, push, append = stack.pop, stack.append, order.append
    enter, save = entered_nodes.append, saved.append
    with _ONE_PASS_AT_A_TIME:
        try:
            while stack:
                node = pop()
                mark = node.grad
                if mark is entered:  # its inputs are placed: its place in the order
                    node.grad = done
                    append(node)
                elif mark is not done:
                    enter(node)
                    save(mark)
                    node.grad = entered
                    push(node)
                    edges = node.edges  # the inputs are pushed last first; one and two unrolled
                    n = len(edges)
                    if n == 4:
                        a, b, _, _ = edges
                        if b.grad is not done:
                            push(b)
                        if a.grad is not done:
                            push(a)
                    elif n == 2:
                        a = edges[0]
                        if a.grad is not done:
                            push(a)
                    elif n:
                        for parent in edges[(n >> 1) - 1::-1]:
                            if parent.grad is not done:
                                push(parent)
        finally:
            for node, grad_before in zip(entered_nodes, saved):
                node.grad = grad_before
    return order


class _Mark(float):
    """A zero that is its own object: a visit mark of one backward() pass, and a grad of 0.0.

    A subclass, because identity of plain floats is an implementation detail (PyPy compares
    floats by value); its arithmetic gives plain floats, and backward() replaces the marks left.
    """

    __slots__ = ()


_ONE_PASS_AT_A_TIME = threading.Lock()


def _interior_order(root: Value) -> list[Value]:
    """topological_order(root) without its leaves; each node's grad is set to 0 on the way.

    The visit marks are kept in the grads themselves: two new zeros, told apart from every other
    number by identity, say "inputs pending" and "placed".
    """
    order: list[Value] = []
    entered, done = _Mark(), _Mark()
    stack = [root]
    pop, push, append = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        mark = node.grad
        if mark is entered:
            node.grad = done
            append(node)
        elif mark is not done:
            node.grad = entered
            push(node)
            edges = node.edges
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


def _not_finite(where: str, node: Value, upstream: object, order: Sequence[Value] = ()) -> NoReturn:
    """Raise the OverflowError of a gradient that left the float range at node (after putting
    plain zeros in place of backward()'s visit marks)."""
    for other in order:
        if other.grad.__class__ is _Mark:
            other.grad = 0.0
    op = node.op
    inputs, locals_ = node.inputs, node.local_grads
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


# ------------------------------------------------------------------------ grad()


def grad(output: Value, inputs: Iterable[Value], create_graph: bool = False) -> list:
    """d(output)/d(input) for each input, without touching any .grad (safe from several threads).

    With create_graph=False the results are floats, the same numbers backward() gives. With
    create_graph=True they are Values built from the op table's partial rules, so they can be
    differentiated again. An edge carrying a gradient of exactly zero, or whose local derivative
    is the constant 0, adds nothing (a mask stays a mask, even before an infinite derivative).
    Raises OverflowError, as backward() does, where a gradient would leave the float range.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: the output must be a Value, got {type(output).__name__}: {output!r}")
    if isinstance(inputs, Value):
        raise TypeError("grad: inputs must be a list of Values (for one Value x, write grad(y, [x]))")
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs must be Values, got {type(x).__name__}")
    adjoint: dict[Value, object] = {output: Value(1.0) if create_graph else 1.0}
    for node in reversed(topological_order(output)):
        upstream = adjoint.get(node)
        if upstream is None or node.op is None:
            continue
        if create_graph:
            _add_value_terms(node, upstream, adjoint)
        elif upstream != 0.0:
            edges = node.edges
            for parent, local in zip(edges, edges[len(edges) >> 1:]):
                term = local * upstream
                total = adjoint[parent] + term if parent in adjoint else term
                if total - total != 0.0:
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
    if local.__class__ is Value and local.op is _DIV:
        one, d = local.edges[0], local.edges[1]
        if one.op is None and one.data == 1.0:
            return upstream / d
    return local * upstream
