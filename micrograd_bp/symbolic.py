"""Derivatives as formulas: graphs and expressions to SymPy and back (SymPy is an optional extra)."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import latex, ops, render
from .engine import Value, topological_order
from .expr import ExprError, Expression, parse

INSTALL = "pip install 'micrograd_bp[symbolic]'  (or: pip install sympy)"
SIMPLIFY_LIMIT = 400  # operations: above this, a derivative is only expanded a little, not simplified


class SymbolicUnavailable(ImportError):
    """SymPy is not installed: the message gives the install command."""


def sympy_module() -> ModuleType:
    """SymPy, imported on first use; SymbolicUnavailable (with the install command) without it."""
    try:
        import sympy
    except ImportError:
        raise SymbolicUnavailable(f"this needs SymPy, which is not installed: {INSTALL}") from None
    return sympy


def _sympy_form(op: ops.Op) -> Any:
    if op.sympy is None:
        raise ValueError(f"the op {op.name!r} has no SymPy form: give its record a sympy field, "
                         f"e.g. Op(..., sympy=lambda sp, a: ...)")
    return op.sympy


def _number(sp: ModuleType, x: float) -> Any:
    """A float as an exact SymPy number: 0.1 as 1/10 (its shortest decimal), 2.0 as 2."""
    if float(x).is_integer() and abs(x) < 1e16:
        return sp.Integer(int(x))
    return sp.Rational(repr(float(x)))


def to_sympy(value: Value | Expression | str) -> Any:
    """A graph (or expression text) as a SymPy expression: labelled leaves (variables) become real
    symbols named by their labels, unlabelled constants become exact numbers, and every op maps
    through its record's `sympy` field (ValueError for an op without one)."""
    sp = sympy_module()
    if isinstance(value, str):
        value = parse(value)
    if isinstance(value, Expression):
        return _expression_to_sympy(sp, value)
    if not isinstance(value, Value):
        raise TypeError(f"to_sympy: expected a Value or an expression, got {type(value).__name__}")
    symbols: dict[int, Any] = {}
    named: dict[str, Value] = {}
    for node in topological_order(value):
        if node.op is None:
            if node.label and named.setdefault(node.label, node) is not node:
                raise ValueError(f"two different leaves are named {node.label!r}: as symbols they would be "
                                 "one variable; give them different labels")
            symbols[id(node)] = sp.Symbol(node.label, real=True) if node.label else _number(sp, node.data)
        else:
            symbols[id(node)] = _sympy_form(node.op)(sp, *(symbols[id(p)] for p in node.inputs))
    return symbols[id(value)]


def _expression_to_sympy(sp: ModuleType, expression: Expression) -> Any:
    return expression.fold(lambda x: _number(sp, x), lambda n: sp.Symbol(n, real=True),
                           lambda op, args: _sympy_form(op)(sp, *args))


# ------------------------------------------------------------------ SymPy -> the expression language
# A SymPy expression is read into the op records (in the order SymPy's own printer writes terms
# and factors), and render.py writes it: the parentheses are decided where every other text's are.

def _op_piece(name: str, *args: render.Piece) -> render.Piece:
    return render.apply(ops.OPS[name], list(args), render.TEXT)


def _number_piece(sp: ModuleType, x: Any) -> render.Piece:
    """An exact number: a decimal the user could have typed when it is exact, else p/q."""
    if x < 0:
        return _op_piece("neg", _number_piece(sp, -x))
    if x.is_Integer:
        n = int(x)
        if n >= 10 ** 16 and n < 10 ** 308 and sp.Integer(int(float(n))) == n:
            return render.Piece(repr(float(n)))  # 2e+300, not three hundred digits
        return render.Piece(str(n))
    if x.is_Rational:
        text = repr(float(x))
        if "inf" not in text and sp.Rational(text) == x:
            return render.Piece(text)
        return _op_piece("div", _number_piece(sp, sp.Integer(x.p)), _number_piece(sp, sp.Integer(x.q)))
    text = repr(float(x))
    if not x.is_Float or "inf" in text or "nan" in text:
        raise ValueError(f"{x} is not a finite number")
    return render.Piece(text)


def _product(sp: ModuleType, factors: list, negative: bool = False) -> render.Piece:
    """The factors multiplied left to right; negative: a minus on the first (-2*x*y, as SymPy)."""
    pieces = [_piece(sp, f) for f in factors] or [render.Piece("1")]
    result = _op_piece("neg", pieces[0]) if negative else pieces[0]
    for p in pieces[1:]:
        result = _op_piece("mul", result, p)
    return result


def _mul_piece(sp: ModuleType, expr: Any) -> render.Piece:
    coefficient, _ = expr.as_coeff_Mul()
    negative = coefficient < 0
    above, below = [], []
    for item in (-expr if negative else expr).as_ordered_factors():
        if item.is_Pow and item.exp.is_Rational and item.exp.is_negative:
            below.append(sp.Pow(item.base, -item.exp, evaluate=item.exp == -1))
        elif item.is_Rational:
            above += [sp.Integer(item.p)] * (item.p != 1)
            below += [sp.Integer(item.q)] * (item.q != 1)
        else:
            above.append(item)
    numerator = _product(sp, above, negative)
    return _op_piece("div", numerator, _product(sp, below)) if below else numerator


def _add_piece(sp: ModuleType, expr: Any) -> render.Piece:
    terms = expr.as_ordered_terms()
    result = _piece(sp, terms[0])
    for term in terms[1:]:
        if term.could_extract_minus_sign():
            result = _op_piece("sub", result, _piece(sp, -term))
        else:
            result = _op_piece("add", result, _piece(sp, term))
    return result


def _pow_piece(sp: ModuleType, expr: Any) -> render.Piece:
    base, exponent = expr.as_base_exp()
    if exponent == sp.Rational(1, 2):
        return _op_piece("sqrt", _piece(sp, base))
    if exponent.is_Rational and exponent.is_negative:
        return _op_piece("div", render.Piece("1"), _piece(sp, sp.Pow(base, -exponent)))
    return _op_piece("pow", _piece(sp, base), _piece(sp, exponent))


def _function_piece(sp: ModuleType, expr: Any) -> render.Piece:
    """A SymPy function as the op of the same meaning: Abs as abs, Max(x, 0) as relu, Heaviside
    as step, sign as step(x) - step(-x); an op's own name (exp, sigmoid, a registered one) as it."""
    args = [_piece(sp, a) for a in expr.args]
    name = type(expr).__name__
    if isinstance(expr, (sp.Max, sp.Min)):
        if len(expr.args) == 2 and 0 in expr.args and isinstance(expr, sp.Max):
            return _op_piece("relu", _piece(sp, expr.args[0] if expr.args[1] == 0 else expr.args[1]))
        result = args[0]
        for a in args[1:]:
            result = _op_piece("max" if isinstance(expr, sp.Max) else "min", result, a)
        return result
    if isinstance(expr, sp.Heaviside):
        return _op_piece("step", args[0])
    if isinstance(expr, sp.sign):
        return _op_piece("sub", _op_piece("step", args[0]), _op_piece("step", _piece(sp, -expr.args[0])))
    name = {"Abs": "abs"}.get(name, name)
    op = ops.OPS.get(name)
    if op is None or not op.function or len(args) != max(op.arity, 1):
        raise ValueError(f"{name} has no form in the expression language")
    return _op_piece(name, *args)


def _piece(sp: ModuleType, expr: Any) -> render.Piece:
    if expr.is_Number:
        return _number_piece(sp, expr)
    if expr is sp.E:
        return _op_piece("exp", render.Piece("1"))
    if expr.is_Symbol:
        return render.Piece(expr.name)
    if expr.is_Add:
        return _add_piece(sp, expr)
    if expr.is_Mul:
        return _mul_piece(sp, expr)
    if expr.is_Pow:
        return _pow_piece(sp, expr)
    if isinstance(expr, (sp.Function, sp.Max, sp.Min)):
        return _function_piece(sp, expr)
    raise ValueError(f"{type(expr).__name__} has no form in the expression language")


def to_text(expr: Any) -> str:
    """A SymPy expression in the project's expression language (parse() reads it back), written by
    render.py; ValueError for a form the language has no words for (DiracDelta, Piecewise)."""
    sp = sympy_module()
    if expr in (sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ValueError(f"the derivative is {expr}: not a finite formula")
    try:
        text = _piece(sp, sp.sympify(expr)).text
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"cannot write {expr} in the expression language: {error}") from None
    try:
        parse(text)
    except ExprError as error:
        raise ValueError(f"cannot write {expr} in the expression language ({error})") from None
    return text


def simplify(expr: Any) -> Any:
    sp = sympy_module()
    if sp.count_ops(expr) > SIMPLIFY_LIMIT:
        return sp.expand(expr, deep=False)
    return sp.simplify(expr)


def _writable(raw: Any) -> tuple[Any, str]:
    """The shortest of the simplified derivative and the derivative as differentiated that the
    expression language can write (simplify may bring in cosh, which it cannot)."""
    found: list[tuple[int, str, Any]] = []
    error: ValueError | None = None
    for candidate in (simplify(raw), raw):
        try:
            text = to_text(candidate)
        except ValueError as e:
            error = error or e
            continue
        found.append((len(text), text, candidate))
    if not found:
        assert error is not None
        raise error
    _, text, best = min(found, key=lambda f: f[0])
    return best, text


@dataclass
class Derivative:
    """diff's result: the derivative as text in the expression language, as LaTeX, and as SymPy."""

    expression: str
    wrt: str
    derivative: str
    latex: str
    sympy: Any

    def to_json(self) -> dict:
        return {"expression": self.expression, "wrt": self.wrt, "derivative": self.derivative,
                "latex": self.latex}

    def __str__(self) -> str:
        return f"d({self.expression})/d{self.wrt} = {self.derivative}"

    __repr__ = __str__

    def _repr_latex_(self) -> str:
        return f"${latex.partial(self.expression, self.wrt)} = {self.latex}$"


def diff(expression: str | Value, wrt: str) -> Derivative:
    """The derivative of an expression (text, or a graph) with respect to the variable wrt,
    simplified, in the expression language and in LaTeX."""
    sp = sympy_module()
    text = expression if isinstance(expression, str) else ""
    source = parse(expression) if isinstance(expression, str) else expression
    if isinstance(source, Expression) and wrt not in source.variables:
        known = ", ".join(source.variables) or "none"
        raise ExprError(f"the variable {wrt!r} is not in the expression (its variables: {known})")
    function = to_sympy(source)
    raw = sp.diff(function, sp.Symbol(wrt, real=True))
    raw = raw.replace(sp.DiracDelta, lambda *args: sp.Integer(0))  # step's slope, as the engine takes it
    derivative, written = _writable(raw)
    if not text:
        text = to_text(function)
    return Derivative(text.strip(), wrt, written, latex.formula(written), derivative)


@dataclass
class SymbolicCheck:
    """A claimed formula against the exact derivative: identical for every input, or their
    simplified difference."""

    identical: bool
    derivative: str
    difference: str  # claim - derivative, simplified ("0" when identical)

    @property
    def message(self) -> str:
        if self.identical:
            return f"symbolic: the claim is identical to the derivative {self.derivative} for all inputs"
        return (f"symbolic: the claim is not the derivative {self.derivative}; claim - derivative "
                f"simplifies to {self.difference}")

    def to_json(self) -> dict:
        return {"identical": self.identical, "derivative": self.derivative, "difference": self.difference}

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        verdict = "identical for all inputs" if self.identical else "not the derivative"
        gap = "" if self.identical else f"; claim - derivative = $${latex.formula(self.difference)}$$"
        return f"**{verdict}**: the derivative is $${latex.formula(self.derivative)}$${gap}"


def exp_form(expr: Any) -> Any:
    """expr with the op records' own SymPy functions (sigmoid) rewritten in exponentials."""
    sp = sympy_module()
    own = {type(f) for f in expr.atoms(sp.Function) if type(f).__module__ == ops.__name__}
    return expr.rewrite(*own, sp.exp) if own else expr


def check_symbolic(expression: str, wrt: str, claim: str) -> SymbolicCheck:
    """Is the claim (text over the expression's variables) the derivative, for every input?"""
    sp = sympy_module()
    derivative = diff(expression, wrt)
    raw = to_sympy(claim) - derivative.sympy
    gap = simplify(raw)
    if gap != 0:  # a claim written with exp(-u) where the derivative says sigmoid(u)
        gap = simplify(exp_form(raw))
    identical = gap == 0
    try:
        difference = to_text(gap)
    except ValueError:
        difference = sp.sstr(gap)
    return SymbolicCheck(bool(identical), derivative.derivative, difference)

