"""The op table: each op's forward on floats and its local partial derivatives."""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable

# The partial rules below are written with arithmetic and these helpers only, so they work on
# plain floats (eager forward) and on Values (create_graph=True gives higher derivatives).


def _call(name: str, x: Any) -> Any:
    """math.NAME(x) on a number, x.NAME() on a Value."""
    return getattr(math, name)(x) if isinstance(x, (int, float)) else getattr(x, name)()


def _step(x: Any) -> float:
    """Derivative of relu: 1 above zero, 0 at or below (a constant, also for a Value)."""
    value = x if isinstance(x, (int, float)) else x.data
    return 1.0 if value > 0 else 0.0


# Forwards that can leave their domain raise the exception type Python's math module uses,
# with a message that names the op and the offending value.


def _div(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError(f"div: division by zero ({a!r} / 0)")
    return a / b


def _exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise OverflowError(f"exp: overflow, exp({a!r}) is too large for a float") from None


def _log(a: float) -> float:
    if a <= 0:
        raise ValueError(f"log: math domain error, log({a!r}) is undefined (needs a positive number)")
    return math.log(a)


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)  # the stable branch: never overflows for very negative a
    return e / (1.0 + e)


def _power(a: float, n: float) -> float:
    if a == 0 and n < 0:
        raise ZeroDivisionError(f"pow: 0 cannot be raised to the negative power {n!r}")
    if a < 0 and not float(n).is_integer():
        raise ValueError(f"pow: math domain error, negative base {a!r} with non-integer exponent {n!r}")
    try:
        return float(a) ** n
    except OverflowError:
        raise OverflowError(f"pow: overflow, {a!r} ** {n!r} is too large for a float") from None


def _pow(a: float, b: float) -> float:
    if a <= 0:
        raise ValueError(f"pow: a Value exponent needs a positive base, got base {a!r}")
    return _power(a, b)


def _linear(*xs: float) -> float:
    total = xs[-1] if len(xs) % 2 else 0.0  # the bias, if there is one
    pairs = iter(xs)
    for w, x in zip(pairs, pairs):  # (w1, x1), (w2, x2), ...: added left to right
        total += w * x
    return total


_PAIR_SWAPS: dict[int, Callable[[tuple], tuple]] = {}  # one per width: (x1, w1, x2, w2, ...)


def _linear_partials(*xs_and_out: Any) -> tuple:
    """d/dw_i = x_i, d/dx_i = w_i, d/db = 1: the inputs swapped in pairs, and 1.0 for a bias."""
    n = len(xs_and_out) - 1
    paired = n - n % 2
    swap = _PAIR_SWAPS.get(paired)
    if swap is None:
        swap = itemgetter(*[i ^ 1 for i in range(paired)]) if paired else (lambda xs: ())
        if len(_PAIR_SWAPS) < 1024:
            _PAIR_SWAPS[paired] = swap
    return swap(xs_and_out) + (1.0,) if n % 2 else swap(xs_and_out)


@dataclass(frozen=True)
class Op:
    """One primitive: forward on floats, and d(out)/d(input_i) given the inputs and the output."""

    name: str
    symbol: str  # how a drawing or an expression shows it
    arity: int  # number of inputs; -1 for n-ary
    forward: Callable[..., float]
    partials: Callable[..., tuple]  # (*inputs, out) -> one local derivative per input
    exponent: float | None = None  # powc only: the fixed exponent (compiled replay reads it)


def _op(name, symbol, arity, forward, partials) -> Op:
    return Op(name, symbol, arity, forward, partials)


# fmt: off
OPS: dict[str, Op] = {op.name: op for op in (
    _op("add",     "+",       2, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0)),
    _op("sub",     "-",       2, lambda a, b: a - b, lambda a, b, out: (1.0, -1.0)),
    _op("mul",     "*",       2, lambda a, b: a * b, lambda a, b, out: (b, a)),
    _op("div",     "/",       2, _div,               lambda a, b, out: (1.0 / b, -out / b)),
    _op("neg",     "neg",     1, lambda a: -a,       lambda a, out: (-1.0,)),
    _op("pow",     "**",      2, _pow,               lambda a, b, out: (b * a ** (b - 1), out * _call("log", a))),  # noqa: E501
    _op("exp",     "exp",     1, _exp,               lambda a, out: (out,)),
    _op("log",     "log",     1, _log,               lambda a, out: (1.0 / a,)),
    _op("tanh",    "tanh",    1, math.tanh,          lambda a, out: (1.0 - out * out,)),
    _op("sigmoid", "sigmoid", 1, _sigmoid,           lambda a, out: (out * (1.0 - out),)),
    _op("relu",    "relu",    1, lambda a: a if a > 0 else 0.0, lambda a, out: (_step(a),)),
    # w1*x1 + w2*x2 + ... [+ b]: inputs interleaved (w1, x1, w2, x2, ..., b); one node per neuron
    _op("linear",  "linear", -1, _linear,            _linear_partials),
)}
# fmt: on


_POWER_OPS: dict[float, Op] = {}  # x**2 in a loop builds its Op once
_MAX_POWER_OPS = 256


def power_op(exponent: float) -> Op:
    """x ** exponent for a fixed number exponent (no derivative with respect to it)."""
    op = _POWER_OPS.get(exponent)
    if op is None:
        n = exponent
        op = Op("powc", f"**{n:g}", 1, lambda a: _power(a, n), lambda a, out: (_power_partial(a, n),), n)
        if len(_POWER_OPS) < _MAX_POWER_OPS:
            _POWER_OPS[exponent] = op
    return op


def _power_partial(a: Any, n: float) -> Any:
    if n == 0:
        return 0.0
    if isinstance(a, (int, float)) and a == 0 and n < 1:
        raise ZeroDivisionError(f"pow: the derivative of x**{n!r} is infinite at x = 0")
    return n * a ** (n - 1)


# The ops that read as functions in expressions: name(x).
FUNCTIONS: tuple[str, ...] = ("exp", "log", "tanh", "sigmoid", "relu")
