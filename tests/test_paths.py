"""paths: node names, factor formulas, limits that hold, LaTeX that renders, the paths drawn."""

from __future__ import annotations

import cProfile
import io
import json
import math
import pstats
import re
import tracemalloc

import matplotlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, close, trees

matplotlib.use("Agg")
from conftest import run_cli  # noqa: E402
from matplotlib import mathtext  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from micrograd_bp import Value, check_partial, explain, parse, topological_order  # noqa: E402
from micrograd_bp.diagnose import check_expression  # noqa: E402
from micrograd_bp.examples.mazur import mazur_explain, mazur_nodes, mazur_waypoints  # noqa: E402
from micrograd_bp.nn import MLP  # noqa: E402
from micrograd_bp.paths import count_text, is_numbered, node_names  # noqa: E402
from micrograd_bp.viz import draw, draw_paths  # noqa: E402

_LAYOUT = mathtext.MathTextParser("path")


def renders(tex: str) -> bool:
    """LaTeX through matplotlib's mathtext, parsed and laid out: raises ValueError on anything it
    cannot typeset."""
    _LAYOUT.parse(f"${tex}$")
    return True


# ------------------------------------------------------------------------------------- names

def test_an_unnamed_network_never_shows_an_index_the_user_cannot_see():
    mlp = MLP(3, [4, 4, 1], "tanh")
    xs = [Value(v, f"x{i}") for i, v in enumerate((0.5, -1.0, 2.0))]
    out = mlp(xs)[0]
    names = node_names(out)
    assert not any("[" in name for name in names.values())  # never "[add #18]"
    order = topological_order(out)
    numbered = [names[id(node)] for node in order if is_numbered(names[id(node)])]
    # the network's deep nodes are too long to write out: numbered n1, n2, ... in order, and the
    # drawing shows each number on its node
    assert numbered == [f"n{k + 1}" for k in range(len(numbered))] and len(numbered) >= 8
    assert "tanh(n1)" in names.values() and len(set(names.values())) == len(names)
    source = draw(out).source
    for k, node in enumerate(order):
        if is_numbered(names[id(node)]):
            assert f'\tv{k} [label="{names[id(node)]}|' in source
    ex = explain(out, xs[0], max_paths=3)
    assert not any("[" in f.name for p in ex.paths for f in p.factors)


def test_the_drawing_shows_the_numbers_explain_uses():
    x = Value(0.3, "x")
    v = x
    for _ in range(8):
        v = (v * 1.5 + x).tanh()
    names = node_names(v)
    source = draw_paths(v, x).source
    numbered = [name for name in names.values() if is_numbered(name)]
    assert numbered and not re.search(r"#\d", source.replace("#fff", ""))
    for name in numbered:
        assert re.search(rf'v\d+ \[label="{name}\|', source)


def test_names_are_written_from_the_op_records():
    ev = parse("-(a - (b - c))*d**2 + exp(a)/b").evaluate(a=1.0, b=2.0, c=3.0, d=4.0)
    names = set(node_names(ev.output).values())
    assert {"a - (b - c)", "-(a - (b - c))", "d**2", "-(a - (b - c))*d**2", "exp(a)/b"} <= names
    assert "x*(-y)" in node_names(parse("x*-y").evaluate(x=1.0, y=2.0).output).values()
    for text in names - {"a", "b", "c", "d"}:
        if not re.fullmatch(r"[\d.e+-]+", text) and not is_numbered(text):  # reads back to its value
            assert parse(text).value(a=1.0, b=2.0, c=3.0, d=4.0) is not None


# ----------------------------------------------------------------------------------- formulas

def test_the_mazur_factors_carry_their_formulas():
    ex = mazur_explain("w1")
    assert [f.formula for f in ex.paths[0].factors] == [
        "0.5*2*(target_o1 - out_o1)*(-1)", "out_o1*(1 - out_o1)", "w5", "out_h1*(1 - out_h1)", "i1"]
    assert [f.formula for f in ex.paths[1].factors][2] == "w7"
    nodes = mazur_nodes()
    values = {name: node.data for name, node in nodes.items()}
    for path in ex.paths:
        for factor in path.factors:  # each formula, evaluated on the nodes' values, is the factor
            assert close(parse(factor.formula).value(values), factor.value, 1e-12, 0)


@settings(max_examples=40, deadline=None)
@given(trees(max_leaves=6), st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3))
def test_every_edge_formula_evaluates_to_its_local_derivative(tree, point):
    env = {name: Value(v, name) for name, v in zip(VARIABLES, point)}
    out = build(tree, env, "engine")
    values = dict(zip(VARIABLES, point))
    for leaf in env.values():
        for path in explain(out, leaf, max_paths=50).paths:
            for f in path.factors:
                if re.search(r"\bn\d+\b", f.formula):  # a numbered node: not a variable
                    continue
                assert close(parse(f.formula).value(values), f.value, 1e-9, 1e-12), f


# ------------------------------------------------------------------------------ limits that hold

def _chain(n: int) -> tuple[Value, Value]:
    x = Value(0.5, "x")
    v = x
    for i in range(n):
        v = (v * 0.9 + x * 0.1).tanh() if i % 2 else v + x * 0.001
    return v, x


def _calls(f) -> int:
    """How many Python function calls f makes (cProfile's count: the same on every run, whatever
    the machine is doing, unlike a time)."""
    profile = cProfile.Profile()
    profile.runcall(f)
    return pstats.Stats(profile).total_calls


def test_explain_and_check_partial_are_linear_in_the_graph():
    # before: 10x the nodes cost 74x the time (the splitting waypoints were compared pairwise);
    # counted in calls, not seconds: linear work makes 10x the calls (measured 9.98 and 10.00),
    # pairwise work about 100x
    small, big = _chain(400), _chain(4000)
    for run in (lambda v, x: explain(v, x, max_paths=2), lambda v, x: check_partial(v, x, 0.123)):
        ratio = _calls(lambda run=run: run(*big)) / _calls(lambda run=run: run(*small))
        assert 9 < ratio < 12, ratio


def test_a_huge_path_count_prints():
    x = Value(0.7, "x")
    v = x
    for _ in range(15_000):
        v = (v + v) * 0.5  # 2**15000 paths: 4516 digits, past Python's int-to-string limit
    ex = explain(v, x, max_paths=1)
    assert ex.n_paths == 2 ** 15000
    exponent = 15000 * math.log10(2)
    mantissa = 10 ** (exponent - math.floor(exponent))
    assert count_text(ex.n_paths) == f"about {mantissa:.4f}e+{math.floor(exponent)}"
    text = str(ex)
    assert "by the chain rule: about 2.8" in text and "e+4515 paths" in text
    data = json.loads(json.dumps(ex.to_json()))
    assert data["n_paths"].startswith("about 2.8") and data["partial"] == 1.0
    assert count_text(2 ** 40) == "1099511627776"


def test_memory_is_proportional_to_what_is_listed():
    text = "*".join(["x"] * 400)
    ev = parse(text).evaluate(x=1.0001)
    tracemalloc.start()
    ex = explain(ev.output, ev.variables["x"], max_paths=150)
    printed = sum(len(line) + 1 for line in ex.lines())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(ex.paths) == 150 and printed > 500_000
    assert peak < 4 * printed, (peak, printed)  # before: about 40 times; now about 3.6


# ------------------------------------------------------------------------------------- LaTeX

def test_every_latex_string_renders_with_mathtext():
    strings = []
    ex = mazur_explain("w1")
    strings += [ex.latex(), *(p.latex() for p in ex.paths)]
    for text in ("x*x + exp(x*y)", "sigmoid(w*x + b)**2 - relu(x)/y", "-x**-2 + log(y)*tanh(x)",
                 "step(x)*x**0.5 + 1e-07*y**x"):
        ev = parse(text).evaluate(x=0.5, y=2.0, w=1.0, b=0.0)
        for leaf in ev.variables.values():
            e = explain(ev.output, leaf, max_paths=2)
            strings += [e.latex(), *re.findall(r"\$\$(.*?)\$\$", e._repr_markdown_())]
    check = check_expression("x**3", "x", "3*x", {"x": 1.0})
    strings += [check.latex(), *re.findall(r"\$\$(.*?)\$\$", check._repr_markdown_())]
    mlp = MLP(2, [3, 1], "tanh")
    out = mlp([Value(0.5, "a"), Value(-1.0, "b")])[0]
    deep = explain(out, topological_order(out)[0], max_paths=2)
    strings += [deep.latex(), *(p.latex() for p in deep.paths)]
    assert len(strings) > 40
    for tex in strings:
        assert renders(tex), tex
    mathtext.math_to_image(f"${ex.paths[0].latex()}$", io.BytesIO(), format="png")  # drawn in full
    figure = Figure()  # and in a figure, as a notebook would show it
    figure.text(0.1, 0.5, f"${ex.paths[0].latex_symbols()}$")
    figure.savefig(io.BytesIO(), format="png")
    with __import__("pytest").raises(ValueError):  # the oracle itself refuses what it cannot typeset
        renders(r"\underbrace{x}_{a}")


def test_explanations_read_as_text_in_the_repl_and_as_math_in_jupyter():
    ex = mazur_explain("w5")
    assert repr(ex) == str(ex) and repr(ex).startswith("dE_total/dw5 by the chain rule: 1 path")
    assert "  = (0.5*2*(target_o1 - out_o1)*(-1)) * (out_o1*(1 - out_o1)) * out_h1" in repr(ex)
    markdown = ex._repr_markdown_()
    assert r"$$\frac{\partial E_{\mathrm{total}}}{\partial \mathrm{out}_{\mathrm{o1}}}" in markdown
    data = ex.to_json()
    assert data["paths"][0]["latex"] == ex.paths[0].latex()
    assert data["paths"][0]["factors"][2]["formula"] == "out_h1"


def test_a_title_with_a_power_is_not_broken_bold_in_jupyter():
    ev = parse("x**3*y").evaluate(x=0.5, y=2.0)
    markdown = explain(ev.output, ev.variables["x"])._repr_markdown_()
    title = markdown.splitlines()[0]
    assert title == "**d(x\\*\\*3\\*y)/dx** by the chain rule: 1 path"
    assert re.sub(r"\\(.)", r"\1", title[2:title.index("** by")]) == "d(x**3*y)/dx"


# --------------------------------------------------------------------------------- the drawing

def test_draw_paths_highlights_exactly_the_edges_on_a_path():
    nodes = mazur_nodes()
    total = nodes["E_total"]
    total.backward()
    source = draw_paths(total, nodes["w1"], waypoints=mazur_waypoints(nodes)).source
    at = {id(n): i for i, n in enumerate(topological_order(total))}
    hot = set(re.findall(r"\t(\w+) -> (\w+) \[[^\n]*color=darkorange", source))
    expected = set()  # the edges of every path, as explain enumerates them one by one
    for path in explain(total, nodes["w1"], max_paths=1000).paths:
        for consumer, position in zip(path.consumers, path.positions):
            k = at[id(consumer)]
            expected |= {(f"v{at[id(consumer.inputs[position])]}", f"o{k}"), (f"o{k}", f"v{k}")}
    assert hot == expected and len(hot) == 27
    assert "path 1 through out_o1: 0.74136507 * 0.186815602 * 0.4 * 0.241300709 * 0.05" in source
    assert source.count("color=gray75") > 10  # the other edges


def test_draw_with_paths_to_is_the_paths_drawing():
    from micrograd_bp.viz import draw

    nodes = mazur_nodes()
    total = nodes["E_total"]
    total.backward()
    source = draw(total, paths_to=nodes["w1"]).source
    assert source == draw_paths(total, nodes["w1"]).source
    assert source.count("color=darkorange") > 20 and "dE_total/dw1 = 0.000438567734: 2 paths" in source


def test_draw_paths_renders(tmp_path):
    nodes = mazur_nodes()
    nodes["E_total"].backward()
    graph = draw_paths(nodes["E_total"], nodes["w1"])
    path = graph.render(str(tmp_path / "paths"), format="svg")
    assert "darkorange" in open(path).read()


def test_cli_explain_latex_prints_lines_that_render():
    status, out, _ = run_cli("explain", "x*x + exp(x*y)", "--wrt", "x", "x=0.5", "y=2", "--latex")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 4  # three paths and the sum
    assert lines[-1] == r"\frac{\partial \left(x \cdot x + e^{x \cdot y}\right)}{\partial x} = 0.5 + 0.5 + " \
                        r"5.43656366 = 6.43656366"
    assert lines[2].endswith(r"= 1 \cdot e^{x \cdot y} \cdot y = 1 \cdot 2.71828183 \cdot 2 = 5.43656366")
    for line in lines:
        assert renders(line), line
    status, out, _ = run_cli("explain", "x*x + exp(x*y)", "--wrt", "x", "x=0.5", "y=2", "--json")
    data = json.loads(out)
    assert [p["latex"] for p in data["paths"]] == lines[:3] and data["latex"] == lines[-1]


def test_draw_paths_follows_a_leaf_drawn_again_at_each_use():
    ev = parse("*".join(["x"] * 60)).evaluate(x=1.01)  # x feeds 60 ops far apart: drawn again per use
    ev.output.backward()
    source = draw_paths(ev.output, ev.variables["x"]).source
    copies = re.findall(r"\t(v0u\d+) \[[^\n]*\]", source)
    assert len(copies) == 59  # every edge of x**60 lies on one of its 60 paths
    assert all(re.search(rf"\t{c} \[[^\n]*style=\"filled,dashed\"", source) for c in copies)
    assert re.findall(r"\tv0u\d+ -> o\d+ \[[^\n]*color=(\w+)", source) == ["darkorange"] * 59
    assert "gray75" not in source


def test_explain_of_a_gradient_past_the_float_range_is_a_named_overflow_error():
    """1/x - 1/x at x = 1e-200: each path's product is -1e400 (past the range), they cancel to 0;
    the partial cannot be computed in floats, and explain says where instead of failing in fsum."""
    ev = parse("1/x - 1/x").evaluate(x=1e-200)
    with pytest.raises(OverflowError, match=r"div\(1\.0, 1e-200\) is -inf"):
        explain(ev.output, ev.variables["x"])
    with pytest.raises(OverflowError, match="div"):
        check_expression("1/x - 1/x", "x", "0", {"x": 1e-200})


def test_a_one_factor_path_says_its_number_once():
    """d(x*y)/dx = y = 3: the factor's number is the path's product, written once."""
    status, out, _ = run_cli("explain", "x*y", "--wrt", "x", "x=2", "y=3")
    assert status == 0
    assert out.splitlines()[1:5] == ["path 1:", "  d(x*y)/dx", "  = y", "  = 3"]
    assert out.splitlines()[5] == "sum of the paths = 3; d(x*y)/dx by autograd = 3"
