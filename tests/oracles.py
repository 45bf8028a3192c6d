"""Independent oracles the tests share: central finite differences and sympy expression trees."""

from __future__ import annotations

import math
from typing import Callable

import sympy
from hypothesis import strategies as st

from micrograd_bp import Value


def central_difference(f: Callable[[float], float], x: float, h: float | None = None) -> float:
    """(f(x+h) - f(x-h)) / 2h with h scaled to x."""
    h = h if h is not None else 1e-6 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


def close(a: float, b: float, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


# Random expression trees over variables x, y, z, evaluated both by the engine and by sympy.
# Functions are applied where they are defined: log and the Value exponent get positive arguments.
VARIABLES = ("x", "y", "z")
UNARY = ("neg", "exp_small", "log_pos", "tanh", "sigmoid", "square", "cube")
BINARY = ("add", "sub", "mul", "div_safe", "pow_pos")


def trees(max_leaves: int = 8):
    leaf = st.one_of(st.sampled_from(VARIABLES),
                     st.floats(-3, 3, allow_nan=False).map(lambda c: round(c, 3)))
    return st.recursive(
        leaf,
        lambda sub: st.one_of(
            st.tuples(st.sampled_from(UNARY), sub),
            st.tuples(st.sampled_from(BINARY), sub, sub),
        ),
        max_leaves=max_leaves,
    )


def _positive(v):  # 1 + v*v > 0, for both Values and sympy
    return 1 + v * v


def build(tree, env: dict, lib: str):
    """Evaluate a tree with env's values: lib 'engine' gives a Value, 'sympy' a sympy expression."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, float):
        return Value(tree) if lib == "engine" else sympy.Float(tree)
    name, *args = tree
    a = [build(t, env, lib) for t in args]
    S = lib == "sympy"
    if name == "neg":
        return -a[0]
    if name == "exp_small":  # exp of a bounded argument
        return (sympy.exp(sympy.tanh(a[0])) if S else a[0].tanh().exp())
    if name == "log_pos":
        return sympy.log(_positive(a[0])) if S else _positive(a[0]).log()
    if name == "tanh":
        return sympy.tanh(a[0]) if S else a[0].tanh()
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-a[0])) if S else a[0].sigmoid()
    if name == "square":
        return a[0] ** 2
    if name == "cube":
        return a[0] ** 3
    if name == "add":
        return a[0] + a[1]
    if name == "sub":
        return a[0] - a[1]
    if name == "mul":
        return a[0] * a[1]
    if name == "div_safe":
        return a[0] / _positive(a[1])
    if name == "pow_pos":  # positive base, Value exponent squashed to (-1, 1)
        return _positive(a[0]) ** (sympy.tanh(a[1]) if S else a[1].tanh())
    raise AssertionError(name)
