"""LaTeX of names, formulas and partials, written from the op records (mathtext-safe)."""

from __future__ import annotations

import re
from functools import lru_cache

from . import ops
from .expr import ExprError, parse

ATOM = 5
_HASH = "zHASHz"  # #k in a node's name is read as this word followed by k (a placeholder)
_NUMBER = re.compile(r"^(-?)(\d+(?:\.\d*)?)(?:e([+-]?\d+))?$")
_TRAILING_DIGITS = re.compile(r"^([A-Za-z]+)(\d+)$")
_SPECIAL = str.maketrans({"_": r"\_", "#": r"\#", "{": r"\{", "}": r"\}", "$": r"\$", "%": r"\%",
                          "&": r"\&", "^": r"\^{}", "~": r"\~{}", "\\": r"\backslash "})


_MARKDOWN = re.compile(r"([\\`*$\[\]<>])")  # not _: E_total's inner _ makes no emphasis


def markdown(text: str) -> str:
    """Plain text for Markdown (Jupyter): x**3 stays x**3, not bold; a $ starts no formula."""
    return _MARKDOWN.sub(r"\\\1", text)


def escape(text: str) -> str:
    """Plain text for \\mathrm{...}: LaTeX's special characters escaped."""
    return text.translate(_SPECIAL)


@lru_cache(maxsize=65536)
def name(text: str) -> str:
    """A variable's or node's name in LaTeX: w1 as w_{1}, E_total as E_{total} (multi-letter words
    upright), #k as \\#k, a sub-expression as its formula."""
    if text.startswith(_HASH):
        return r"\#" + text[len(_HASH):]
    if text.isidentifier() and text.isascii():
        base, underscore, sub = text.partition("_")
        if not underscore:
            m = _TRAILING_DIGITS.match(text)
            if m:
                base, sub = m.group(1), m.group(2)
        if not base:
            return rf"\mathrm{{{escape(text)}}}"
        head = base if len(base) == 1 else rf"\mathrm{{{escape(base)}}}"
        if not sub:
            return head
        tail = sub if sub.isdigit() else rf"\mathrm{{{escape(sub)}}}"
        return f"{head}_{{{tail}}}"
    return formula(text)


def number(text: str) -> str:
    m = _NUMBER.match(text)
    if not m or m.group(3) is None:
        return text
    sign, mantissa, exponent = m.group(1), m.group(2), int(m.group(3))
    power = f"10^{{{exponent}}}"
    return f"{sign}{power}" if mantissa == "1" else rf"{sign}{mantissa} \times {power}"


@lru_cache(maxsize=65536)
def formula(text: str) -> str:
    """An expression in the project's language (or a node's name: #k allowed) as LaTeX, each op
    written with its record's latex template, parenthesised by its precedence."""
    source = re.sub(r"#(\d+)", lambda m: f"{_HASH}{m.group(1)}", text)
    try:
        expression = parse(source)
    except ExprError:
        return rf"\mathrm{{{escape(text)}}}"
    return expression.fold(lambda x: (number(ops._number_text(x)), ATOM), lambda n: (name(n), ATOM),
                           _latex_op)[0]


def _latex_op(op: ops.Op, args: list[tuple[str, int]]) -> tuple[str, int]:
    """One op as LaTeX from its arguments' (LaTeX, precedence): its record's template."""
    if op.infix:
        (a, pa), (b, pb) = args
        return _binary(op, a, pa, b, pb), op.precedence
    if op.precedence == 3:  # unary minus
        (a, p), = args
        return "-" + _wrap(a, p < 3 or a.startswith("-")), 3
    return op.latex_for(len(args)).format(*(a for a, _ in args)), ATOM


def _binary(op: ops.Op, a: str, pa: int, b: str, pb: int) -> str:
    prec = op.precedence
    if prec == 4:  # a power: the base braced and parenthesised unless it is an atom
        return op.latex_for(2).format(_wrap(a, pa < ATOM or a.startswith("-")), b)
    if "frac" in op.latex_for(2):  # a fraction needs no parentheses
        return op.latex_for(2).format(a, b)
    left = _wrap(a, pa < prec)
    right = _wrap(b, pb <= prec or b.startswith("-"))  # a - (b - c): the graph's own grouping
    return op.latex_for(2).format(left, right)


def _wrap(text: str, needed: bool) -> str:
    return rf"\left({text}\right)" if needed else text


@lru_cache(maxsize=65536)
def partial(upper: str, lower: str) -> str:
    """d(upper)/d(lower) as a fraction of partials over the names."""
    return rf"\frac{{\partial {_atom(upper)}}}{{\partial {_atom(lower)}}}"


def _atom(text: str) -> str:
    """A name as it follows \\partial: parenthesised unless it is one word or #k."""
    if text.isidentifier() or re.fullmatch(r"#\d+", text) or _NUMBER.match(text):
        return name(text)
    return rf"\left({formula(text)}\right)"


def value(x: float, digits: int = 9) -> str:
    """A number as LaTeX: 9 significant digits, exponents as powers of ten."""
    return number(f"{x:.{digits}g}")
