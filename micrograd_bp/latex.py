"""LaTeX of names, formulas and partials, written from the op records (mathtext-safe)."""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

from . import render
from .expr import ExprError, parse

ATOM = 5
_HASH = "zHASHz"  # #k in a node's name is read as this word followed by k (a placeholder)
_NUMBER = re.compile(r"^(-?)(\d+(?:\.\d*)?)(?:e([+-]?\d+))?$")


_MARKDOWN = re.compile(r"([\\`*$\[\]<>])")  # not _: E_total's inner _ makes no emphasis


def markdown(text: str) -> str:
    """Plain text for Markdown (Jupyter): x**3 stays x**3, not bold; a $ starts no formula."""
    return _MARKDOWN.sub(r"\\\1", text)


def escape(text: str) -> str:
    """Plain text for \\mathrm{...}: LaTeX's special characters escaped."""
    return render.latex_escape(text)


@lru_cache(maxsize=65536)
def name(text: str) -> str:
    """A variable's or node's name in LaTeX: w1 as w_{1}, E_total as E_{total} (multi-letter words
    upright), θ as \\theta, #k as \\#k, a sub-expression as its formula."""
    if text.startswith(_HASH):
        return r"\#" + text[len(_HASH):]
    if text.isidentifier():
        return render.latex_name(text)
    return formula(text)


def number(text: str) -> str:
    """A number's text as LaTeX: 1e-07 as 10^{-7}."""
    return render.latex_number(text)


@lru_cache(maxsize=65536)
def formula(text: str) -> str:
    """An expression in the project's language (or a node's name: #k allowed) as LaTeX, each op
    written with its record's latex template, parenthesised by render.py's rules."""
    source = re.sub(r"#(\d+)", lambda m: f"{_HASH}{m.group(1)}", text)
    try:
        expression = parse(source)
    except ExprError:
        return rf"\mathrm{{{escape(text)}}}"
    return render.fold(expression, _STYLE)


_STYLE = dataclasses.replace(render.LATEX, variable=name)  # render's LaTeX, #k placeholders back to \#k


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
