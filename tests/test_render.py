"""The one renderer: every style's parentheses hold the tree, checked by reading the output back."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_bp import Op, Value, explain, register_op, render, unregister_op
from micrograd_bp import page as page_module
from micrograd_bp.expr import ExprError, parse, substitute
from micrograd_bp.latex import formula as latex_formula
from micrograd_bp.paths import node_names


def tree(text: str) -> tuple:
    """The parsed expression as a nested tuple: ("num", x), ("var", name), (op name, *args)."""
    return parse(text).fold(lambda x: ("num", x), lambda n: ("var", n),
                            lambda op, args: (op.name, *args))


# ------------------------------------------------------------------------ random expressions
# Written with a parenthesis around every operand, so the text's tree is known without the
# renderer; the renderer's minimal parentheses must give the same tree back.

LEAVES = st.sampled_from(["a", "b", "c", "x", "2", "0.5", "3"])


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "**"]), children, children).map(
        lambda t: f"({t[1]}){t[0]}({t[2]})")
    unary = children.map(lambda c: f"-({c})")
    call = st.tuples(st.sampled_from(["exp", "tanh", "sigmoid", "log"]), children).map(
        lambda t: f"{t[0]}({t[1]})")
    return st.one_of(binary, unary, call)


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)
ARITHMETIC = st.recursive(LEAVES, lambda children: st.one_of(
    st.tuples(st.sampled_from(["+", "-", "*", "/", "**"]), children, children).map(
        lambda t: f"({t[1]}){t[0]}({t[2]})"),
    children.map(lambda c: f"-({c})")), max_leaves=12)
POINT = {"a": 0.7, "b": -1.3, "c": 2.1, "x": 0.35}


def _value(text: str) -> float | str:
    try:
        return parse(text).value(POINT)
    except ExprError as error:
        return type(error).__name__


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS)
def test_text_reads_back_as_the_same_tree_and_value(source):
    written = parse(source).render()
    assert tree(written) == tree(source), written
    assert _value(written) == _value(source)  # bit for bit, or the same error


@settings(max_examples=200, deadline=None)
@given(EXPRESSIONS)
def test_text_keeps_only_parentheses_that_matter(source):
    """Removing any one pair of the renderer's parentheses changes the tree (or does not parse),
    except around a signed operand, kept for the reader (a*(-b), -(-a))."""
    written = parse(source).render()
    opens = [i for i, c in enumerate(written) if c == "(" and (i == 0 or not written[i - 1].isalnum())]
    for i in opens:
        depth = 0
        for j in range(i, len(written)):
            depth += (written[j] == "(") - (written[j] == ")")
            if depth == 0:
                break
        if written[i + 1] == "-":
            continue
        shorter = written[:i] + written[i + 1:j] + written[j + 1:]
        try:
            assert tree(shorter) != tree(written), f"{written}: the parentheses at {i} are not needed"
        except ExprError:
            pass


def _js_back(js: str) -> str:
    """The JS style's output in the expression language: Math.pow(a, b) as a registered call."""
    return js.replace("Math.pow(", "pow2(")


def _normal(t: tuple) -> tuple:
    """A tree with pow2 calls read as pow, and JS's float literals as the numbers they are."""
    if t[0] in ("num", "var"):
        return t
    return ("pow" if t[0] == "pow2" else t[0], *(_normal(c) for c in t[1:]))


@settings(max_examples=200, deadline=None)
@given(ARITHMETIC)
def test_javascript_reads_back_as_the_same_tree(source):
    register_op(Op("pow2", 2, lambda a, b: a ** b if a > 0 else math.nan,
                   lambda a, b, out: (b * a ** (b - 1), out * math.log(a)), ("b*a**(b - 1)", "out*log(a)")))
    try:
        js = render.fold(parse(source), render.JS)
        assert _normal(tree(_js_back(js))) == tree(source), js
    finally:
        unregister_op("pow2")


_LATEX_NAMES = {"sigma": "sigmoid", "tanh": "tanh", "log": "log", "sin": "sin", "cos": "cos",
                "max": "max", "min": "min"}


def _group(s: str, i: int) -> tuple[str, int]:
    """The text of the {...} group starting at s[i], and the index after it."""
    assert s[i] == "{", (s, i)
    depth = 0
    for j in range(i, len(s)):
        depth += (s[j] == "{") - (s[j] == "}")
        if depth == 0:
            return s[i + 1:j], j + 1
    raise AssertionError(f"unbalanced braces in {s!r}")


def from_latex(s: str) -> str:
    """LaTeX as the reader sees it, in the expression language: a fraction and an exponent are
    grouped by their layout; a base's braces are invisible, so only its \\left( \\right) count."""
    out, i = [], 0
    while i < len(s):
        if s.startswith(r"\frac", i):
            a, i = _group(s, i + 5)
            b, i = _group(s, i)
            out.append(f"(({from_latex(a)})/({from_latex(b)}))")
        elif s.startswith(r"\sqrt", i):
            a, i = _group(s, i + 5)
            out.append(f"sqrt({from_latex(a)})")
        elif s[i] == "{":
            a, i = _group(s, i)
            assert s[i] == "^", s
            b, i = _group(s, i + 1)
            out.append(f"{from_latex(a)}**({from_latex(b)})")
        elif s.startswith("e^", i):
            b, i = _group(s, i + 2)
            out.append(f"exp({from_latex(b)})")
        elif s.startswith(r"\left(", i) or s.startswith(r"\right)", i):
            out.append("(" if s[i + 1] == "l" else ")")
            i += 6 if s[i + 1] == "l" else 7
        elif s.startswith(r"\left|", i) or s.startswith(r"\right|", i):
            out.append("abs(" if s[i + 1] == "l" else ")")
            i += 6 if s[i + 1] == "l" else 7
        elif s.startswith(r"\cdot", i):
            out.append("*")
            i += 5
        elif s[i] == "\\":
            m = re.match(r"\\(?:operatorname\{(\w+)\}|([A-Za-z]+))", s[i:])
            out.append(m.group(1) or _LATEX_NAMES[m.group(2)])
            i += m.end()
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS)
def test_latex_reads_back_as_the_same_tree(source):
    written = latex_formula(source)
    assert tree(from_latex(written)) == tree(source), written


def test_the_latex_reader_catches_a_missing_parenthesis():
    """The oracle itself: LaTeX that dropped a needed \\left( reads as another tree."""
    assert tree(from_latex(r"a - b - c")) != tree("a - (b - c)")
    assert tree(from_latex(r"{a + b}^{2}")) != tree("(a + b)**2")
    assert tree(from_latex(latex_formula("a - (b - c)"))) == tree("a - (b - c)")


# ------------------------------------------------------------------------ registered ops' formulas
# An op whose local derivatives need the parentheses no built-in formula needs: 1/(a*out) (the
# right operand of /) and a - (b - out) (the right operand of -).


def _lnroot(a: float) -> float:
    if a <= 1:
        raise ValueError(f"lnroot: needs a > 1, got {a!r}")
    return math.sqrt(2 * math.log(a))


LNROOT = Op("lnroot", 1, _lnroot, lambda a, out: (1 / (a * out),), ("1/(a*out)",))
SHIFTED = Op("shifted", 2, lambda a, b: math.exp(a) - a - 1 + b,
             lambda a, b, out: (a - (b - out), 1.0), ("a - (b - out)", "1"))
RENAMES = [{"a": "u", "b": "v", "out": "w"}, {"a": "x + y", "b": "p*q", "out": "s - t"},
           {"a": "-x", "b": "x**2", "out": "y/z"}]


@pytest.fixture
def formula_ops():
    ops = [register_op(LNROOT), register_op(SHIFTED)]
    yield ops
    for op in ops:
        unregister_op(op.name)


def _renamed_tree(formula: str, names: dict[str, str]) -> tuple:
    """The formula's tree with each variable replaced by the tree of its new name."""
    def swap(t: tuple) -> tuple:
        if t[0] == "var":
            return tree(names[t[1]]) if t[1] in names else t
        if t[0] == "num":
            return t
        return (t[0], *(swap(c) for c in t[1:]))
    return swap(tree(formula))


@pytest.mark.parametrize("names", RENAMES)
def test_registered_formulas_keep_their_parentheses_in_every_style(formula_ops, names):
    for op in formula_ops:
        for formula in op.formulas:
            expected = _renamed_tree(formula, names)
            text = substitute(formula, names)
            assert tree(text) == expected, text
            latex = latex_formula(text)
            assert tree(from_latex(latex)) == expected, latex
            page_text = page_module._text(page_module._tree(formula))
            filled = re.sub(r"\{(\w+)\}", lambda m: f"({names[m.group(1)]})", page_text)
            assert tree(filled) == expected, page_text
    assert substitute("1/(a*out)", {"a": "u", "out": "w"}) == "1/(u*w)"
    assert substitute("a - (b - out)", {"a": "u", "b": "v", "out": "w"}) == "u - (v - w)"


def test_registered_formulas_in_explain_and_the_page_javascript(formula_ops):
    x, y = Value(2.5, "x"), Value(0.4, "y")
    out = Value.apply(SHIFTED, x * y, LNROOT(x)).named("f")
    factors = {f.formula for path in explain(out, x).paths for f in path.factors}
    assert "x*y - (lnroot(x) - f)" in factors and "1/(x*lnroot(x))" in factors
    env = {"a": "x[0]", "out": "out"}
    js = page_module._js(page_module._tree("1/(a*out)"), env)
    assert js == "1.0 / (x[0] * out)"
    js = page_module._js(page_module._tree("a - (b - out)"), {**env, "b": "x[1]"})
    assert js == "x[0] - (x[1] - out)"


def test_node_names_are_written_by_the_renderer():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    names = node_names(a - (b - c))
    assert sorted(names.values()) == ["a", "a - (b - c)", "b", "b - c", "c"]
    out = -(a * b) ** 2 / (c * -a)
    assert node_names(out)[id(out)] == "-(a*b)**2/(c*(-a))"
    assert tree("-(a*b)**2/(c*(-a))") == tree("(-((a*b)**2))/(c*(-(a)))")


def test_is_atom():
    for text in ("x", "w1", "θ", "#12", "2.5", "1e-07", "sigmoid(a + b)", "f(g(x))"):
        assert render.is_atom(text), text
    for text in ("-2", "a + b", "f(x)*g(x)", "(a)*(b)", "x.y + 1"):
        assert not render.is_atom(text), text
