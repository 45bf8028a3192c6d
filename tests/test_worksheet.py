"""Worksheets: the drawing with an empty box per asked gradient (exact DOT), the printable page
and the answer key, against the engine's gradients."""

from __future__ import annotations

import pytest

from micrograd_bp import Value, viz

SMALL_BLANKS = """digraph {
	graph [fontname=Helvetica label="f = -4.000000: write df/d(node) in each empty box" labelloc=t rankdir=LR]
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6 fontname=Helvetica fontsize=9]
	v0 [label="x|data 2.000000|(3) df/dx|BLANK" shape=record]
	v1 [label="y|data -3.000000" shape=record]
	v2 [label="data -6.000000" shape=record]
	o2 [label="*" fontsize=10 margin=0.05 shape=ellipse]
	v3 [label="f|data -4.000000|(1) df/df|BLANK" shape=record]
	o3 [label="+" fontsize=10 margin=0.05 shape=ellipse]
	v0 -> o2
	v1 -> o2
	o2 -> v2
	v2 -> o3
	v0 -> o3
	o3 -> v3
	legend [label="edges: input -> op -> value, as the forward pass computed them\\l" fontsize=9 shape=note]
}
""".replace("BLANK", "\u00a0" * 18 + "\\n\u00a0")  # an empty field, two lines of no-break spaces


def small() -> Value:
    x, y = Value(2.0, "x"), Value(-3.0, "y")
    return (x * y + x).named("f")


def test_the_drawing_has_an_empty_box_on_each_asked_node_and_no_gradient():
    f = small()
    f.backward()  # gradients computed, and still not shown
    assert viz.draw_blanks(f, {"f": "(1) df/df", "x": "(3) df/dx"}).source == SMALL_BLANKS
    assert "grad" not in viz.draw_blanks(f, {}).source


def test_the_drawing_can_give_the_local_derivatives_as_a_hint():
    f = small()
    source = viz.draw_blanks(f, {"x": "(1) df/dx"}, edge_labels=True).source
    assert 'v0 -> o2 [label=-3.000000]' in source  # d(x*y)/dx = y
    assert 'v1 -> o2 [label=2.000000]' in source  # d(x*y)/dy = x


def test_the_drawing_refuses_a_name_not_in_the_graph():
    with pytest.raises(ValueError, match="no node is named 'z'"):
        viz.draw_blanks(small(), {"z": "(1)"})
