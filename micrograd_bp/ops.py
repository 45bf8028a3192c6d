"""The op records: everything the project knows about each op (pure data: registry.py adds new ones)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, Callable, Union

# The partial rules below are written with arithmetic and these helpers only, so they work on
# plain floats (eager forward) and on Values (create_graph=True gives higher derivatives).


def _call(name: str, x: Any) -> Any:
    """math.NAME(x) on a number, x.NAME() on a Value."""
    return getattr(math, name)(x) if isinstance(x, (int, float)) else getattr(x, name)()


def _heaviside(a: float) -> float:
    """1 above zero, 0 at or below: relu's slope."""
    return 1.0 if a > 0 else 0.0


def _step(x: Any) -> float:
    """Derivative of relu: step of the input's value, a constant also for a Value."""
    return _heaviside(x if isinstance(x, (int, float)) else x.data)


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


def _linear_names(n: int) -> tuple[str, ...]:
    names = [f"{c}{i + 1}" for i in range(n // 2) for c in "wx"]
    return tuple(names + ["b"] * (n % 2))


def _linear_formulas(n: int) -> tuple[str, ...]:
    names = _linear_names(n)
    return tuple(names[i ^ 1] for i in range(n - n % 2)) + ("1",) * (n % 2)


def _linear_code(n: int, join: str, mul: str, zero: str) -> str:
    """The weighted sum over {0}, {1}, ... in ops._linear's order: the bias (or zero) first."""
    start = [f"{{{n - 1}}}"] if n % 2 else [zero]
    return join.join(start + [f"{{{i}}}{mul}{{{i + 1}}}" for i in range(0, n - 1, 2)])


@dataclass(frozen=True)
class Replay:
    """The compiled replay's Python for one op: the same float operations as forward and partials,
    in the same order, so replay and eager agree bit for bit. {0}, {1}, ... are the inputs, {out}
    the result, {t} a temporary."""

    forward: str  # statements that set {out}
    partials: tuple[str, ...]  # one expression per input: d(out)/d(input)
    redo_if: str = ""  # a condition where eager raises but this code would not
    overflows: bool = False  # can give inf/nan without raising: checked after the forward pass
    partials_raise: bool = False  # the partials can raise: forward() computes them too
    finite_partials: bool = True  # the partials are finite whenever the forward values are
    propagates: tuple[int, ...] | None = ()  # inputs whose inf/nan always reaches out (None: all)


@dataclass(frozen=True)
class ArrayForm:
    """The batch replay's forward and partials on numpy arrays, for an op whose float form branches
    (or calls math): each takes the numpy module first, as Op.sympy takes SymPy, so this module
    imports no numpy. The arrays hold one value per sample; the results are those of the float
    form, sample by sample (register_op checks it at a few points)."""

    forward: Callable[..., Any]  # (numpy, *input arrays) -> the output array
    partials: Callable[..., tuple] | None = None  # (numpy, *inputs, out) -> one array per input;
    # None: the op's own partials work on arrays as written
    invalid: Callable[..., Any] | None = None  # (numpy, *inputs) -> True where eager raises although
    # the numpy results are finite (pow of a negative base); None: never


Formulas = Union[tuple[str, ...], Callable[[int], tuple[str, ...]]]


@dataclass(frozen=True, repr=False)
class Op:
    """One primitive, described once: every module reads what it needs of an op here.

    Only name, arity, forward, partials and formulas are needed; the rest have defaults. In the
    formulas the inputs are named a, b, ... in order (see input_names) and the result out.
    """

    name: str
    arity: int  # number of inputs; -1 for n-ary
    forward: Callable[..., float]  # floats -> float; raises a clear error outside its domain
    partials: Callable[..., tuple]  # (*inputs, out) -> one local derivative per input
    formulas: Formulas = ()  # each local derivative as text in the expression language
    symbol: str = ""  # how a drawing shows it; the name by default
    function: bool | None = None  # called by name in expressions: name(x, y); default: no infix
    infix: str = ""  # the operator of a binary op in expressions ("+", "**", ...)
    precedence: int = 5  # 1: + -, 2: * /, 3: unary -, 4: **, 5: a call or an atom
    latex: str | Callable[[int], str] = ""  # LaTeX of the op on {0}, {1}, ...
    js: str | Callable[[int], str] = ""  # a JavaScript expression of the forward on {0}, {1}, ...
    sympy: Callable[..., Any] | None = None  # (sympy module, *inputs) -> the SymPy expression
    replay: Replay | Callable[[Op, int], Replay] | None = None  # None: the replay calls forward
    exponent: float | None = None  # powc only: the fixed exponent
    array: ArrayForm | None = None  # the batch replay's numpy form; None: replayed sample by sample
    doc: str = field(default="", compare=False)  # one line for help texts

    def __post_init__(self) -> None:
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)
        if self.function is None:
            object.__setattr__(self, "function", self.arity >= 1 and not self.infix)
        if not self.latex:
            args = ", ".join(f"{{{i}}}" for i in range(max(self.arity, 1)))
            object.__setattr__(self, "latex", rf"\operatorname{{{{{self.name}}}}}\left({args}\right)")

    def input_names(self, n: int | None = None) -> tuple[str, ...]:
        """The names the formulas give the inputs of n: a, b, ...; linear: w1, x1, ..., b."""
        n = self.arity if n is None else n
        if self.name == "linear":
            return _linear_names(n)
        return tuple("abcdefghijklmnopqrstuvwxyz"[i] if i < 26 else f"a{i}" for i in range(n))

    def formulas_for(self, n: int | None = None) -> tuple[str, ...]:
        """One formula per input of a node with n inputs: the local derivative d(out)/d(input)."""
        n = self.arity if n is None else n
        return self.formulas(n) if callable(self.formulas) else self.formulas

    def latex_for(self, n: int | None = None) -> str:
        n = self.arity if n is None else n
        return self.latex(n) if callable(self.latex) else self.latex

    def js_for(self, n: int | None = None) -> str:
        n = self.arity if n is None else n
        return self.js(n) if callable(self.js) else self.js

    def __repr__(self) -> str:
        """What the op computes and its local derivatives: Op('mul': a*b; d/da = b, d/db = a)."""
        n = self.arity if self.arity >= 0 else 3  # an n-ary op shown on 3 inputs
        names = self.input_names(n)
        if self.exponent is not None:
            shape = f"a ** {_number_text(self.exponent)}"
        elif self.infix and n == 2:
            shape = f"a {self.infix} b"
        elif self.name == "neg":
            shape = "-a"
        else:
            shape = f"{self.name}({', '.join(names)})"
        try:
            local = ", ".join(f"d/d{x} = {f}" for x, f in zip(names, self.formulas_for(n)))
        except Exception:  # a user's formulas callable that fails: the repr still prints
            local = "formulas unavailable"
        return f"Op({self.name!r}: {shape}; {local})"


def _relu(a: float) -> float:
    return a if a > 0 else 0.0


def _data(x: Any) -> float:
    """A number as it is; a Value's data (a kink's slope is a constant, also on Values)."""
    return x if isinstance(x, (int, float)) else x.data


def _sign(x: Any) -> float:
    """abs's slope: 1 above zero, -1 below, 0 at zero (the convention: abs'(0) = 0)."""
    a = _data(x)
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0


def _sqrt(a: float) -> float:
    if a < 0:
        raise ValueError(f"sqrt: math domain error, sqrt({a!r}) is undefined (needs a number >= 0)")
    return math.sqrt(a)


def _sqrt_partial(a: Any, out: Any) -> tuple:
    if isinstance(out, (int, float)) and out == 0:
        raise ZeroDivisionError(f"sqrt: the derivative of sqrt(x) is infinite at x = {a!r}")
    return (1.0 / (2.0 * out),)


def _max_partials(a: Any, b: Any, out: Any) -> tuple:
    """A tie goes to the first input: d/da = 1, d/db = 0 where a == b."""
    return (1.0, 0.0) if _data(a) >= _data(b) else (0.0, 1.0)


def _min_partials(a: Any, b: Any, out: Any) -> tuple:
    """A tie goes to the first input: d/da = 1, d/db = 0 where a == b."""
    return (1.0, 0.0) if _data(a) <= _data(b) else (0.0, 1.0)


_SYMPY_FUNCTIONS: dict[tuple[str, int], Any] = {}  # (name, id of the sympy module) -> its class


def _sympy_sigmoid(sp: Any, a: Any) -> Any:
    """sigmoid(a) as a SymPy function whose derivative is written in its own terms,
    sigmoid(a)*(1 - sigmoid(a)), as the learner writes it; .rewrite(sp.exp) gives 1/(1 + exp(-a))."""
    key = ("sigmoid", id(sp))
    if key not in _SYMPY_FUNCTIONS:
        class sigmoid(sp.Function):  # noqa: N801 (SymPy prints a function by its class name)
            def fdiff(self, argindex: int = 1) -> Any:
                s = self.func(self.args[0])
                return s * (1 - s)

            def _eval_rewrite_as_exp(self, x: Any, **hints: Any) -> Any:
                return 1 / (1 + sp.exp(-x))

            @classmethod
            def eval(cls, x: Any) -> Any:
                return 1 / (1 + sp.exp(-x)) if x.is_Number else None

            def _eval_is_real(self) -> Any:
                return self.args[0].is_real

        _SYMPY_FUNCTIONS[key] = sigmoid
    return _SYMPY_FUNCTIONS[key](a)


_SIGMOID_PY = """if {0} >= 0.0:
    {out} = 1.0 / (1.0 + exp(-{0}))
else:
    {t} = exp({0})
    {out} = {t} / (1.0 + {t})"""
_SIGMOID_JS = "({0} >= 0 ? 1 / (1 + Math.exp(-{0})) : Math.exp({0}) / (1 + Math.exp({0})))"


def _linear_replay(op: Op, n: int) -> Replay:
    partials: list[str] = []
    for i in range(0, n - 1, 2):
        partials += (f"{{{i + 1}}}", f"{{{i}}}")
    return Replay("{out} = " + _linear_code(n, " + ", " * ", "0.0"), tuple(partials) + ("1.0",) * (n % 2),
                  overflows=True, propagates=None)


def _linear_sympy(sp: Any, *xs: Any) -> Any:
    total = xs[-1] if len(xs) % 2 else sp.Integer(0)
    for i in range(0, len(xs) - 1, 2):
        total = total + xs[i] * xs[i + 1]
    return total


# fmt: off
_BUILTIN = (
    Op("add", 2, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), ("1", "1"),
       symbol="+", infix="+", precedence=1, latex="{0} + {1}", js="{0} + {1}",
       sympy=lambda sp, a, b: a + b,
       replay=Replay("{out} = {0} + {1}", ("1.0", "1.0"), overflows=True, propagates=(0, 1))),
    Op("sub", 2, lambda a, b: a - b, lambda a, b, out: (1.0, -1.0), ("1", "-1"),
       symbol="-", infix="-", precedence=1, latex="{0} - {1}", js="{0} - {1}",
       sympy=lambda sp, a, b: a - b,
       replay=Replay("{out} = {0} - {1}", ("1.0", "-1.0"), overflows=True, propagates=(0, 1))),
    Op("mul", 2, lambda a, b: a * b, lambda a, b, out: (b, a), ("b", "a"),
       symbol="*", infix="*", precedence=2, latex=r"{0} \cdot {1}", js="{0} * {1}",
       sympy=lambda sp, a, b: a * b,
       replay=Replay("{out} = {0} * {1}", ("{1}", "{0}"), overflows=True, propagates=(0, 1))),
    Op("div", 2, _div, lambda a, b, out: (1.0 / b, -out / b), ("1/b", "-out/b"),
       symbol="/", infix="/", precedence=2, latex=r"\frac{{{0}}}{{{1}}}",
       js='({1} === 0 ? fail("div: division by zero (" + repr({0}) + " / 0)") : {0} / {1})',
       sympy=lambda sp, a, b: a / b,
       replay=Replay("{out} = {0} / {1}", ("1.0 / {1}", "-{out} / {1}"), overflows=True,
                     finite_partials=False, propagates=(0,))),
    Op("neg", 1, lambda a: -a, lambda a, out: (-1.0,), ("-1",),
       symbol="neg", function=False, precedence=3, latex="-{0}", js="-{0}",
       sympy=lambda sp, a: -a,
       replay=Replay("{out} = -{0}", ("-1.0",), propagates=(0,))),
    Op("pow", 2, _pow, lambda a, b, out: (_scaled_power(b, a, b - 1), out * _call("log", a)),
       ("b*a**(b - 1)", "out*log(a)"),
       symbol="**", infix="**", precedence=4, latex="{{{0}}}^{{{1}}}",
       js='({0} <= 0 ? fail("pow: a Value exponent needs a positive base, got base " + repr({0})) '
          ': power({0}, {1}))',
       sympy=lambda sp, a, b: a ** b,
       replay=Replay("{out} = {0} ** {1}", ("{1} * {0} ** ({1} - 1)", "{out} * log({0})"),
                     redo_if="{0} <= 0.0", partials_raise=True, finite_partials=False)),
    Op("exp", 1, _exp, lambda a, out: (out,), ("out",),
       latex="e^{{{0}}}",
       js='(Math.exp({0}) === Infinity ? fail("exp: overflow, exp(" + repr({0}) + ") is too large for a '
          'float") : Math.exp({0}))', sympy=lambda sp, a: sp.exp(a),
       replay=Replay("{out} = exp({0})", ("{out}",))),
    Op("log", 1, _log, lambda a, out: (1.0 / a,), ("1/a",),
       latex=r"\log\left({0}\right)",
       js='({0} <= 0 ? fail("log: math domain error, log(" + repr({0}) + ") is undefined (needs a '
          'positive number)") : Math.log({0}))', sympy=lambda sp, a: sp.log(a),
       replay=Replay("{out} = log({0})", ("1.0 / {0}",), finite_partials=False, propagates=(0,))),
    Op("tanh", 1, math.tanh, lambda a, out: (1.0 - out * out,), ("1 - out**2",),
       latex=r"\tanh\left({0}\right)", js="Math.tanh({0})", sympy=lambda sp, a: sp.tanh(a),
       replay=Replay("{out} = tanh({0})", ("1.0 - {out} * {out}",))),
    Op("sigmoid", 1, _sigmoid, lambda a, out: (out * (1.0 - out),), ("out*(1 - out)",),
       latex=r"\sigma\left({0}\right)", js=_SIGMOID_JS, sympy=_sympy_sigmoid,
       replay=Replay(_SIGMOID_PY, ("{out} * (1.0 - {out})",))),
    Op("relu", 1, _relu, lambda a, out: (_step(a),), ("step(a)",),
       latex=r"\operatorname{{relu}}\left({0}\right)", js="({0} > 0 ? {0} : 0)",
       sympy=lambda sp, a: sp.Max(a, 0),
       replay=Replay("{out} = {0} if {0} > 0.0 else 0.0", ("(1.0 if {0} > 0.0 else 0.0)",))),
    Op("step", 1, _heaviside, lambda a, out: (0.0,), ("0",),
       latex=r"\operatorname{{step}}\left({0}\right)", js="({0} > 0 ? 1 : 0)",
       sympy=lambda sp, a: sp.Heaviside(a, 0),
       replay=Replay("{out} = 1.0 if {0} > 0.0 else 0.0", ("0.0",)),
       doc="1 above zero, 0 at or below (relu's slope); its derivative is taken as 0"),
    Op("sin", 1, math.sin, lambda a, out: (_call("cos", a),), ("cos(a)",),
       latex=r"\sin\left({0}\right)", js="Math.sin({0})", sympy=lambda sp, a: sp.sin(a),
       replay=Replay("{out} = sin({0})", ("cos({0})",))),
    Op("cos", 1, math.cos, lambda a, out: (-_call("sin", a),), ("-sin(a)",),
       latex=r"\cos\left({0}\right)", js="Math.cos({0})", sympy=lambda sp, a: sp.cos(a),
       replay=Replay("{out} = cos({0})", ("-sin({0})",))),
    Op("abs", 1, lambda a: abs(float(a)), lambda a, out: (_sign(a),), ("step(a) - step(-a)",),
       latex=r"\left|{0}\right|", js="Math.abs({0})", sympy=lambda sp, a: sp.Abs(a),
       replay=Replay("{out} = fabs({0})", ("(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0)",),
                     propagates=(0,)),
       doc="|a|; its slope is -1, 0 or 1 (0 at a = 0)"),
    Op("sqrt", 1, _sqrt, _sqrt_partial, ("1/(2*out)",),
       latex=r"\sqrt{{{0}}}",
       js='({0} < 0 ? fail("sqrt: math domain error, sqrt(" + repr({0}) + ") is undefined (needs a number '
          '>= 0)") : {0} === 0 ? fail("sqrt: the derivative of sqrt(x) is infinite at x = " + repr({0})) '
          ': Math.sqrt({0}))',
       sympy=lambda sp, a: sp.sqrt(a),
       replay=Replay("{out} = sqrt({0})", ("1.0 / (2.0 * {out})",), redo_if="{0} <= 0.0",
                     partials_raise=True, finite_partials=False)),
    Op("max", 2, lambda a, b: a if a >= b else b, _max_partials, ("1 - step(b - a)", "step(b - a)"),
       latex=r"\max\left({0}, {1}\right)", js="({0} >= {1} ? {0} : {1})",
       sympy=lambda sp, a, b: sp.Max(a, b),
       replay=Replay("{out} = {0} if {0} >= {1} else {1}",
                     ("(1.0 if {0} >= {1} else 0.0)", "(0.0 if {0} >= {1} else 1.0)")),
       doc="the larger input; a tie goes to the first (d/da = 1, d/db = 0 where a == b)"),
    Op("min", 2, lambda a, b: a if a <= b else b, _min_partials, ("1 - step(a - b)", "step(a - b)"),
       latex=r"\min\left({0}, {1}\right)", js="({0} <= {1} ? {0} : {1})",
       sympy=lambda sp, a, b: sp.Min(a, b),
       replay=Replay("{out} = {0} if {0} <= {1} else {1}",
                     ("(1.0 if {0} <= {1} else 0.0)", "(0.0 if {0} <= {1} else 1.0)")),
       doc="the smaller input; a tie goes to the first (d/da = 1, d/db = 0 where a == b)"),
    # w1*x1 + w2*x2 + ... [+ b]: inputs interleaved (w1, x1, w2, x2, ..., b); one node per neuron
    Op("linear", -1, _linear, _linear_partials, _linear_formulas,
       function=False, precedence=1,
       latex=lambda n: " + ".join([f"{{{i}}} \\cdot {{{i + 1}}}" for i in range(0, n - 1, 2)]
                                  + [f"{{{n - 1}}}"] * (n % 2)),
       js=lambda n: "(" + _linear_code(n, " + ", " * ", "0") + ")",
       sympy=_linear_sympy, replay=_linear_replay),
)
# fmt: on

# The batch replay's numpy forms of the built-in ops (ArrayForm: numpy is passed in, never imported
# here). A form whose partials are None uses the op's own partials, which are plain arithmetic.
_ARRAY_FORMS = {
    "add": ArrayForm(lambda np, a, b: a + b),
    "sub": ArrayForm(lambda np, a, b: a - b),
    "mul": ArrayForm(lambda np, a, b: a * b),
    "div": ArrayForm(lambda np, a, b: a / b),  # b == 0 gives inf or nan: the replay redoes it eagerly
    "neg": ArrayForm(lambda np, a: -a),
    "pow": ArrayForm(lambda np, a, b: np.power(a, b),
                     lambda np, a, b, out: (b * np.power(a, b - 1.0), out * np.log(a)),
                     invalid=lambda np, a, b: a <= 0.0),  # eager needs a positive base
    "exp": ArrayForm(lambda np, a: np.exp(a)),
    "log": ArrayForm(lambda np, a: np.log(a)),
    "tanh": ArrayForm(lambda np, a: np.tanh(a)),
    "sigmoid": ArrayForm(lambda np, a: _sigmoid_array(np, a)),
    "relu": ArrayForm(lambda np, a: np.maximum(a, 0.0), lambda np, a, out: ((a > 0.0) * 1.0,)),
    "step": ArrayForm(lambda np, a: (a > 0.0) * 1.0),
    "linear": ArrayForm(lambda np, *xs: _linear_array(xs)),
}


def _linear_array(xs: tuple) -> Any:
    """_linear on arrays, in its order, never adding into an input in place."""
    total = xs[-1] if len(xs) % 2 else 0.0
    for i in range(0, len(xs) - 1, 2):
        total = total + xs[i] * xs[i + 1]
    return total


def _sigmoid_array(np: Any, a: Any) -> Any:
    """_sigmoid on an array: both branches from exp(-|a|), which never overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _power_array(n: float) -> ArrayForm:
    """x ** n on arrays; where its derivative is infinite at 0 (0 < n < 1) eager raises."""
    if n == 0:
        return ArrayForm(lambda np, a: np.power(a, 0.0), lambda np, a, out: (0.0,))
    return ArrayForm(lambda np, a: np.power(a, n), lambda np, a, out: (n * np.power(a, n - 1.0),),
                     invalid=(lambda np, a: a == 0.0) if 0 < n < 1 else None)


_BUILTIN = tuple(replace(op, array=_ARRAY_FORMS.get(op.name)) for op in _BUILTIN)

OPS: dict[str, Op] = {op.name: op for op in _BUILTIN}
"""Every op by name: the built-in ones and those added by register_op (powc ops are made per
exponent by power_op and are not listed)."""


def functions() -> tuple[str, ...]:
    """The ops called by name in expressions: exp(x), softplus(x), ..."""
    return tuple(name for name, op in OPS.items() if op.function)


# ------------------------------------------------------------------------------- fixed powers

_POWER_OPS: dict[float, Op] = {}  # x**2 in a loop builds its Op once
_MAX_POWER_OPS = 256


def _number_text(x: float) -> str:
    """A number as the expression language writes it: 2 for 2.0, 0.5, 1e-07."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def _literal(x: float) -> str:
    """A float as exact Python source (repr round-trips), parenthesised when negative."""
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


def _power_formula(n: float) -> str:
    if n == 0:
        return "0"
    if n == 1:
        return "1"
    m = n - 1
    power = "a" if m == 1 else f"a**{_number_text(m)}" if m > 0 else f"a**({_number_text(m)})"
    return f"-{power}" if n == -1 else f"{_number_text(n)}*{power}"


def _power_js(n: float) -> str:
    """The page's x ** n (ops._power), and where the derivative is infinite, _power_partial's error:
    the engine computes the partials when it makes the node, so the node fails there too."""
    forward = f"power({{0}}, {_literal(n)})"
    if not 0 < n < 1:
        return forward
    return f'({{0}} === 0 ? fail("pow: the derivative of x**{n!r} is infinite at x = 0") : {forward})'


def _power_replay(n: float) -> Replay:
    redo = "" if n.is_integer() else "{0} < 0.0"  # Python would give a complex number
    partial = "0.0" if n == 0 else f"{_literal(n)} * {{0}} ** {_literal(n - 1)}"
    return Replay(f"{{out}} = {{0}} ** {_literal(n)}", (partial,), redo_if=redo,
                  partials_raise=n != 0 and n < 1,
                  finite_partials=n == 0 or 1 <= n <= 100,  # n * a**(n-1) < n**n: finite
                  propagates=(0,) if n > 0 else ())  # inf ** n is inf for n > 0; inf ** -1 is 0.0


def power_op(exponent: float) -> Op:
    """x ** exponent for a fixed number exponent (no derivative with respect to it)."""
    op = _POWER_OPS.get(exponent)
    if op is None:
        n = float(exponent)
        text = _number_text(n)
        op = Op("powc", 1, lambda a: _power(a, n), lambda a, out: (_power_partial(a, n),),
                (_power_formula(n),), symbol=f"**{n:g}", function=False, precedence=4,
                latex=f"{{{{{{0}}}}}}^{{{{{text}}}}}", js=_power_js(n),
                sympy=lambda sp, a: a ** (sp.Integer(int(n)) if n.is_integer() else sp.Rational(repr(n))),
                replay=_power_replay(n), exponent=n, array=_power_array(n))
        if len(_POWER_OPS) < _MAX_POWER_OPS:
            _POWER_OPS[exponent] = op
    return op


def _power_partial(a: Any, n: float) -> Any:
    if n == 0:
        return 0.0
    if isinstance(a, (int, float)):
        if a == 0 and n < 1:
            raise ZeroDivisionError(f"pow: the derivative of x**{n!r} is infinite at x = 0")
        try:
            return n * a ** (n - 1)
        except OverflowError:
            return _scaled_power(n, a, n - 1)  # inf of the right sign
    return n * a ** (n - 1)


def _scaled_power(c: Any, a: Any, e: Any) -> Any:
    """c * a**e; on floats, an a**e past the float range gives inf of the product's sign (stored
    on the edge: backward() and grad() complain only if a gradient flows through it)."""
    if isinstance(a, (int, float)) and isinstance(e, (int, float)):
        try:
            return c * a ** e
        except OverflowError:
            negative = (c < 0) != (a < 0 and e % 2 == 1)
            return -math.inf if negative else math.inf
    return c * a ** e
