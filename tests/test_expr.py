"""The expression parser: Python's precedence, derivatives against sympy, hostile input refused."""

from __future__ import annotations

import builtins
import math

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import central_difference, close
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from micrograd_bp import grad, ops
from micrograd_bp.expr import MAX_DEPTH, MAX_LENGTH, ExprError, expr, parse, parse_bindings, tokenize


def sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


# Expected values written as Python computes them: Python's own precedence is the oracle.
PRECEDENCE = [
    ("-x**2", {"x": 3}, -(3**2)),
    ("2**-1", {}, 2**-1),
    ("2**3**2", {}, 2**3**2),
    ("-2**2", {}, -(2**2)),
    ("(-2)**2", {}, (-2) ** 2),
    ("x-y-z", {"x": 1, "y": 2, "z": 3}, 1 - 2 - 3),
    ("x/y/z", {"x": 1, "y": 2, "z": 4}, 1 / 2 / 4),
    ("x - y*z + x/y", {"x": 1, "y": 2, "z": 4}, 1 - 2 * 4 + 1 / 2),
    ("-x*y", {"x": 2, "y": 5}, -2 * 5),
    ("x*-y", {"x": 2, "y": 5}, 2 * -5),
    ("- - x", {"x": 2}, 2),
    ("+x", {"x": 2}, 2),
    ("x**-y", {"x": 2, "y": 3}, 2**-3),
    ("1e-3*x", {"x": 2}, 1e-3 * 2),
    (".5*x + 3.*x + 2E2", {"x": 2}, 0.5 * 2 + 3.0 * 2 + 2e2),
    ("x**y", {"x": 2, "y": 0.5}, 2**0.5),
    ("2**x", {"x": 3}, 8.0),
    ("sigmoid(w*x + b)", {"w": 0.8, "x": 1.5, "b": 0}, sig(0.8 * 1.5)),
    ("exp(log(x))*tanh(y)", {"x": 2.5, "y": 0.3}, 2.5 * math.tanh(0.3)),
    ("relu(x) - relu(-x)", {"x": -1.25}, -1.25),
    ("  (x + 1) * ( x - 1 )\n", {"x": 3}, 8),
]


@pytest.mark.parametrize("text, values, expected", PRECEDENCE)
def test_values_follow_pythons_precedence(text, values, expected):
    assert close(expr(text, **values).data, expected, 1e-12)


def test_variables_are_labelled_leaves_shared_by_every_use():
    ev = parse("x*x + y").evaluate(x=3.0, y=1.0)
    assert ev.variables["x"].label == "x" and ev.variables["x"].is_leaf
    dx, dy = grad(ev.output, [ev.variables["x"], ev.variables["y"]])
    assert (dx, dy) == (6.0, 1.0)  # by hand: 2x, 1


def test_backward_on_the_example_of_the_issue():
    y = expr("sigmoid(w*x + b)", w=0.8, x=1.5, b=0)
    y.backward()
    leaves = {n.label: n for n in (y.inputs[0].inputs[0].inputs + y.inputs[0].inputs[1:])}
    s = sig(1.2)
    assert close(leaves["w"].grad, s * (1 - s) * 1.5, 1e-12)
    assert close(leaves["b"].grad, s * (1 - s), 1e-12)


def test_number_exponent_is_a_constant_and_a_variable_exponent_a_value():
    x = parse("x**(1+1)").evaluate(x=3.0)
    assert x.output.op.name == "powc" and x.output.inputs == (x.variables["x"],)
    y = parse("x**y").evaluate(x=3.0, y=2.0)
    assert y.output.op.name == "pow"
    assert close(grad(y.output, [y.variables["y"]])[0], 9 * math.log(3), 1e-12)
    with pytest.raises(ExprError, match="positive base"):
        expr("x**y", x=-2.0, y=2.0)


def test_unused_variable_has_partial_zero_and_is_noted():
    ev = parse("2*x").evaluate(x=1.0, y=5.0)
    assert ev.unused == ["y"]
    assert grad(ev.output, [ev.variables["y"]]) == [0.0]


def test_missing_variable_is_named_with_its_column():
    with pytest.raises(ExprError) as info:
        expr("x + y", x=1.0)
    assert "'y'" in str(info.value) and info.value.column == 5


def test_domain_errors_name_the_op_and_the_column():
    with pytest.raises(ExprError, match=r"log.*column 5"):
        expr("1 + log(x)", x=-1.0)
    with pytest.raises(ExprError, match="division by zero"):
        expr("1/x", x=0.0)
    with pytest.raises(ExprError, match="overflow"):
        expr("9**9**9")


def test_expr_error_is_a_value_error_with_a_column():
    with pytest.raises(ValueError) as info:
        parse("x + $")
    assert isinstance(info.value, ExprError) and info.value.column == 5 and info.value.offset == 4


def test_an_op_added_to_the_table_becomes_callable(monkeypatch):
    softplus = ops.Op(name="softplus", arity=1, forward=lambda a: math.log1p(math.exp(a)),
                      partials=lambda a, out: (sig(a),), formulas=("sigmoid(a)",))
    monkeypatch.setitem(ops.OPS, "softplus", softplus)
    ev = parse("softplus(2*x)").evaluate(x=0.3)
    numeric = central_difference(lambda t: math.log1p(math.exp(2 * t)), 0.3)
    assert close(grad(ev.output, [ev.variables["x"]])[0], numeric)


# ------------------------------------------------------------------------ random texts vs sympy

SYMPY_NAMES = {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh,
               "sigmoid": sympy.Lambda(sympy.Symbol("t"), 1 / (1 + sympy.exp(-sympy.Symbol("t")))),
               **{v: sympy.Symbol(v) for v in "xyz"}}
NUMBERS = st.sampled_from(["2", "0.5", "1.5", ".25", "3.", "1e-1", "2E0", "0.75"])


def _wrap(part: tuple[str, int], level: int, extra: bool) -> str:
    text, prec = part
    return f"({text})" if prec < level or extra else text


def _safe(text: str) -> str:  # positive for any value of text
    return f"(1 + ({text})**2)"


@st.composite
def texts(draw, depth: int = 0) -> tuple[str, int]:
    """Expression text with as few parentheses as Python's precedence needs (plus random extras);
    precedence: 1 sum, 2 product, 3 unary, 4 power, 5 atom. Domains are kept safe by construction."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return (draw(st.sampled_from("xyz")), 5) if draw(st.booleans()) else (draw(NUMBERS), 5)
    a = draw(texts(depth + 1))
    extra = draw(st.booleans()) and draw(st.booleans())
    kind = draw(st.sampled_from(["add", "sub", "mul", "div", "neg", "pos", "pow", "pow_neg",
                                 "pow_var", "pow_chain", "call"]))
    if kind in ("add", "sub", "mul"):
        b = draw(texts(depth + 1))
        level = 1 if kind != "mul" else 2
        sp = draw(st.sampled_from([" ", ""]))
        op = {"add": "+", "sub": "-", "mul": "*"}[kind]
        right = level + 1 if kind == "sub" else level
        return f"{_wrap(a, level, extra)}{sp}{op}{sp}{_wrap(b, right, False)}", level
    if kind == "div":
        b = draw(texts(depth + 1))
        return f"{_wrap(a, 2, extra)}/{_safe(b[0])}", 2
    if kind in ("neg", "pos"):
        return f"{'-' if kind == 'neg' else '+'}{_wrap(a, 3, extra)}", 3
    if kind == "pow":
        return f"{_wrap(a, 5, extra)}**{draw(st.sampled_from(['2', '3']))}", 4
    if kind == "pow_neg":
        return f"{_safe(a[0])}**-{draw(st.sampled_from(['1', '2', '0.5']))}", 4
    if kind == "pow_var":
        return f"{_safe(a[0])}**tanh({a[0]})", 4
    if kind == "pow_chain":  # right-associative: 2**2**-1 is 2**0.5
        return f"{_safe(a[0])}**2**-1", 4
    fn = draw(st.sampled_from(["exp", "log", "tanh", "sigmoid"]))
    inner = f"tanh({a[0]})" if fn == "exp" else _safe(a[0]) if fn == "log" else a[0]
    return f"{fn}({inner})", 5


POINT = st.tuples(*[st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3))] * 3)


@settings(max_examples=80, deadline=None)
@given(texts(), POINT)
def test_random_texts_match_sympys_parse_and_derivatives(text_prec, point):
    text = text_prec[0]
    values = dict(zip("xyz", point))
    ev = parse(text).evaluate(values)
    exact = parse_expr(text, local_dict=SYMPY_NAMES, transformations=standard_transformations)
    subs = {sympy.Symbol(k): v for k, v in values.items()}
    assert close(ev.output.data, float(exact.evalf(subs=subs)), 1e-9, 1e-9), text
    partials = grad(ev.output, [ev.variables[v] for v in "xyz"])
    for name, d in zip("xyz", partials):
        expected = float(sympy.diff(exact, sympy.Symbol(name)).evalf(subs=subs))
        assert close(d, expected, 1e-7, 1e-9), (text, name)


# ------------------------------------------------------------------------------- hostile input

HOSTILE = [
    ("__import__('os')", "unknown function '__import__'", 1),
    ("__import__('os').system('ls')", "unknown function", 1),
    ("().__class__", "empty parentheses", 2),
    ("x.__class__", "attribute access", 2),
    ("open('f')", "unknown function 'open'", 1),
    ("lambda: 0", "'lambda' is not allowed", 1),
    ("lambda x: x", "'lambda' is not allowed", 1),
    ("import os", "'import' is not allowed", 1),
    ("exp(x=1)", "keyword arguments", 6),
    ("exp(x, y)", "takes 1 argument", 1),
    ("x[0]", "subscripts", 2),
    ("'x'", "strings", 1),
    ("x if x else x", "'if' is not allowed", 3),
    ("x; y", "one expression", 2),
    ("2x", "write 2*x", 1),
    ("x y", "expected an operator", 3),
    ("exp", "is a function", 1),
    ("(x", "unclosed '('", 1),
    ("x)", "expected an operator or the end", 2),
    ("", "empty", 1),
    ("x ^ 2", "write x**2", 3),
    ("1e", "exponent needs digits", 1),
    ("1e400", "too large", 1),
    ("None", "'None' is not allowed", 1),
    ("__x", "'__'", 1),
    ("x === y", "'='", 3),
]


@pytest.mark.parametrize("text, words, column", HOSTILE)
def test_hostile_or_bad_input_is_refused_with_the_problem_and_its_column(text, words, column):
    with pytest.raises(ExprError) as info:
        parse(text)
    assert words in str(info.value)
    assert info.value.column == column


@pytest.mark.parametrize("text", [
    "(" * 4000 + "x" + ")" * 4000,
    "-" * 9000 + "x",
    "x" + "**x" * 3000,
    "exp(" * 1500 + "x" + ")" * 1500,
    "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
])
def test_deep_nesting_is_our_error_not_recursion_error(text):
    with pytest.raises(ExprError, match="nested too deeply"):
        parse(text)


def test_nesting_up_to_the_limit_parses():
    text = "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    assert expr(text, x=2.0).data == 2.0


def test_long_input_is_refused_and_a_long_flat_sum_evaluates():
    with pytest.raises(ExprError, match="too long"):
        parse("x+" * (MAX_LENGTH // 2) + "x")
    n = (MAX_LENGTH - 1) // 2
    assert expr("x+" * n + "x", x=1.0).data == n + 1  # deep as a tree, flat as a program


def test_parsing_never_calls_eval_exec_compile_open_or_import(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the parser called a forbidden builtin")

    samples = ["sigmoid(w*x + b)", *(text for text, _, _ in HOSTILE)]
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", forbidden)
    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(builtins, "__import__", forbidden)
    for text in samples:
        try:
            parse(text).evaluate(w=1.0, x=2.0, b=0.5)
        except ExprError:
            pass


ALPHABET = "xyzwb0123456789.eE+-*/() ,_^[]'\"=:;abcdefghijklmnopqrstuvwxyz\\\n\t#@!"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(alphabet=ALPHABET, max_size=60)))
def test_fuzzed_text_raises_only_expr_error(text):
    try:
        expression = parse(text)
    except ExprError:
        return
    try:
        expression.evaluate({name: 0.7 for name in expression.variables})
    except ExprError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["x", "y", "2", "0.5", "+", "-", "*", "/", "**", "(", ")",
                                 "exp(", "log(", "tanh(", "sigmoid(", "relu(", ","]), max_size=30))
def test_fuzzed_token_soup_raises_only_expr_error(parts):
    try:
        parse("".join(parts)).evaluate(x=0.7, y=1.3)
    except ExprError:
        pass


def test_tokenize_reports_the_first_bad_character():
    assert [t.text for t in tokenize("exp(x)**2")][:-1] == ["exp", "(", "x", ")", "**", "2"]
    with pytest.raises(ExprError, match="column 3"):
        tokenize("x @ y")


# --------------------------------------------------------------------------------- NAME=VALUE

def test_bindings_parse_names_and_numbers():
    assert parse_bindings(["x=-3", "y=1e-3", "w_1=.5"]) == {"x": -3.0, "y": 0.001, "w_1": 0.5}


@pytest.mark.parametrize("pairs, words", [
    (["x3"], "expected NAME=VALUE"),
    (["1x=2"], "not a valid variable name"),
    (["x-y=2"], "not a valid variable name"),
    (["exp=2"], "is a function"),
    (["lambda=2"], "keyword"),
    (["x=abc"], "'abc' is not a number"),
    (["x="], "is not a number"),
    (["x=nan"], "finite"),
    (["x=inf"], "finite"),
    (["x=1", "x=2"], "'x' is given twice"),
])
def test_bad_bindings_are_named(pairs, words):
    with pytest.raises(ExprError, match=words):
        parse_bindings(pairs)


def test_values_must_be_numbers():
    with pytest.raises(ExprError, match="must be a number"):
        expr("x", x="3")
    with pytest.raises(ExprError, match="finite"):
        expr("x", x=float("nan"))


def test_any_real_number_type_is_a_value():
    from fractions import Fraction

    import numpy

    ev = parse("x*y").evaluate(x=Fraction(1, 4), y=numpy.float32(2.5))
    assert ev.output.data == 0.625 and ev.variables["x"].data == 0.25  # exact in binary
    assert parse("x").value(x=numpy.int64(2)) == 2.0


def test_an_integer_past_the_float_range_is_an_expression_error():
    with pytest.raises(ExprError, match="'x' must be a finite float, got a number of 401 digits"):
        parse("x").evaluate(x=10**400)


def test_an_evaluation_prints_as_the_grad_command():
    ev = parse("x*y + y").evaluate(x=2, y=3, z=1)
    # by hand: value 2*3 + 3 = 9, d/dx = y = 3, d/dy = x + 1 = 3, z unused
    assert str(ev) == repr(ev) == (
        "f = x*y + y  at x=2, y=3, z=1\n  value  9\n  df/dx  3\n  df/dy  3\n"
        "  df/dz  0\nnote: z is given but not used in the expression: its partial is 0")
    assert ev.to_json() == {"value": 9.0, "grad": {"x": 3.0, "y": 3.0, "z": 0.0}}
    assert ev.variables["x"].grad == 0  # printing computed no .grad


def test_a_type_error_inside_evaluation_is_not_disguised(monkeypatch):
    from micrograd_bp import expr as expr_module

    def broken(*args):
        raise TypeError("a bug")

    monkeypatch.setattr(expr_module, "_execute", broken)
    with pytest.raises(TypeError, match="a bug"):
        parse("x").evaluate(x=1)
