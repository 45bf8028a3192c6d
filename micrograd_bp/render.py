"""The one renderer: an op applied to its arguments' text, in a style (plain text, LaTeX, JavaScript).

Every expression, formula and node name the project writes goes through `apply`, and whether an
argument needs parentheses is decided in one function, `needs_parentheses`, from the op records'
precedence: 1 for + -, 2 for * /, 3 for a prefix minus, 4 for **, 5 (ATOM) for a call, a name or a
number. A style says only how each form looks (`Style`); `fold` writes a whole expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from .ops import Op, _literal, _number_text

ATOM = 5


class Piece(NamedTuple):
    """Rendered text and the precedence of its outermost op (ATOM for a name, number or call)."""

    text: str
    precedence: int = ATOM

    @property
    def signed(self) -> bool:
        """Starts with a minus sign: parenthesised after an operator (a*(-b), a - (-b))."""
        return self.text.startswith("-")


def form(op: Op, n: int) -> str:
    """How an op with n inputs is written: "infix", "power" (a fixed exponent), "call", "prefix"
    (a one-input op that is neither, the minus) or "sum" (linear: w1*x1 + w2*x2 + ... [+ b])."""
    if op.infix and n == 2:
        return "infix"
    if op.exponent is not None:
        return "power"
    if op.function or op.precedence == ATOM:
        return "call"
    return "prefix" if n == 1 else "sum"


def needs_parentheses(op: Op, n: int, position: int, arg: Piece) -> bool:
    """Whether argument `position` of op (n inputs) must be parenthesised to be read back as it is.

    The rules, all of them: a call's arguments never; the base of a power when it is not an atom
    (-a**b is -(a**b), (a**b)**c is not a**b**c) or is signed; an exponent when it is looser than a
    power or signed (a**(-b)), not a power itself (a**b**c is a**(b**c)); a prefix minus's operand
    when looser than the minus or signed (-(-a)); an infix operator's left operand when looser, its
    right operand when looser or as loose (a - (b - c), a/(b*c), a + (b + c): the graph's grouping)
    or signed; in a weighted sum, each factor of a product unless it is an atom or a power, and a
    signed bias.
    """
    kind, p = form(op, n), arg.precedence
    if kind == "call":
        return False
    if kind == "power" or (kind == "infix" and op.precedence == 4):
        return p <= 4 or arg.signed if position == 0 else p < 4 or arg.signed
    if kind == "prefix":
        return p < op.precedence or arg.signed
    if kind == "infix":
        return p < op.precedence if position == 0 else p <= op.precedence or arg.signed
    if n % 2 and position == n - 1:  # the bias of a weighted sum
        return arg.signed
    return p <= 2 or arg.signed


@dataclass(frozen=True)
class Style:
    """How each form looks in one output language. `write(op, args)` writes op on its arguments'
    text (already parenthesised where needed); `groups(op, n, i)` says whether the form itself
    keeps argument i together (a LaTeX fraction or exponent, a JavaScript call), so that it needs
    no parentheses of the style's own; `result(op, n)` is the precedence of what `write` gives."""

    name: str
    number: Callable[[float], str]
    variable: Callable[[str], str]
    parenthesise: Callable[[str], str]
    write: Callable[[Op, list[str]], str]
    groups: Callable[[Op, int, int], bool] = lambda op, n, i: False
    result: Callable[[Op, int], int] = lambda op, n: ATOM if form(op, n) == "call" else op.precedence


def apply(op: Op, args: Sequence[Piece], style: Style) -> Piece:
    """op written over its arguments in a style: the one place parentheses are decided."""
    n = len(args)
    texts = [style.parenthesise(a.text) if not style.groups(op, n, i) and needs_parentheses(op, n, i, a)
             else a.text for i, a in enumerate(args)]
    return Piece(style.write(op, texts), style.result(op, n))


def fold(expression: Any, style: Style, names: Mapping[str, Piece] | None = None) -> str:
    """An Expression (anything with expr.Expression's fold) written in a style; a variable found
    in names is written as that piece instead."""
    names = names or {}

    def variable(name: str) -> Piece:
        return names[name] if name in names else Piece(style.variable(name))

    return expression.fold(lambda x: Piece(style.number(x)), variable,
                           lambda op, args: apply(op, args, style)).text


def piece(text: str) -> Piece:
    """A name given as text (a node's name, a renamed variable), with the precedence of its
    outermost operator as the text style writes it (a + b: 1; a*b: 2; -a: 3; a**b: 4; a name, a
    number, #k, a call: ATOM); text that is not in the expression language is parenthesised."""
    return Piece(text, precedence(text))


_EXPRESSION_CHARS = re.compile(r"^[\w.() +\-*/,]+$")


@lru_cache(maxsize=65536)
def precedence(text: str) -> int:
    """The precedence of the outermost operator of text written in the text style (0 if unknown)."""
    if is_atom(text):
        return ATOM
    if not _EXPRESSION_CHARS.match(text):
        return 0
    depth, found = 0, ATOM
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth or c not in "+-*/" or i == 0:
            continue
        if c in "+-" and text[i - 1] == " ":
            return 1
        if c in "*/" and "*" not in (text[i - 1], text[i + 1:i + 2]):
            found = min(found, 2)
        elif c == "*" and text[i - 1] != "*":
            found = min(found, 4)
    return min(found, 3) if text.startswith("-") else found  # -a**2 is -(a**2)


_WORD = re.compile(r"^(?:#\d+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|[^\W\d]\w*(?:\.[^\W\d]\w*)*)$")


@lru_cache(maxsize=65536)
def is_atom(text: str) -> bool:
    """A name, a non-negative number, #k, or a call (f(...) whose first '(' closes at the end)."""
    if _WORD.match(text):
        return True
    head, bracket, _ = text.partition("(")
    if not (bracket and head.isidentifier() and text.endswith(")")):
        return False
    depth = 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth == 0 and i > len(head):
            return i == len(text) - 1
    return False


# ------------------------------------------------------------------------------ plain text

def _text(op: Op, args: list[str]) -> str:
    kind = form(op, len(args))
    if kind == "infix":
        return f"{args[0]}{f' {op.infix} ' if op.precedence == 1 else op.infix}{args[1]}"
    if kind == "power":
        exponent = _number_text(op.exponent)
        return f"{args[0]}**{f'({exponent})' if exponent.startswith('-') else exponent}"
    if kind == "call":
        return f"{op.name}({', '.join(args)})"
    if kind == "prefix":
        return f"-{args[0]}"
    terms = [f"{args[i]}*{args[i + 1]}" for i in range(0, len(args) - 1, 2)]
    return " + ".join(terms + args[len(args) - len(args) % 2:])


TEXT = Style("text", _number_text, str, lambda t: f"({t})", _text)
"""The expression language itself: what parse() reads back to the same tree."""


# ------------------------------------------------------------------------------ JavaScript

_SIMPLE_JS = re.compile(r"^(?:v\[\d+\]|x\[\d+\]|out|[\w.]+)$")


def fill_js(template: str, args: Sequence[str]) -> str:
    """An op's JavaScript template (its record's js) on arguments: each argument and the whole
    parenthesised, since a template is code whose precedence is its own."""
    args = [a if _SIMPLE_JS.match(a) else f"({a})" for a in args]
    return "(" + re.sub(r"\{(\d+)\}", lambda m: args[int(m.group(1))], template) + ")"


def _js(op: Op, args: list[str]) -> str:
    kind = form(op, len(args))
    if kind == "infix" and op.precedence == 4:
        return f"Math.pow({args[0]}, {args[1]})"
    if kind == "infix":
        return f"{args[0]} {op.infix} {args[1]}"
    if kind == "prefix" and op.js_for(1) == "-{0}":
        return f"-{args[0]}"
    js = op.js_for(len(args))
    if not js:
        raise ValueError(f"the op {op.name!r} has no JavaScript template (its record's js)")
    return fill_js(js, args)


def _js_groups(op: Op, n: int, i: int) -> bool:
    kind = form(op, n)
    return (kind == "infix" and op.precedence == 4) or kind in ("call", "power", "sum") \
        or (kind == "prefix" and op.js_for(1) != "-{0}")


def _js_result(op: Op, n: int) -> int:
    return ATOM if _js_groups(op, n, 0) else op.precedence


JS = Style("js", _literal, str, lambda t: f"({t})", _js, _js_groups, _js_result)
"""JavaScript for the page: + - * / and unary minus as in the text, a power as Math.pow, every
other op by its record's js template (names map to JavaScript through fold's names)."""


# ------------------------------------------------------------------------------ LaTeX

_SPECIAL = str.maketrans({"_": r"\_", "#": r"\#", "{": r"\{", "}": r"\}", "$": r"\$", "%": r"\%",
                          "&": r"\&", "^": r"\^{}", "~": r"\~{}", "\\": r"\backslash "})
_NUMBER = re.compile(r"^(-?)(\d+(?:\.\d*)?)(?:e([+-]?\d+))?$")
_TRAILING_DIGITS = re.compile(r"^([^\W\d_]+)(\d+)$")
_GREEK = {"α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon",
          "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda",
          "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho", "σ": r"\sigma",
          "τ": r"\tau", "υ": r"\upsilon", "φ": r"\phi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
          "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi",
          "Σ": r"\Sigma", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega"}


def latex_escape(text: str) -> str:
    """Plain text for \\mathrm{...}: LaTeX's special characters escaped."""
    return text.translate(_SPECIAL)


def latex_number(text: str) -> str:
    """A number's text as LaTeX: 1e-07 as 10^{-7}, 2.5e+20 as 2.5 \\times 10^{20}."""
    m = _NUMBER.match(text)
    if not m or m.group(3) is None:
        return text
    sign, mantissa, exponent = m.group(1), m.group(2), int(m.group(3))
    power = f"10^{{{exponent}}}"
    return f"{sign}{power}" if mantissa == "1" else rf"{sign}{mantissa} \times {power}"


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return _GREEK[word]
    return word if len(word) == 1 and word.isascii() else rf"\mathrm{{{latex_escape(word)}}}"


@lru_cache(maxsize=65536)
def latex_name(text: str) -> str:
    """A variable's name in LaTeX: w1 as w_{1}, E_total as E_{total} (words upright), θ as \\theta,
    θ_1 as \\theta_{1}."""
    base, underscore, sub = text.partition("_")
    if not underscore:
        m = _TRAILING_DIGITS.match(text)
        if m:
            base, sub = m.group(1), m.group(2)
    if not base:
        return rf"\mathrm{{{latex_escape(text)}}}"
    head = _latex_word(base)
    if not sub:
        return head
    tail = sub if sub.isdigit() else _latex_word(sub) if sub in _GREEK else rf"\mathrm{{{latex_escape(sub)}}}"
    return f"{head}_{{{tail}}}"


def _latex(op: Op, args: list[str]) -> str:
    return op.latex_for(len(args)).format(*args)


def _latex_groups(op: Op, n: int, i: int) -> bool:
    """A fraction keeps numerator and denominator apart; an exponent is raised on its own."""
    return "\\frac" in op.latex_for(n) or (form(op, n) == "infix" and op.precedence == 4 and i == 1)


LATEX = Style("latex", lambda x: latex_number(_number_text(x)), latex_name,
              lambda t: rf"\left({t}\right)", _latex, _latex_groups)
"""LaTeX (mathtext-safe): each op by its record's latex template."""
