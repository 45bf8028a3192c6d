"""The speed layer beneath engine.py: generated node builders and an unrolled backward, on Value.

engine.py is the specification; this module computes the same floats in the same order, bit for
bit (tests/test_fast.py holds the two together), with fewer Python calls. It installs itself when
imported, unless the environment variable MICROGRAD_BP_PLAIN is set to 1 (read at import), so a
learner can step through the plain code in a debugger. install() and uninstall() switch it later.
"""

from __future__ import annotations

import linecache
import math
import os
from collections.abc import Callable, Sequence

from . import engine
from .engine import (
    _ONE_PASS_AT_A_TIME,
    ADD,
    DIV,
    MUL,
    NEG,
    POW,
    SUB,
    Value,
    _not_finite,
    _overflow,
    finite_float,
    lift,
)
from .ops import OPS, Op, power_op

PLAIN_ENV = "MICROGRAD_BP_PLAIN"
_METHODS = ("exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "abs", "sqrt")
_MATH = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}  # replay code's names
_REPLACED = ("apply", "backward", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
             "__truediv__", "__rtruediv__", "__neg__", "__pow__", "__rpow__", *_METHODS)
_PLAIN = {name: Value.__dict__[name] for name in _REPLACED}  # engine.py's own, for uninstall()
_plain_apply = Value.__dict__["apply"].__func__

# ------------------------------------------------------------------------ building a node
# A node is made in one place: _NODE, the stores below, which every generated builder inlines
# (no call to Value(), whose check of the data the builders do not need: their data is a float).

_NODE = """node = _new(Value)
node.data = {data}
node.grad = 0.0
node.inputs = {inputs}
node.local_grads = {local_grads}
node.op = op
node.label = ''
return node"""
_new = object.__new__


def _generated(name: str, params: str, body: str, namespace: dict) -> Callable:
    """A function compiled from source; the source is kept in linecache, so inspect.getsource
    and a debugger show it."""
    source = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    filename = f"<micrograd_bp.fast: {name} #{len(_SOURCES)}>"
    _SOURCES[filename] = source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"__name__": __name__, **namespace}
    exec(compile(source, filename, "exec"), scope)  # noqa: S102
    return scope[name]


_SOURCES: dict[str, str] = {}  # every generated function's source, by its file name


def _builder(op: Op, n: int, tupled: bool = False) -> Callable[..., Value]:
    """A function making a node of op from n Values (for two inputs the second may be a number;
    tupled: from one tuple of n Values, as apply passes them), generated from the op's replay
    template (ops.Replay: the float operations of its forward and partials, bit for bit), so a node
    costs one call. What the template cannot do as the plain core does (a redo condition, a Python
    error) goes to engine's Value.apply. An op without a template is built by Value.apply."""
    replay = op.replay(op, n) if callable(op.replay) else op.replay
    if replay is None:
        if tupled:
            return lambda inputs: _plain_apply(op, *inputs)
        return lambda *inputs: _plain_apply(op, *inputs)
    xs = [f"x{i}" for i in range(n)]
    names = {"out": "out", "t": "t"}
    args = [f"a{i}" for i in range(n)]
    given = "inputs" if tupled else "(" + "".join(f"{a}, " for a in args) + ")"
    lines = [", ".join(args) + ", = inputs"] if tupled and n else []
    if n == 2 and not tupled:
        lines.append("if a1.__class__ is not Value: a1 = lift(a1)")
    lines += [f"{x} = {a}.data" for x, a in zip(xs, args)]
    if replay.redo_if:
        lines.append(f"if {replay.redo_if.format(*xs, **names)}: return _apply(op, *{given})")
    lines.append("try:")
    lines += ["    " + line for line in replay.forward.format(*xs, **names).split("\n")]
    lines += [f"    p{i} = {partial.format(*xs, **names)}" for i, partial in enumerate(replay.partials)]
    lines += ["except (ArithmeticError, ValueError):", f"    return _apply(op, *{given})",
              "if out - out != 0.0: _overflow(op, (" + "".join(f"{x}, " for x in xs) + "))"]
    constant = not any("{" in p for p in replay.partials)  # add's (1.0, 1.0): one tuple for all nodes
    partials = replay.partials if constant else [f"p{i}" for i in range(n)]
    local_grads = "(" + "".join(f"{p}, " for p in partials) + ")"
    lines += _NODE.format(data="out", inputs=given, local_grads=local_grads).split("\n")
    namespace = {"_new": _new, "Value": Value, "lift": lift, "_apply": _plain_apply,
                 "_overflow": _overflow, "op": op, **_MATH}
    return _generated(f"make_{op.name}", "inputs" if tupled else ", ".join(args), "\n".join(lines),
                      namespace)


_ADD_NODE, _SUB_NODE, _MUL_NODE, _DIV_NODE, _POW_NODE = (_builder(op, 2) for op in (ADD, SUB, MUL, DIV, POW))
_NEG_NODE = _builder(NEG, 1)
_POWERS: dict[float, Callable[[Value], Value]] = {}  # x**2 in a loop: a finite exponent -> its builder
_APPLIED: dict[tuple[int, int], tuple[Op, Callable]] = {}  # (id(op), n) -> (op, its tupled builder)
_MAX_BUILT, _MAX_WIDTH = 1024, 65  # a wide node: generated code would gain little, cost much to compile


def _leaf(x: float) -> Value:
    node = _new(Value)
    node.data = x
    node.grad = 0.0
    node.inputs = node.local_grads = ()
    node.op = None
    node.label = ""
    return node


def _lift(x: Value | float) -> Value:
    """engine.lift, a float straight to a constant leaf."""
    if x.__class__ is float and x - x == 0.0:
        return _leaf(x)
    return lift(x)


_BUILT_IN = {id(op): op for op in OPS.values()}  # the package's own records (nothing is registered yet)


def _trusted(op: Op) -> bool:
    """A record of the package's own, whose replay template is its forward and partials: a built-in
    op or a fixed power. A user's record (or a replaced one, say a test's wrong rule) is the
    specification itself and is built the plain way, by its forward and partials."""
    return _BUILT_IN.get(id(op)) is op or (op.exponent is not None and power_op(op.exponent) is op)


def apply(op: Op, *inputs: Value | float) -> Value:
    """Value.apply by the op's generated builder for this many inputs."""
    entry = _APPLIED.get((id(op), len(inputs)))
    if entry is None or entry[0] is not op:
        n = len(inputs)
        if (op.arity >= 0 and n != op.arity) or n > _MAX_WIDTH or len(_APPLIED) >= _MAX_BUILT \
                or not _trusted(op):
            return _plain_apply(op, *inputs)  # its error, or a node the plain way
        entry = _APPLIED[(id(op), n)] = (op, _builder(op, n, tupled=True))
    for x in inputs:
        if x.__class__ is not Value:
            inputs = tuple(map(lift, inputs))
            break
    return entry[1](inputs)


_LINEAR = OPS["linear"]


def linear(weights: Sequence[Value | float], inputs: Sequence[Value | float],
           bias: Value | float | None = None) -> Value:
    """engine.linear, its inputs interleaved by slices and built by the tupled builder of their number."""
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
    entry = _APPLIED.get((id(_LINEAR), len(args)))
    if entry is None:
        return apply(_LINEAR, *args)
    return entry[1](tuple(args))


def _radd(self: Value, other: float) -> Value: return _ADD_NODE(_lift(other), self)
def _rsub(self: Value, other: float) -> Value: return _SUB_NODE(_lift(other), self)
def _rmul(self: Value, other: float) -> Value: return _MUL_NODE(_lift(other), self)
def _rtruediv(self: Value, other: float) -> Value: return _DIV_NODE(_lift(other), self)
def _rpow(self: Value, base: float) -> Value: return _POW_NODE(_lift(base), self)


def _pow(self: Value, exponent: Value | float) -> Value:
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
    return _plain_apply(op, self)


def _op_method(name: str) -> Callable[[Value], Value]:
    """Value.NAME(): the built-in record's builder while that record is the one in OPS (a replaced
    record, say a test's deliberately wrong rule, is built the plain way)."""
    built_in = OPS[name]
    make = _builder(built_in, 1)

    def method(self: Value) -> Value:
        op = OPS[name]
        return make(self) if op is built_in else _plain_apply(op, self)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(self) as a new node."
    return method


# ------------------------------------------------------------------------ backward
# engine's loop, with the topological order's visit marks kept in the grads it is about to reset
# anyway (two zeros told apart by identity), one and two inputs unrolled, and each new sum checked
# finite by g - g (0.0 for a finite g, nan otherwise). The additions are the plain loop's, in its
# order, bit for bit.


class _Mark(float):
    """A zero that is its own object: a visit mark of one backward() pass, and a grad of 0.0.

    A subclass, because identity of plain floats is an implementation detail (PyPy compares
    floats by value); its arithmetic gives plain floats, and backward() replaces the marks left.
    """

    __slots__ = ()


def _interior_order(root: Value) -> list[Value]:
    """topological_order(root) without its leaves; each node's grad is set to 0 on the way."""
    order: list[Value] = []
    entered, done = _Mark(), _Mark()
    stack = [root]
    pop, push, append = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        mark = node.grad
        if mark is entered:  # its inputs are placed: its place in the order
            node.grad = done
            append(node)
        elif mark is not done:
            node.grad = entered
            push(node)
            inputs = node.inputs  # pushed last first; one and two unrolled
            n = len(inputs)
            if n == 2:
                a, b = inputs
                if b.op is not None and b.grad is not done:
                    push(b)
                if a.op is not None and a.grad is not done:
                    push(a)
            elif n == 1:
                a = inputs[0]
                if a.op is not None and a.grad is not done:
                    push(a)
            else:
                for parent in inputs[::-1]:
                    if parent.op is not None and parent.grad is not done:
                        push(parent)
    return order


def _fail(node: Value, upstream: float, order: Sequence[Value]) -> None:
    """engine's OverflowError, after putting plain zeros in place of the visit marks left."""
    for other in order:
        if other.grad.__class__ is _Mark:
            other.grad = 0.0
    _not_finite("backward", node, upstream)


def backward(self: Value) -> None:
    """The chain rule from this node: engine.Value.backward, computed faster (see fast.py)."""
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
            inputs = node.inputs
            n = len(inputs)
            if n == 2:
                a, b = inputs
                local_a, local_b = node.local_grads
                g = a.grad + local_a * upstream
                if g - g != 0.0:
                    _fail(node, upstream, order)
                a.grad = g
                g = b.grad + local_b * upstream
                if g - g != 0.0:
                    _fail(node, upstream, order)
                b.grad = g
            elif n == 1:
                a = inputs[0]
                g = a.grad + node.local_grads[0] * upstream
                if g - g != 0.0:
                    _fail(node, upstream, order)
                a.grad = g
            else:
                for parent, local in zip(inputs, node.local_grads):
                    g = parent.grad + local * upstream
                    if g - g != 0.0:
                        _fail(node, upstream, order)
                    parent.grad = g


# ------------------------------------------------------------------------ switching

_FAST = {"apply": staticmethod(apply), "backward": backward,
         "__add__": _ADD_NODE, "__radd__": _radd, "__sub__": _SUB_NODE, "__rsub__": _rsub,
         "__mul__": _MUL_NODE, "__rmul__": _rmul, "__truediv__": _DIV_NODE, "__rtruediv__": _rtruediv,
         "__neg__": _NEG_NODE, "__pow__": _pow, "__rpow__": _rpow,
         **{name: _op_method(name) for name in _METHODS}}


_PLAIN_LINEAR = engine.linear


def install() -> None:
    """Put the fast builders and backward on Value, and linear in engine (what importing the
    package does by default)."""
    for name, function in _FAST.items():
        setattr(Value, name, function)
    engine.linear = linear


def uninstall() -> None:
    """Put engine.py's own functions back: the plain core, as MICROGRAD_BP_PLAIN=1 runs it (modules
    that imported engine.linear by name keep the one they took)."""
    for name, function in _PLAIN.items():
        setattr(Value, name, function)
    engine.linear = _PLAIN_LINEAR


def installed() -> bool:
    """Whether Value runs the fast layer now."""
    return Value.__dict__["backward"] is backward


if os.environ.get(PLAIN_ENV, "") in ("", "0"):
    install()
