"""Derivatives as formulas: graphs and expressions to SymPy and back (SymPy is an optional extra)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

from . import latex, ops
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


@lru_cache(maxsize=1)
def _printer_class() -> type:
    sp = sympy_module()
    from sympy.printing.str import StrPrinter

    class ExpressionPrinter(StrPrinter):
        """SymPy's own str printer, with the few forms the expression language writes differently."""

        def _print_Rational(self, expr: Any) -> str:
            text = repr(float(expr))  # a decimal the user could have typed, when it is exact
            if "inf" not in text and sp.Rational(text) == expr:
                return text
            return super()._print_Rational(expr)

        def _print_Integer(self, expr: Any) -> str:
            n = int(expr)
            if abs(n) >= 10 ** 16:  # 2e+300, not three hundred digits, when the float is exact
                text = repr(float(n)) if abs(n) < 10 ** 308 else ""
                if text and sp.Rational(text) == n:
                    return text
            return str(n)

        def _print_Exp1(self, expr: Any) -> str:
            return "exp(1)"

        def _print_Heaviside(self, expr: Any) -> str:
            return f"step({self._print(expr.args[0])})"

        def _print_Max(self, expr: Any) -> str:
            args = [a for a in expr.args if a != 0]
            if len(expr.args) == 2 and len(args) == 1:
                return f"relu({self._print(args[0])})"
            raise ValueError(f"{expr} has no form in the expression language")

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            base, exponent = expr.args
            if exponent == sp.Rational(1, 2) or exponent == -sp.Rational(1, 2):
                text = self.parenthesize(base, 60)  # Pow's precedence: parenthesised unless an atom
                return f"{text}**({self._print(exponent)})"
            return super()._print_Pow(expr, rational)

        def _print_Function(self, expr: Any) -> str:
            name = expr.func.__name__
            op = ops.OPS.get(name)
            if op is None or not op.function:
                raise ValueError(f"{name} has no form in the expression language")
            return super()._print_Function(expr)

        def emptyPrinter(self, expr: Any) -> str:  # noqa: N802 (SymPy's name)
            raise ValueError(f"{type(expr).__name__} has no form in the expression language")

    return ExpressionPrinter


def to_text(expr: Any) -> str:
    """A SymPy expression in the project's expression language (parse() reads it back); ValueError
    for a form the language has no words for (DiracDelta, piecewise functions)."""
    try:
        text = _printer_class()().doprint(expr)
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"cannot write {expr} in the expression language: {error}") from None
    if text in ("nan", "zoo", "oo", "-oo"):
        raise ValueError(f"the derivative is {text}: not a finite formula")
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


def check_symbolic(expression: str, wrt: str, claim: str) -> SymbolicCheck:
    """Is the claim (text over the expression's variables) the derivative, for every input?"""
    sp = sympy_module()
    derivative = diff(expression, wrt)
    gap = simplify(to_sympy(claim) - derivative.sympy)
    identical = gap == 0
    try:
        difference = to_text(gap)
    except ValueError:
        difference = sp.sstr(gap)
    return SymbolicCheck(bool(identical), derivative.derivative, difference)

