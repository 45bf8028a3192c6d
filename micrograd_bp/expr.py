"""The safe expression parser: text like "sigmoid(w*x + b)" to a Value graph, never eval'd."""

from __future__ import annotations

import keyword
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from . import ops, render
from .engine import Number, Value, grad

T = TypeVar("T")

MAX_LENGTH = 10_000  # characters of input
MAX_DEPTH = 100  # nesting: parentheses, calls, unary signs and exponents, counted together

# The binary operators and their precedence, from the op records ("**" is parsed on its own).
_BINARY = {op.infix: op.name for op in ops.OPS.values() if op.infix and op.infix != "**"}
_PRECEDENCE = {op.infix: op.precedence for op in ops.OPS.values() if op.infix in _BINARY}
_DIGITS = set("0123456789")
# Characters with a meaning in Python that this language refuses, and why.
_REFUSED = {
    "[": "subscripts are not allowed",
    "]": "subscripts are not allowed",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    ":": "':' is not allowed (no lambdas, slices or annotations)",
    ";": "';' is not allowed (one expression only)",
    "@": "'@' is not allowed",
    "%": "'%' is not allowed (no modulo)",
    "^": "'^' is not allowed: write x**2 for a power",
    "=": "'=' is not allowed (no assignments or keyword arguments)",
    "!": "'!' is not allowed",
    "<": "comparisons are not allowed",
    ">": "comparisons are not allowed",
    "&": "'&' is not allowed",
    "|": "'|' is not allowed",
    "~": "'~' is not allowed",
    "`": "'`' is not allowed",
    "\\": "'\\' is not allowed",
    "#": "comments are not allowed",
    "$": "'$' is not allowed",
    "?": "'?' is not allowed",
}


class ExprError(ValueError):
    """Bad expression text, or an expression that cannot be evaluated at the given values.

    `offset` is the 0-based index into the text and `column` the 1-based column; the message names
    the problem and the column.
    """

    def __init__(self, problem: str, offset: int | None = None) -> None:
        self.problem = problem
        self.offset = offset
        self.column = None if offset is None else offset + 1
        super().__init__(problem if offset is None else f"{problem} (at column {offset + 1})")


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op" (+ - * / ** ( ) ,), "end"
    text: str
    offset: int
    value: float = 0.0


def _describe(token: Token) -> str:
    return "the end of the expression" if token.kind == "end" else repr(token.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of text, or ExprError at the first character the language does not have."""
    tokens = _scan(text)
    if tokens[-1].kind == "error":
        raise ExprError(tokens[-1].text, tokens[-1].offset)
    return tokens


def _scan(text: str) -> list[Token]:
    """The tokens of text, ending with an "end" token, or with an "error" token at the first bad
    character: the parser reports it only when it gets there, so the first problem is named."""
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"the expression is too long: {len(text)} characters, the limit is {MAX_LENGTH}")
    tokens: list[Token] = []
    i, n = 0, len(text)
    try:
        while i < n:
            c = text[i]
            if c in " \t\r\n":
                i += 1
            elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
                i = _number(text, i, tokens)
            elif c.isidentifier():  # a name: any Python identifier (w1, E_total, θ)
                j = i + 1
                while j < n and f"a{text[j]}".isidentifier():
                    j += 1
                tokens.append(Token("name", text[i:j], i))
                i = j
            elif text.startswith("**", i):
                tokens.append(Token("op", "**", i))
                i += 2
            elif c in "+-*/(),":
                tokens.append(Token("op", c, i))
                i += 1
            elif c == ".":
                raise ExprError("attribute access is not allowed ('.')", i)
            elif c in _REFUSED:
                raise ExprError(_REFUSED[c], i)
            else:
                raise ExprError(f"unexpected character {c!r}", i)
    except ExprError as error:
        tokens.append(Token("error", error.problem, error.offset or 0))
        return tokens
    tokens.append(Token("end", "", n))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    n, j = len(text), i
    while j < n and text[j] in _DIGITS:
        j += 1
    if j < n and text[j] == ".":
        j += 1
        while j < n and text[j] in _DIGITS:
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k] in _DIGITS:
            while k < n and text[k] in _DIGITS:
                k += 1
            j = k
        else:
            raise ExprError(f"malformed number {text[i:k]!r}: an exponent needs digits", i)
    if j < n and (f"a{text[j]}".isidentifier() or text[j] == "."):
        k = j
        while k < n and (f"a{text[k]}".isidentifier() or text[k] == "."):
            k += 1
        raise ExprError(f"malformed number {text[i:k]!r} (write 2*x for a product)", i)
    value = float(text[i:j])
    if not math.isfinite(value):
        raise ExprError(f"the number {text[i:j]!r} is too large for a float", i)
    tokens.append(Token("num", text[i:j], i, value))
    return j


def check_name(name: str, offset: int | None = None) -> str:
    """name if it can be a variable: an identifier, not a Python keyword or a function's name."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ExprError(f"{name!r} is not a valid variable name (a Python identifier: letters, "
                        "digits and _, not starting with a digit)", offset)
    if keyword.iskeyword(name):
        raise ExprError(f"{name!r} is a Python keyword, not allowed as a variable", offset)
    if name.startswith("__"):
        raise ExprError(f"{name!r}: names starting with '__' are not allowed", offset)
    if name in ops.functions():
        raise ExprError(f"{name!r} is a function, not a variable: call it as {name}(...)", offset)
    return name


# The parsed program: instructions for a stack machine, so evaluation is a loop, never recursion
# (a long sum like x+x+...+x is deep as a tree but flat here).
@dataclass(frozen=True)
class Instr:
    op: str  # "num", "var", "neg", "add", "sub", "mul", "div", "pow" (Value exponent),
    # "powc" (exponent without variables: a number), "call"
    offset: int
    value: float = 0.0  # for "num"
    name: str = ""  # for "var" and "call"
    nargs: int = 0  # for "call"


class _Parser:
    """Precedence climbing with an explicit depth limit, over the token list."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _scan(text)
        self.pos = 0
        self.depth = 0
        self.code: list[Instr] = []

    @property
    def token(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind == "error":  # the parser has reached the first character it cannot read
            raise ExprError(token.text, token.offset)
        return token

    def advance(self) -> Token:
        token = self.token
        self.pos += 1
        return token

    def enter(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", offset)

    def parse(self) -> list[Instr]:
        if self.token.kind == "end":
            raise ExprError("the expression is empty", 0)
        self.binary(1)
        if self.token.kind != "end":
            raise self.unexpected("an operator or the end of the expression")
        return self.code

    def unexpected(self, wanted: str) -> ExprError:
        t = self.token
        if t.kind == "name" and keyword.iskeyword(t.text):
            return ExprError(f"{t.text!r} is not allowed (a Python keyword)", t.offset)
        if t.kind == "op" and t.text == "(" and self.pos > 0 and self.tokens[self.pos - 1].text == ")":
            return ExprError("a parenthesised expression cannot be called", t.offset)
        return ExprError(f"expected {wanted}, found {_describe(t)}", t.offset)

    def binary(self, min_precedence: int) -> None:
        self.unary()
        while self.token.kind == "op" and _PRECEDENCE.get(self.token.text, 0) >= min_precedence:
            op = self.advance()
            self.binary(_PRECEDENCE[op.text] + 1)
            self.code.append(Instr(_BINARY[op.text], op.offset))

    def unary(self) -> None:
        t = self.token
        if t.kind == "op" and t.text in "+-":
            self.advance()
            self.enter(t.offset)
            self.unary()
            self.depth -= 1
            if t.text == "-":
                self.code.append(Instr("neg", t.offset))
            return
        self.power()

    def power(self) -> None:
        self.atom()
        if self.token.kind == "op" and self.token.text == "**":
            op = self.advance()
            self.enter(op.offset)
            start = len(self.code)
            self.unary()  # right-associative, and 2**-1 works
            self.depth -= 1
            has_variables = any(ins.op == "var" for ins in self.code[start:])
            self.code.append(Instr("pow" if has_variables else "powc", op.offset))

    def atom(self) -> None:
        t = self.token
        if t.kind == "num":
            self.advance()
            self.code.append(Instr("num", t.offset, value=t.value))
        elif t.kind == "name":
            self.advance()
            if keyword.iskeyword(t.text):
                raise ExprError(f"{t.text!r} is not allowed (a Python keyword)", t.offset)
            if self.token.kind == "op" and self.token.text == "(":
                self.call(t)
            else:
                check_name(t.text, t.offset)
                self.code.append(Instr("var", t.offset, name=t.text))
        elif t.kind == "op" and t.text == "(":
            self.advance()
            self.enter(t.offset)
            if self.token.kind == "op" and self.token.text == ")":
                raise ExprError("empty parentheses: expected an expression", self.token.offset)
            self.binary(1)
            self.depth -= 1
            self.expect(")", t)
        else:
            raise self.unexpected("a number, a variable, a function call or '('")
        if self.token.kind == "name" and keyword.iskeyword(self.token.text):
            raise self.unexpected("")
        if self.token.kind == "name" or self.token.kind == "num":
            raise ExprError(f"expected an operator before {_describe(self.token)} "
                            "(write 2*x for a product)", self.token.offset)

    def call(self, name: Token) -> None:
        # the op records' functions, looked up now: an op added by register_op is callable
        op = ops.OPS.get(name.text)
        if op is None or not op.function:
            known = ", ".join(ops.functions())
            raise ExprError(f"unknown function {name.text!r} (the functions are {known})", name.offset)
        opening = self.advance()
        self.enter(opening.offset)
        nargs = 0
        if not (self.token.kind == "op" and self.token.text == ")"):
            while True:
                self.binary(1)
                nargs += 1
                if self.token.kind == "op" and self.token.text == ",":
                    self.advance()
                    continue
                break
        self.depth -= 1
        self.expect(")", opening)
        if op.arity >= 0 and nargs != op.arity:
            raise ExprError(f"{name.text}() takes {op.arity} argument{'s' if op.arity != 1 else ''}, "
                            f"got {nargs}", name.offset)
        self.code.append(Instr("call", name.offset, name=name.text, nargs=nargs))

    def expect(self, text: str, opening: Token) -> None:
        if self.token.kind == "op" and self.token.text == text:
            self.advance()
            return
        if self.token.kind == "end":
            raise ExprError(f"unclosed {opening.text!r}: expected {text!r} before the end", opening.offset)
        raise self.unexpected(f"{text!r} or an operator")


@dataclass
class Evaluation:
    """An expression evaluated at some values: the output Value and the variables' leaves."""

    expression: Expression
    output: Value
    variables: dict[str, Value]  # every given variable's leaf, labelled with its name
    unused: list[str] = field(default_factory=list)  # given but not in the expression (partial 0)

    def partials(self) -> dict[str, float]:
        """d(output)/d(variable) for every given variable, by engine.grad (no .grad is touched)."""
        return dict(zip(self.variables, grad(self.output, list(self.variables.values()))))

    def to_json(self) -> dict:
        return {"value": self.output.data, "grad": self.partials()}

    def __str__(self) -> str:
        return evaluation_text(self)

    __repr__ = __str__


def _num(x: float) -> str:
    return f"{x:.9g}"


def evaluation_text(evaluation: Evaluation, partials: Mapping[str, float] | None = None) -> str:
    """The value and every partial, as `micrograd-bp grad` prints them."""
    partials = evaluation.partials() if partials is None else partials
    at = ", ".join(f"{k}={v.data:g}" for k, v in evaluation.variables.items())
    rows = [("value", evaluation.output.data), *((f"df/d{name}", d) for name, d in partials.items())]
    width = max(len(label) for label, _ in rows)
    lines = [f"f = {evaluation.expression.text.strip()}" + (f"  at {at}" if at else "")]
    lines += [f"  {label:<{width}}  {_num(v)}" for label, v in rows]
    lines += [f"note: {name} is given but not used in the expression: its partial is 0"
              for name in evaluation.unused]
    return "\n".join(lines)


class Expression:
    """A parsed expression: evaluate it at values as often as needed (finite differences do)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.code = _Parser(text).parse()
        names: dict[str, int] = {}
        for ins in self.code:
            if ins.op == "var":
                names.setdefault(ins.name, ins.offset)
        self._first_use = names

    @property
    def variables(self) -> list[str]:
        """The variables the expression uses, in order of first appearance."""
        return list(self._first_use)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def fold(self, number: Callable[[float], T], variable: Callable[[str], T],
             apply: Callable[[ops.Op, list[T]], T]) -> T:
        """The expression in any form: each number and variable mapped, then each op's record
        applied to its arguments' forms, in order (a number exponent is pow's record). Text, LaTeX,
        SymPy and the page's JavaScript are folds (evaluation keeps its own loop: it tells a
        number exponent, which gets no edge, from a Value one)."""
        stack: list[T] = []
        for ins in self.code:
            if ins.op == "num":
                stack.append(number(ins.value))
            elif ins.op == "var":
                stack.append(variable(ins.name))
            else:
                n = ins.nargs if ins.op == "call" else 1 if ins.op == "neg" else 2
                args = stack[len(stack) - n:]
                del stack[len(stack) - n:]
                name = ins.name if ins.op == "call" else "pow" if ins.op == "powc" else ins.op
                stack.append(apply(ops.OPS[name], args))
        return stack[-1]

    def render(self, names: Mapping[str, str] | None = None) -> str:
        """The expression written out again, variables renamed by names, with only the parentheses
        the precedence of each op needs (render.py decides them; a renamed variable that is not a
        plain name is an atom only inside parentheses)."""
        return render.fold(self, render.TEXT, {k: render.piece(v) for k, v in (names or {}).items()})

    def evaluate(self, values: Mapping[str, Number] | None = None, **more: Number) -> Evaluation:
        """Build the Value graph at the given values (a mapping, keywords, or both)."""
        given = _check_values({**(values or {}), **more})
        missing = [name for name in self._first_use if name not in given]
        if missing:
            first = missing[0]
            raise ExprError(f"variable {first!r} is used but not given a value", self._first_use[first])
        leaves = {name: Value(v, name) for name, v in given.items()}
        stack: list[Value] = []
        for ins in self.code:
            try:
                stack.append(_execute(ins, stack, leaves))
            except (ValueError, ZeroDivisionError, OverflowError) as error:  # a TypeError is a bug
                raise ExprError(str(error), ins.offset) from None
        unused = [name for name in given if name not in self._first_use]
        return Evaluation(self, stack[-1], leaves, unused)

    def value(self, values: Mapping[str, Number] | None = None, **more: Number) -> float:
        """The expression's value (a float) at the given values."""
        return self.evaluate(values, **more).output.data


def _execute(ins: Instr, stack: list[Value], leaves: dict[str, Value]) -> Value:
    op = ins.op
    if op == "num":
        return Value(ins.value)
    if op == "var":
        return leaves[ins.name]
    if op == "neg":
        return -stack.pop()
    if op == "call":
        args = stack[-ins.nargs:] if ins.nargs else []
        del stack[len(stack) - ins.nargs:]
        return Value.apply(ops.OPS[ins.name], *args)
    b = stack.pop()
    a = stack.pop()
    if op == "powc":
        return a ** b.data  # a number exponent: no edge to it
    if op == "pow":
        return a ** b
    return Value.apply(ops.OPS[op], a, b)


def _check_values(values: Mapping[str, object]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for name, v in values.items():
        check_name(name)
        if isinstance(v, Value):
            v = v.data
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ExprError(f"the value of {name!r} must be a number, got {type(v).__name__}: {v!r}")
        try:
            x = float(v)
        except OverflowError:  # an int past the float range (10**400)
            x = math.inf
        if not math.isfinite(x):
            shown = repr(v) if len(repr(v)) <= 40 else f"a number of {len(str(v))} digits"
            raise ExprError(f"the value of {name!r} must be a finite float, got {shown}")
        checked[name] = x
    return checked


def parse(text: str) -> Expression:
    """Parse text into an Expression; ExprError (a ValueError) names any problem and its column."""
    return Expression(text)


def substitute(formula: str, names: Mapping[str, str]) -> str:
    """A formula written again with its names replaced, parenthesised where needed.

    >>> substitute("out*(1 - out)", {"out": "out_o1"})
    'out_o1*(1 - out_o1)'
    """
    return parse(formula).render(names)


def formula_value(formula: str, values: Mapping[str, float]) -> float:
    """A formula evaluated on floats (the names it uses must all be given)."""
    expression = parse(formula)
    return expression.value({name: values[name] for name in expression.variables})


def expr(text: str, values: Mapping[str, Number] | None = None, **more: Number) -> Value:
    """The Value graph of text at the given values; its variables are leaves labelled by name.

    >>> y = expr("sigmoid(w*x + b)", w=0.8, x=1.5, b=0)
    >>> y.backward()
    """
    return parse(text).evaluate(values, **more).output


def parse_bindings(pairs: Iterable[str]) -> dict[str, float]:
    """NAME=VALUE strings to a dict; a bad name, a missing '=', a non-number or a repeat is an error."""
    values: dict[str, float] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ExprError(f"expected NAME=VALUE, got {pair!r} (no '=')")
        name, _, text = pair.partition("=")
        name = name.strip()
        try:
            check_name(name)
        except ExprError as error:
            raise ExprError(f"in {pair!r}: {error.problem}") from None
        try:
            value = float(text)
        except ValueError:
            raise ExprError(f"in {pair!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise ExprError(f"in {pair!r}: the value must be finite")
        if name in values:
            raise ExprError(f"{name!r} is given twice")
        values[name] = value
    return values
