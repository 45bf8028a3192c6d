"""viz: exact DOT for small graphs, gradient flow, escaping, max_nodes, rendering with dot, missing dot."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest
from conftest import run_cli

from micrograd_bp import Value, linear, topological_order
from micrograd_bp.examples import mazur, one_weight
from micrograd_bp.nn import MLP
from micrograd_bp.pictures import GraphvizMissing, output_format, write_graph
from micrograd_bp.viz import draw, draw_network

EDGE = re.compile(r"^\t(\S+) -> (\S+)(?: \[(.*)\])?$")

# Hand-derived: for e = a*b + c at a=2, b=-3, c=10: e = 4, de/da = b = -3, de/db = a = 2, the
# product's and c's grads are 1. Flows |local x grad of the consumer|: a's edge 3 (the largest;
# negative, so blue), b's edge 2, every other edge 1. Widths on the log scale, 4 decades over
# 0.75..4.5: 2/3 -> s = 1 + log10(2/3)/4 = 0.9560 (4.33), 1/3 -> s = 0.8807 (4.05).
SMALL_AFTER = r"""digraph {
	graph [fontname=Helvetica label="e = 4.0000; grad on each node = de/d(node), after backward()" labelloc=t ordering=in rankdir=LR]
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6 fontname=Helvetica fontsize=9]
	v0 [label="a|data 2.0000|grad -3.0000" shape=record]
	v1 [label="b|data -3.0000|grad 2.0000" shape=record]
	v2 [label="data -6.0000|grad 1.0000" shape=record]
	o2 [label="*" fontsize=10 margin=0.05 shape=ellipse]
	v3 [label="c|data 10.0000|grad 1.0000" shape=record]
	v4 [label="e|data 4.0000|grad 1.0000" shape=record]
	o4 [label="+" fontsize=10 margin=0.05 shape=ellipse]
	v0 -> o2 [label=-3.0000 color="0.600 1.000 0.550" penwidth=4.50]
	v1 -> o2 [label=2.0000 color="0.000 0.956 0.557" penwidth=4.33]
	o2 -> v2 [color="0.000 0.881 0.568" penwidth=4.05]
	v2 -> o4 [label=1.0000 color="0.000 0.881 0.568" penwidth=4.05]
	v3 -> o4 [label=1.0000 color="0.000 0.881 0.568" penwidth=4.05]
	o4 -> v4 [color="0.000 0.881 0.568" penwidth=4.05]
	legend [label="edge label: local derivative d(out)/d(in)\ledge width and colour: the gradient sent back along it,\l|local derivative x grad of the consumer|\lwidest and most saturated: the largest here, 3.0000;\leach 1/4 of the width range thinner: ten times less (log scale)\lred: positive, blue: negative, grey: none\l" fontsize=9 shape=note]
}
"""  # noqa: E501

# The same graph before backward(): the local derivatives are known (b, a, 1, 1), the grads not.
SMALL_BEFORE = r"""digraph {
	graph [fontname=Helvetica label="e = 4.0000; gradients not computed yet: call backward() on e. Edge labels are local derivatives, known from the forward pass." labelloc=t ordering=in rankdir=LR]
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6 fontname=Helvetica fontsize=9]
	v0 [label="a|data 2.0000|grad: not computed (call backward())" shape=record]
	v1 [label="b|data -3.0000|grad: not computed (call backward())" shape=record]
	v2 [label="data -6.0000|grad: not computed (call backward())" shape=record]
	o2 [label="*" fontsize=10 margin=0.05 shape=ellipse]
	v3 [label="c|data 10.0000|grad: not computed (call backward())" shape=record]
	v4 [label="e|data 4.0000|grad: not computed (call backward())" shape=record]
	o4 [label="+" fontsize=10 margin=0.05 shape=ellipse]
	v0 -> o2 [label=-3.0000]
	v1 -> o2 [label=2.0000]
	o2 -> v2
	v2 -> o4 [label=1.0000]
	v3 -> o4 [label=1.0000]
	o4 -> v4
	legend [label="edge label: local derivative d(out)/d(in)\lno gradient has flowed yet: edges are drawn plain\l" fontsize=9 shape=note]
}
"""  # noqa: E501

# The one-weight example at w = 0.8, x = 1.5, y = 0.5, by hand: y_hat = 1.2, y_hat - y = 0.7,
# J = 0.49. dJ/d(y_hat - y) = 2 * 0.7 = 1.4 (the local derivative of **2), dJ/dy_hat = 1.4,
# dJ/dy = -1.4, dJ/dw = 1.4 * x = 2.1 (the closed form 4.5 w - 1.5 = 2.1), dJ/dx = 1.4 * w = 1.12.
# Flows: w's edge 2.1 (the largest), x's 1.12 (s = 1 + log10(1.12/2.1)/4 = 0.9317: 4.24), the
# 1.4 edges s = 0.9560 (4.33), J's own edge 1 (s = 0.9194: 4.20).
ONE_WEIGHT = r"""digraph {
	graph [fontname=Helvetica label="J = 0.4900; grad on each node = dJ/d(node), after backward()" labelloc=t ordering=in rankdir=LR]
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6 fontname=Helvetica fontsize=9]
	v0 [label="w|data 0.8000|grad 2.1000" shape=record]
	v1 [label="x|data 1.5000|grad 1.1200" shape=record]
	v2 [label="y_hat|data 1.2000|grad 1.4000" shape=record]
	o2 [label="*" fontsize=10 margin=0.05 shape=ellipse]
	v3 [label="y|data 0.5000|grad -1.4000" shape=record]
	v4 [label="data 0.7000|grad 1.4000" shape=record]
	o4 [label="-" fontsize=10 margin=0.05 shape=ellipse]
	v5 [label="J|data 0.4900|grad 1.0000" shape=record]
	o5 [label="**2" fontsize=10 margin=0.05 shape=ellipse]
	v0 -> o2 [label=1.5000 color="0.000 1.000 0.550" penwidth=4.50]
	v1 -> o2 [label=0.8000 color="0.000 0.932 0.560" penwidth=4.24]
	o2 -> v2 [color="0.000 0.956 0.557" penwidth=4.33]
	v2 -> o4 [label=1.0000 color="0.000 0.956 0.557" penwidth=4.33]
	v3 -> o4 [label=-1.0000 color="0.600 0.956 0.557" penwidth=4.33]
	o4 -> v4 [color="0.000 0.956 0.557" penwidth=4.33]
	v4 -> o5 [label=1.4000 color="0.000 0.956 0.557" penwidth=4.33]
	o5 -> v5 [color="0.000 0.919 0.562" penwidth=4.20]
	legend [label="edge label: local derivative d(out)/d(in)\ledge width and colour: the gradient sent back along it,\l|local derivative x grad of the consumer|\lwidest and most saturated: the largest here, 2.1000;\leach 1/4 of the width range thinner: ten times less (log scale)\lred: positive, blue: negative, grey: none\l" fontsize=9 shape=note]
}
"""  # noqa: E501

WEIGHTS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
# The tutorial's figure: which weight joins which nodes.
WEIGHT_EDGES = {"w1": ("i1", "h1"), "w2": ("i2", "h1"), "w3": ("i1", "h2"), "w4": ("i2", "h2"),
                "w5": ("h1", "o1"), "w6": ("h2", "o1"), "w7": ("h1", "o2"), "w8": ("h2", "o2")}


def small() -> Value:
    a, b, c = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c")
    return (a * b + c).named("e")


def edges(source: str) -> list[tuple[str, str, str]]:
    """(tail, head, attributes) of every edge statement in DOT source."""
    found = []
    for line in source.splitlines():
        m = EDGE.match(line)
        if m:
            found.append((m.group(1), m.group(2), m.group(3) or ""))
    return found


def attribute(attrs: str, name: str) -> str | None:
    m = re.search(rf'\b{name}=("(?:[^"\\]|\\.)*"|\S+)', attrs)
    if m is None:
        return None
    value = m.group(1)
    return value[1:-1] if value.startswith('"') else value


def node_labels(source: str) -> dict[str, str]:
    """node id -> its label (as written in the DOT source, escapes kept)."""
    labels = {}
    for line in source.splitlines():
        m = re.match(r'^\t+(\w+) \[label=("(?:[^"\\]|\\.)*"|\S+)', line)
        if m:
            value = m.group(2)
            labels[m.group(1)] = value[1:-1] if value.startswith('"') else value
    return labels


def is_record(label: str) -> bool:
    return re.search(r"(^|\|)data ", label) is not None


def mazur_after_backward() -> tuple[mazur.MazurNetwork, dict[str, Value]]:
    network = mazur.MazurNetwork()
    nodes = network.forward()
    nodes["E_total"].backward()
    return network, nodes


def test_dot_has_a_binary_here():
    # CI installs Graphviz (make test): the rendering tests below must run, never skip.
    assert shutil.which("dot"), "Graphviz 'dot' is not on PATH: run make test, which installs it"


# ------------------------------------------------------------------------------ exact DOT source

def test_exact_dot_for_a_small_graph_after_backward():
    e = small()
    e.backward()
    assert draw(e).source == SMALL_AFTER


def test_exact_dot_for_a_small_graph_before_backward():
    assert draw(small()).source == SMALL_BEFORE


def test_exact_dot_for_the_one_weight_example():
    loss = one_weight.loss(Value(one_weight.W0, "w"))
    loss.backward()
    assert draw(loss).source == ONE_WEIGHT
    # the numbers in it are the reference's: dJ/dw = 4.5 w - 1.5 at 0.8
    assert abs(one_weight.closed_form_gradient(0.8) - 2.1) < 1e-12


def test_top_to_bottom_stacks_the_record_fields_the_same_way():
    e = small()
    e.backward()
    source = draw(e, rankdir="TB").source
    assert "rankdir=TB" in source
    assert 'v0 [label="{a|data 2.0000|grad -3.0000}" shape=record]' in source


def test_without_edge_labels_no_edge_has_a_label():
    e = small()
    e.backward()
    assert all(attribute(attrs, "label") is None for *_, attrs in edges(draw(e, edge_labels=False).source))
    assert "local derivative d(out)/d(in)\\l" not in draw(e, edge_labels=False).source


def test_decimals():
    e = small()
    e.backward()
    assert 'v0 [label="a|data 2.00|grad -3.00" shape=record]' in draw(e, decimals=2).source


def test_a_tiny_nonzero_number_is_never_shown_as_zero():
    x = Value(1e-7, "x")
    y = (x * 3.0).named("y")
    y.backward()
    labels = node_labels(draw(y).source)
    assert labels["v0"] == "x|data 1e-07|grad 3.0000"
    assert labels["v2"] == "y|data 3e-07|grad 1.0000"


# ------------------------------------------------------------------------------------ determinism

def test_same_graph_same_source_and_no_ids_in_it():
    e = small()
    e.backward()
    first, second = draw(e).source, draw(e).source
    assert first == second
    other = small()  # a new graph with other id()s gives the same text
    other.backward()
    assert draw(other).source == first
    assert str(id(e)) not in first


def test_same_source_in_a_fresh_interpreter():
    code = ("from micrograd_bp.examples import mazur; from micrograd_bp.viz import draw\n"
            "n = mazur.MazurNetwork().forward(); n['E_total'].backward(); print(draw(n['E_total']).source)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    _, nodes = mazur_after_backward()
    assert runs[0] == runs[1] == draw(nodes["E_total"]).source + "\n"


# ------------------------------------------------------------------------------------ escaping

def test_record_specials_quotes_and_backslashes_are_escaped(tmp_path):
    x = Value(1.0, 'a{b}|c<d>"e\\')
    y = (x * 2.0).named("<y>")
    y.backward()
    graph = draw(y)
    labels = node_labels(graph.source)
    assert labels["v0"] == r'a\{b\}\|c\<d\>\"e\\|data 1.0000|grad 2.0000'
    assert labels["v2"] == r"\<y\>|data 2.0000|grad 1.0000"
    svg = write_graph(graph, tmp_path / "escaped.svg").read_text()  # dot parses it
    assert "a{b}|c&lt;d&gt;&quot;e\\</text>" in svg
    assert "&lt;y&gt;</text>" in svg


def test_an_html_like_label_stays_text(tmp_path):
    y = (Value(1.0, "<b>bold</b>") * 2.0).named("y")
    y.backward()
    svg = write_graph(draw(y), tmp_path / "html.svg").read_text()
    assert "&lt;b&gt;bold&lt;/b&gt;</text>" in svg


def test_network_labels_are_escaped():
    net = MLP(1, [1], "sigmoid", weights=[[[Value(0.5, 'w"1')]]], biases=[[0.0]])
    source = draw_network(net, input_names=['x"\\']).source
    assert 'i0 [label="x\\"\\\\" shape=circle]' in source
    assert 'label="w\\"1 = 0.5000"' in source


# ----------------------------------------------------------------------------- before backward()

def test_before_backward_the_drawing_says_so_and_shows_no_zero_grads():
    network = mazur.MazurNetwork()
    total = network.forward()["E_total"]
    source = draw(total).source
    assert "gradients not computed yet: call backward() on E_total" in source
    assert "grad 0.0000" not in source and "grad: 0" not in source
    records = [label for label in node_labels(source).values() if is_record(label)]
    assert len(records) == len(topological_order(total))
    assert all(label.endswith("|grad: not computed (call backward())") for label in records)


def test_a_backward_pass_from_elsewhere_is_noted():
    x = Value(3.0, "x")
    y = (x * x).named("y")
    z = (y * 2.0).named("z")
    z.backward()
    assert "note: its grad is 2.0000, not 1" in draw(y).source  # dz/dy, not dy/dy


# --------------------------------------------------------------------------------- gradient flow

def flows_and_widths(root: Value) -> list[tuple[float, float]]:
    """For every drawn edge: (|gradient it carries|, its penwidth), the flow computed here."""
    order = topological_order(root)
    position = {id(node): i for i, node in enumerate(order)}
    expected: dict[tuple[str, str], list[float]] = {}
    for node in order:
        if node.op is None:
            continue
        i = position[id(node)]
        for parent, local in zip(node.inputs, node.local_grads):
            expected.setdefault((f"v{position[id(parent)]}", f"o{i}"), []).append(abs(local * node.grad))
        expected.setdefault((f"o{i}", f"v{i}"), []).append(abs(node.grad))
    pairs = []
    for tail, head, attrs in edges(draw(root).source):
        pairs.append((expected[tail, head].pop(0), float(attribute(attrs, "penwidth"))))
    assert all(not rest for rest in expected.values())
    return pairs


def test_the_largest_gradient_flow_gets_the_widest_edge():
    _, nodes = mazur_after_backward()
    pairs = flows_and_widths(nodes["E_total"])
    largest = max(flow for flow, _ in pairs)
    assert all(width == 4.5 for flow, width in pairs if flow == largest)
    assert all(width < 4.5 for flow, width in pairs if flow < largest * 0.9)
    # more flow, never a thinner edge
    ranked = sorted(pairs)
    assert all(w1 <= w2 for (_, w1), (_, w2) in zip(ranked, ranked[1:]))


def test_flow_edges_in_the_mazur_graph():
    _, nodes = mazur_after_backward()
    order = topological_order(nodes["E_total"])
    at = {node.label: i for i, node in enumerate(order) if node.label}
    found = {(tail, head): attrs for tail, head, attrs in edges(draw(nodes["E_total"]).source)}
    # w5 -> net_o1: local dnet_o1/dw5 = out_h1 = 0.593269992, carrying dE/dw5 = 0.082167041
    # (positive: red); w7 -> net_o2 carries dE/dw7 < 0 (blue).
    w5 = found[f"v{at['w5']}", f"o{at['net_o1']}"]
    assert attribute(w5, "label") == "0.5933" and attribute(w5, "color").startswith("0.000 ")
    w7 = found[f"v{at['w7']}", f"o{at['net_o2']}"]
    assert attribute(w7, "color").startswith("0.600 ")
    # The linear node draws every weight's edge: net_h1 = w1*i1 + w2*i2 + b1, with the local
    # derivatives i1, w1, i2, w2, 1 on its five edges.
    into_net_h1 = [(tail, attribute(attrs, "label")) for (tail, head), attrs in found.items()
                   if head == f"o{at['net_h1']}"]
    assert sorted(into_net_h1) == sorted([(f"v{at['w1']}", "0.0500"), (f"v{at['i1']}", "0.1500"),
                                          (f"v{at['w2']}", "0.1000"), (f"v{at['i2']}", "0.2000"),
                                          (f"v{at['b1']}", "1.0000")])


def test_the_legend_names_the_largest_flow():
    e = small()
    e.backward()
    legend = node_labels(draw(e).source)["legend"]
    assert "|local derivative x grad of the consumer|" in legend
    assert "the largest here, 3.0000" in legend and "red: positive, blue: negative" in legend


# ------------------------------------------------------------------------------------ max_nodes

def chain(n: int) -> Value:
    v = Value(0.5, "x0")
    for _ in range(n - 1):
        v = v.tanh()
    return v.named("end")


def test_a_100000_node_chain_draws_its_nearest_nodes_with_a_note():
    end = chain(100_000)
    end.backward()
    source = draw(end, max_nodes=500).source
    assert "500 of 100000 nodes shown; 99500 omitted" in source
    assert "(max_nodes=500: the nodes nearest end)" in source
    records = [node for node, label in node_labels(source).items() if is_record(label)]
    assert len(records) == 500
    assert records[-1] == "v99999" and records[0] == "v99500"  # the root and its 499 nearest
    assert "v0 " not in source
    assert 'cut99500 [label="1 input not shown"' in source


def test_max_nodes_keeps_the_nearest_breadth_first():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    deep = ((a * b).exp().tanh()).named("deep")
    top = (deep + Value(3.0, "near")).named("top")
    labels = node_labels(draw(top, max_nodes=3).source)
    kept = {label.split("|")[0] for label in labels.values() if is_record(label)}
    assert kept == {"top", "deep", "near"}
    assert "3 of 7 nodes shown; 4 omitted" in labels["omitted"]


def test_a_wide_graph_is_cut_too():
    xs = [Value(float(i)) for i in range(50_000)]
    ws = [Value(1.0) for _ in range(50_000)]
    out = linear(ws, xs)
    source = draw(out, max_nodes=20).source
    assert "20 of 100001 nodes shown; 99981 omitted" in source
    assert "99981 inputs not shown" in source


def test_bad_options_are_refused():
    e = small()
    with pytest.raises(TypeError, match="expected a Value, got float"):
        draw(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        draw(e, rankdir="XY")
    with pytest.raises(ValueError, match="decimals"):
        draw(e, decimals=-1)
    with pytest.raises(ValueError, match="max_nodes"):
        draw(e, max_nodes=0)
    with pytest.raises(TypeError, match="expected an MLP"):
        draw_network(e)
    with pytest.raises(ValueError, match="input names"):
        draw_network(mazur.MazurNetwork().mlp, input_names=["a"])


# ------------------------------------------------------------------------------- draw_network

def network_edges(source: str) -> dict[str, tuple[str, str, str]]:
    """weight name -> (tail's label, head's label, edge label), for labelled edges."""
    labels = node_labels(source)
    found = {}
    for tail, head, attrs in edges(source):
        label = attribute(attrs, "label")
        if label:
            found[label.split(" = ")[0]] = (labels[tail], labels[head], label)
    return found


def test_the_mazur_network_reads_like_the_tutorials_figure():
    source = draw_network(mazur.MazurNetwork().mlp).source
    labels = node_labels(source)
    assert {"i1", "i2", "h1", "h2", "o1", "o2"} <= set(labels.values())
    assert [label for label in labels.values() if label.startswith("b")] == ["b1 = 0.3500", "b2 = 0.6000"]
    found = network_edges(source)
    assert set(found) == set(WEIGHTS)
    for name, (tail, head) in WEIGHT_EDGES.items():
        assert found[name] == (tail, head, f"{name} = {WEIGHTS[name]:.4f}")
    assert "gradients not computed yet" in source and "dE/d" not in source.split("legend")[0]


def test_the_mazur_network_after_backward_shows_de_dweight():
    network, _ = mazur_after_backward()
    source = draw_network(network.mlp).source
    found = network_edges(source)
    # the tutorial: dE/dw5 = 0.082167041, dE/dw1 = 0.000438568
    assert found["w5"] == ("h1", "o1", r"w5 = 0.4000\ndE/dw5 = 0.0822")
    assert found["w1"] == ("i1", "h1", r"w1 = 0.1500\ndE/dw1 = 0.0004386")
    widths = {name: float(attribute(attrs, "penwidth")) for name, attrs in
              ((attribute(a, "label").split(" = ")[0], a) for _, _, a in edges(source) if "label=" in a)}
    # |dE/dw6| = 0.0827 is the largest; |dE/dw1| = 0.000439 is 10^-2.28 of it: 2.28 quarters of the
    # range thinner, s = 1 - 2.276/4 = 0.431, width 0.75 + 3.75 s = 2.37
    assert widths["w6"] == 4.5 and widths["w1"] == 2.37
    assert widths["w1"] < widths["w2"] < widths["w7"] < widths["w5"] <= widths["w6"]
    # the shared biases: one node each, with an edge to both neurons of their layer
    labels = node_labels(source)
    assert labels["b1"] == r"b1 = 0.3500\ndE/db1 = 0.0187"
    assert [(t, h) for t, h, _ in edges(source) if t == "b1"] == [("b1", "n1_0"), ("b1", "n1_1")]


def test_network_inputs_given_as_values_show_their_values():
    network = mazur.MazurNetwork()
    labels = node_labels(draw_network(network.mlp, inputs=network.inputs()).source)
    assert labels["i0"] == r"i1\n0.0500" and labels["i1"] == r"i2\n0.1000"


def test_network_default_names_and_separate_biases():
    net = MLP(3, [4, 4, 2], "tanh", seed=0)
    labels = node_labels(draw_network(net).source)
    names = {v for v in labels.values() if " = " not in v and not v.startswith("MLP")}
    assert {"i1", "i2", "i3", "h1_1", "h1_4", "h2_1", "h2_4", "o1", "o2"} <= names
    biases = [k for k in labels if k.startswith("b")]
    assert len(biases) == 4 + 4 + 2  # one bias per neuron when they are not shared


def test_network_names_can_be_given():
    source = draw_network(mazur.MazurNetwork().mlp, input_names=["x", "y"],
                          names=[["p", "q"], ["r", "s"]]).source
    assert network_edges(source)["w5"][:2] == ("p", "r")


# ---------------------------------------------------------------------------- write_graph, dot

def test_output_format_from_the_suffix():
    assert [output_format(p) for p in ("a.svg", "a.PNG", "a.pdf", "a.dot", "a.gv")] == \
        ["svg", "png", "pdf", "dot", "dot"]
    with pytest.raises(ValueError, match=r"'\.txt'"):
        output_format("picture.txt")
    with pytest.raises(ValueError, match="no suffix|'\\(none\\)'"):
        output_format("picture")


def test_dot_source_needs_no_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    e = small()
    e.backward()
    written = write_graph(draw(e), tmp_path / "e.dot")
    assert written.read_text() == SMALL_AFTER


def test_svg_of_the_op_view_has_the_tutorials_labels_and_gradients(tmp_path):
    _, nodes = mazur_after_backward()
    svg = write_graph(draw(nodes["E_total"]), tmp_path / "graph.svg").read_text()
    assert svg.startswith("<?xml") and "</svg>" in svg
    for name in [*WEIGHTS, "b1", "b2", "i1", "i2", "net_h1", "out_h1", "net_o1", "out_o1", "E_total"]:
        assert f">{name}</text>" in svg, name
    assert ">grad 0.0822</text>" in svg  # dE/dw5 = 0.082167041
    assert ">grad 0.0004386</text>" in svg  # dE/dw1 = 0.000438568
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]  # no intermediate files


def test_svg_of_the_network_view(tmp_path):
    network, _ = mazur_after_backward()
    svg = write_graph(draw_network(network.mlp), tmp_path / "network.svg").read_text()
    for name in ("i1", "i2", "h1", "h2", "o1", "o2"):
        assert f">{name}</text>" in svg, name
    for name, value in WEIGHTS.items():
        assert f">{name} = {value:.4f}</text>" in svg, name
    assert ">dE/dw5 = 0.0822</text>" in svg
    assert ">b1 = 0.3500</text>" in svg and ">b2 = 0.6000</text>" in svg


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_binary_formats(tmp_path, suffix, magic):
    e = small()
    e.backward()
    assert write_graph(draw(e), tmp_path / f"e{suffix}").read_bytes().startswith(magic)


def test_missing_dot_keeps_the_source_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    e = small()
    e.backward()
    with pytest.raises(GraphvizMissing) as caught:
        write_graph(draw(e), tmp_path / "e.svg")
    message = str(caught.value)
    assert "\n" not in message
    assert "sudo apt-get install graphviz" in message and "brew install graphviz" in message
    assert str(tmp_path / "e.dot") in message
    assert (tmp_path / "e.dot").read_text() == SMALL_AFTER
    assert not (tmp_path / "e.svg").exists()


def test_missing_dot_never_overwrites_an_existing_dot_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / "e.dot").write_text("mine")
    e = small()
    e.backward()
    with pytest.raises(GraphvizMissing, match="e.dot exists already and was kept"):
        write_graph(draw(e), tmp_path / "e.svg")
    assert (tmp_path / "e.dot").read_text() == "mine"


def test_write_graph_takes_a_value_and_refuses_anything_else(tmp_path):
    e = small()
    e.backward()
    assert write_graph(e, tmp_path / "e.dot").read_text() == SMALL_AFTER
    with pytest.raises(TypeError, match="expected a drawing .* or a Value, got float"):
        write_graph(3.0, tmp_path / "x.dot")


def test_jupyter_displays_the_graph_inline():
    e = small()
    e.backward()
    bundle = draw(e)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and ">grad 2.0000</text>" in bundle["image/svg+xml"]


# -------------------------------------------------------------------------------- the command line

def test_cli_mazur_graph_and_network(tmp_path):
    graph, network = tmp_path / "g.svg", tmp_path / "n.svg"
    status, out, err = run_cli("mazur", "--graph", str(graph), "--network", str(network))
    assert status == 0
    assert "E_total  0.298371109" in out  # the normal output is still there
    assert f"wrote {graph}" in err and f"wrote {network}" in err
    assert ">grad 0.0822</text>" in graph.read_text()
    svg = network.read_text()
    assert ">dE/dw5 = 0.0822</text>" in svg and ">i1</text>" in svg and ">0.0500</text>" in svg


def test_cli_mazur_graph_dot_is_the_drawing_of_e_total(tmp_path):
    path = tmp_path / "g.dot"
    status, out, _ = run_cli("mazur", "--json", "--graph", str(path))
    assert status == 0 and out.lstrip().startswith("{")
    _, nodes = mazur_after_backward()
    assert path.read_text() == draw(nodes["E_total"]).source


def test_cli_one_weight_graph_is_the_golden_one(tmp_path):
    path = tmp_path / "j.dot"
    status, out, _ = run_cli("one-weight", "--graph", str(path))
    assert status == 0 and "w converges to 1/3" in out
    assert path.read_text() == ONE_WEIGHT


def test_cli_grad_graph(tmp_path):
    path = tmp_path / "f.dot"
    status, out, _ = run_cli("grad", "-x**2", "x=3", "--graph", str(path), "--json")
    assert status == 0 and '"x": -6.0' in out
    labels = node_labels(path.read_text())
    # f = -(x**2) at 3: x**2 = 9 with grad -1, f = -9; df/dx = -2x = -6
    assert labels["v0"] == "x|data 3.0000|grad -6.0000"
    assert labels["v1"] == "data 9.0000|grad -1.0000"
    assert labels["v2"] == "f|data -9.0000|grad 1.0000"


def test_cli_unknown_suffix_is_refused_before_any_output(tmp_path):
    status, out, err = run_cli("mazur", "--graph", str(tmp_path / "g.txt"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "'.txt'" in err


def test_cli_unwritable_path(tmp_path):
    status, _, err = run_cli("grad", "x*x", "x=1", "--graph", str(tmp_path / "no" / "such" / "f.dot"))
    assert status == 2 and err.startswith("micrograd-bp: error: cannot write") and err.count("\n") == 1


def test_cli_without_dot_on_path(tmp_path):
    """A subprocess whose PATH has no dot: one line, status 2, and the .dot source beside the file."""
    empty = tmp_path / "bin"
    empty.mkdir()
    target = tmp_path / "mazur.svg"
    done = subprocess.run([sys.executable, "-m", "micrograd_bp", "mazur", "--network", str(target)],
                          capture_output=True, text=True, env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("micrograd-bp: error: cannot render")
    assert "sudo apt-get install graphviz" in done.stderr and "brew install graphviz" in done.stderr
    assert str(tmp_path / "mazur.dot") in done.stderr
    assert "E_total  0.298371109" in done.stdout
    assert not target.exists()
    network = mazur.MazurNetwork()
    network.forward()["E_total"].backward()
    title = "Matt Mazur's 2-2-2 network with the tutorial's weights"
    expected = draw_network(network.mlp, inputs=network.inputs(), title=title).source
    assert (tmp_path / "mazur.dot").read_text() == expected


def test_the_package_and_the_cli_do_not_import_graphviz():
    code = ("import sys, micrograd_bp, micrograd_bp.cli, micrograd_bp.nn, micrograd_bp.diagnose\n"
            "print('graphviz' in sys.modules, 'micrograd_bp.viz' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_viz_is_the_only_module_that_imports_graphviz():
    package = Path(__file__).resolve().parent.parent / "micrograd_bp"
    importers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                       if re.search(r"^\s*(import graphviz|from graphviz)", p.read_text(), re.M))
    assert importers == ["viz.py"]
    assert graphviz.__version__  # the package itself is a dependency


# ------------------------------------------------------------------ the ledger's frames (issue 13)

def test_frames_of_the_mazur_ledger():
    from micrograd_bp.trace import trace_backward
    from micrograd_bp.viz import STATE_STYLES, animation_frames, draw_step

    nodes = mazur.MazurNetwork().forward()
    total = nodes["E_total"]
    ledger = trace_backward(total)
    at = {name: k for k, name in enumerate(ledger.names)}
    first = draw_step(ledger, 0).source
    assert "after the forward pass" in first and "fillcolor" not in first  # nothing reached
    # after step 6 (net_o2): out_h1 holds o2's share -0.019049118, a partial sum (yellow)
    six = node_labels(draw_step(ledger, 6).source)
    assert six[f"v{at['out_h1']}"].endswith("grad -0.0190 (partial)")
    assert STATE_STYLES["partial"]["fillcolor"] in draw_step(ledger, 6).source
    # step 11 (net_o1) sends 0.4 x 0.1385 = 0.0554 to out_h1, whose grad is then final: 0.0364
    eleven = draw_step(ledger, 11).source
    assert "0.4000 x 0.1385 = 0.0554" in eleven
    assert node_labels(eleven)[f"v{at['out_h1']}"].endswith("grad 0.0364")
    found = {(tail, head): attrs for tail, head, attrs in edges(eleven)}
    assert attribute(found[f"v{at['out_h1']}", f"o{at['net_o1']}"], "color") == "darkorange"
    # the last frame is today's drawing after backward()
    frames = animation_frames(ledger)
    assert len(frames) == len(ledger.steps) + 2
    assert frames[-1].source == draw(total).source


def test_write_animation(tmp_path):
    from PIL import Image

    from micrograd_bp.pictures import write_animation
    from micrograd_bp.trace import trace_backward

    ledger = trace_backward(small())
    path = write_animation(ledger, tmp_path / "e.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(ledger.steps) + 2 == 4


# ---------------------------------------------------------------------- honest drawings (issue 12)

def test_two_passes_are_not_called_partials():
    x = Value(3.0, "x")
    y = (x * x).named("y")
    y.backward()
    assert "grad on each node = dy/d(node)" in draw(y).source
    y.backward()  # x.grad is now 12, twice dy/dx = 2x = 6
    source = draw(y).source
    assert "grad on each node" not in source and "not dy/d(node)" in source
    y.zero_grad()
    y.backward()
    assert "grad on each node = dy/d(node)" in draw(y).source


def test_control_characters_and_lone_surrogates_are_drawn_safely(tmp_path):
    y = (Value(1.0, "a\x00b") * Value(2.0, "c\udc80d")).named("y\x07")
    y.backward()
    labels = node_labels(draw(y).source)
    assert labels["v0"].startswith("a\\\\x00b|") and labels["v1"].startswith("c\\\\udc80d|")
    svg = write_graph(draw(y), tmp_path / "odd.svg").read_text()  # dot takes it
    assert "a\\x00b" in svg and "c\\udc80d" in svg


def test_a_label_that_is_not_a_string_is_drawn():
    x = Value(2.0)
    x.label = 5
    y = (x * 3.0).named("y")
    y.backward()
    assert node_labels(draw(y).source)["v0"] == "5|data 2.0000|grad 3.0000"


def test_numbers_are_shown_where_the_ledger_names_by_number():
    from micrograd_bp.trace import is_numbered, ledger_names

    f = (Value(1.0, "w") * Value(2.0, "w")).named("f")
    f.backward()
    labels = node_labels(draw(f).source)
    assert labels["v0"].startswith("n1 (w)|") and labels["v1"].startswith("n2 (w)|")
    long = Value(1.5, "a")
    for _ in range(12):
        long = long * 1.5 + 1.0
    long.backward()
    _, names = ledger_names(long)
    labels = node_labels(draw(long).source)
    numbered = [k for k, name in enumerate(names) if is_numbered(name)]
    assert len(numbered) > 3 and all(labels[f"v{k}"].startswith(f"{names[k]}|") for k in numbered)
    assert len(set(names)) == len(names)


def test_the_mazur_targets_are_named_in_the_drawing():
    nodes = mazur.MazurNetwork().forward()
    source = draw(nodes["E_total"]).source
    labels = node_labels(source)
    assert any(label.startswith("target_o1|data 0.0100") for label in labels.values())
    assert any(label.startswith("target_o2|data 0.9900") for label in labels.values())


def test_a_long_product_of_one_leaf_renders_in_seconds(tmp_path, monkeypatch):
    import micrograd_bp.pictures as pictures

    x = Value(1.0001, "x")
    y = x
    for _ in range(99):  # 100 factors: over five minutes of dot with one box for x
        y = y * x
    y.backward()
    source = draw(y).source
    # x is drawn once per use: the first box v0, then v0u2 .. v0u100, each with x's numbers
    labels = node_labels(source)
    assert labels["v0u2"] == "x|use 2 of 100|data 1.0001|grad 100.9949"
    assert "v0u100" in labels and "v0u101" not in labels
    tails = [tail for tail, head, _ in edges(source) if re.fullmatch(r"v0(u\d+)?", tail)]
    assert len(tails) == len(set(tails)) == 100  # one edge from each box
    # d(x**100)/dx = 100 x**99 = 100 e^(99 ln 1.0001) = 100.99487... at 1.0001
    assert abs(x.grad - 100 * math.exp(99 * math.log(1.0001))) < 1e-9
    monkeypatch.setattr(pictures, "RENDER_TIMEOUT", 20.0)
    assert write_graph(draw(y), tmp_path / "chain.svg").stat().st_size > 0


def test_a_leaf_shared_along_a_long_sum_renders_in_seconds(tmp_path, monkeypatch):
    import micrograd_bp.pictures as pictures

    # y's 160 consumers x_k*y all sit one level above the leaves, but dot lays each beside its
    # term of the sum, 160 levels apart: one box for y took dot 13 s (300 terms: 22 s)
    y = Value(2.0, "y")
    terms = [Value(1.0, f"x{k}") * y for k in range(160)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    total.backward()
    assert y.grad == 160.0  # d(sum of x_k*y)/dy = sum of x_k = 160
    labels = node_labels(draw(total).source)
    (y_box,) = [name for name, label in labels.items() if label.startswith("y|data")]
    assert labels[f"{y_box}u2"] == "y|use 2 of 160|data 2.0000|grad 160.0000"
    monkeypatch.setattr(pictures, "RENDER_TIMEOUT", 10.0)
    assert write_graph(draw(total), tmp_path / "sum.svg").stat().st_size > 0


def test_a_render_that_takes_too_long_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    import micrograd_bp.pictures as pictures

    _, nodes = mazur_after_backward()
    monkeypatch.setattr(pictures, "RENDER_TIMEOUT", 0.001)
    with pytest.raises(pictures.RenderError, match="did not finish laying out"):
        write_graph(draw(nodes["E_total"]), tmp_path / "m.svg")
    assert not (tmp_path / "m.svg").exists()


def test_a_pass_from_another_output_is_not_called_partials():
    x = Value(3.0, "x")
    y = (x * x).named("y")
    z = (y + x).named("z")
    z.backward()  # y.grad is dz/dy = 1, but x.grad is dz/dx = 2x + 1 = 7, not dy/dx = 6
    source = draw(y).source
    assert "grad on each node" not in source and "not dy/d(node)" in source


def test_frames_of_a_long_product_draw_the_leaf_at_each_use():
    from micrograd_bp.trace import trace_backward
    from micrograd_bp.viz import draw_step

    x = Value(1.5, "x")
    y = x
    for _ in range(49):
        y = y * x
    ledger = trace_backward(y)
    source = draw_step(ledger, 3).source
    labels = node_labels(source)
    assert labels["v0u50"].startswith("x|use 50 of 50|data 1.5000|grad")
    assert "style=\"filled,dashed\"" in source or "style=dashed" in source


def test_a_networks_inputs_used_side_by_side_stay_one_box():
    net = MLP(2, [16, 16, 1])
    out = net([Value(0.5, "x1"), Value(-0.3, "x2")])
    out = out[0] if isinstance(out, list) else out
    loss = ((out - 1.0) ** 2).named("L")
    loss.backward()
    source = draw(loss).source  # x1 feeds 16 neurons, all on one level: no copies
    assert re.search(r"\bv\d+u\d+ \[", source) is None and "dashed box" not in source


def test_flows_too_far_apart_for_a_float_ratio_are_drawn():
    # f = x*y + x*y at x = 1e300, y = 1e-300: df/dx = 2y = 2e-300, df/dy = 2x = 2e300 (by hand);
    # x's edges carry 1e-300 against y's 1e300, a ratio of 1e-600 that underflows to 0
    x, y = Value(1e300, "x"), Value(1e-300, "y")
    f = (x * y + x * y).named("f")
    f.backward()
    assert (x.grad, y.grad) == (2e-300, 2e300)
    labels = node_labels(draw(f).source)
    assert "x|data 1e+300|grad 2e-300" in labels.values() and "y|data 1e-300|grad 2e+300" in labels.values()


# ------------------------------------------------------------------------ the drawing as data

def test_drawing_elements_name_the_value_or_edge_each_element_draws():
    from micrograd_bp import viz

    x = Value(1.5, "x")
    y = (x * x + 2.0).named("y")  # x feeds the product twice: two edges v0->o1, the second #2
    order = topological_order(y)
    graph = viz.draw(y)
    elements = {e.id: e for e in viz.drawing_elements(graph)}
    product = next(i for i, n in enumerate(order) if n.op is not None and n.op.name == "mul")
    assert elements[f"v0->o{product}"].edge == (product, 0)
    assert elements[f"v0->o{product}#2"].edge == (product, 1)
    assert {e.node for e in elements.values() if e.role == "value"} == set(range(len(order)))
    assert all(elements[f"o{i}"].role == "op" for i, n in enumerate(order) if n.op is not None)
    assert elements[f"o{product}->v{product}"].role == "output"
    # each element is the line it names in the DOT source (the SVG titles the page reads)
    for element in elements.values():
        name = element.id.split("#")[0]
        tail, _, head = name.partition("->")
        assert any(line.startswith(f"\t{tail} -> {head} ") or line.startswith(f"\t{tail} -> {head}\n")
                   if head else line.startswith(f"\t{tail} [") for line in graph.body), element
    # restyle redraws one element with new attributes, the rest unchanged
    before = list(graph.body)
    viz.restyle(graph, {f"v0->o{product}#2": {"color": "red"}})
    changed = [k for k, (a, b) in enumerate(zip(before, graph.body)) if a != b]
    assert len(changed) == 1 and "color=red" in graph.body[changed[0]]
    with pytest.raises(KeyError, match="no element 'nope'"):
        viz.restyle(graph, {"nope": {}})
    with pytest.raises(ValueError, match="drawing_elements: expected a drawing"):
        viz.drawing_elements(graphviz.Digraph())
