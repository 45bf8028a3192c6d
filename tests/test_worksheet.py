"""Worksheets: the drawing with an empty box per asked gradient (exact DOT), the printable page
and the answer key, against the engine's gradients."""

from __future__ import annotations

import json

import pytest

from micrograd_bp import Value, viz

SMALL_BLANKS = """digraph {
	graph [fontname=Helvetica label="f = -4.000000: write df/d(node) in each empty box" labelloc=t \
ordering=in rankdir=LR]
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


def test_a_mazur_worksheet_asks_in_backward_order_with_the_engines_key():
    from micrograd_bp import worksheet
    from micrograd_bp.exercise import Exercise
    from micrograd_bp.trace import ledger_names

    ex = Exercise.mazur(ask=["w1", "out_h1", "w5", "net_o1"])
    s = worksheet.sheet(ex, 3)
    order, names = ledger_names(ex.root)
    assert {names[k]: text for k, text in s.blanks.items()} == {
        "net_o1": "(1) dE_total/dnet_o1", "w5": "(2) dE_total/dw5", "out_h1": "(3) dE_total/dout_h1",
        "w1": "(4) dE_total/dw1"}
    source = worksheet.drawing(s).source
    assert source.count("\u00a0" * 18) == 4 and "grad" not in source
    assert "variant 03" in source
    # the key: the tutorial's numbers (shared/reference/mazur-2-2-2.md)
    key = worksheet.key_json([s], ["exercise-03.json"])["variants"][0]
    assert key["variant"] == 3 and key["exercise"] == "exercise-03.json"
    assert {n: round(v, 9) for n, v in key["answers"].items()} == {
        "net_o1": 0.138498562, "w5": 0.082167041, "out_h1": 0.036350306, "w1": 0.000438568}
    markdown = worksheet.key_markdown([s], ["exercise-03.json"])
    assert "| 4 | dE_total/dw1 | 0.000438567734 |" in markdown
    page = worksheet.html_page(s, "<svg></svg>")
    assert "find the gradient dE_total/d(node) of each numbered node" in page.replace("\n", " ")
    rows = [line for line in page.splitlines() if line.startswith("<tr><td>(")]
    assert [row.split("</td>")[1][4:] for row in rows] == [
        "dE_total/dnet_o1", "dE_total/dw5", "dE_total/dout_h1", "dE_total/dw1"]
    assert "<td class=num>1.105906</td>" in rows[0]  # net_o1's value, the tutorial's 1.105905967


def test_write_set_writes_the_files_it_lists(tmp_path):
    from micrograd_bp import worksheet
    from micrograd_bp.exercise import Exercise

    exercises = [Exercise.from_expression("x*y + x", {"x": 2.0, "y": -3.0}, seed=seed) for seed in (1, 2)]
    written = worksheet.write_set(exercises, tmp_path / "set", fmt="png", page=True)
    names = worksheet.file_names(2, "png", page=True)
    assert [p.name for p in written] == names and len(names) == 2 * 4 + 2
    assert (tmp_path / "set" / "worksheet-02.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (tmp_path / "set" / "worksheet-01.html").read_text()
    key = json.loads((tmp_path / "set" / "answer-key.json").read_text())["variants"]
    for variant, ex in zip(key, exercises):  # by hand: d(xy + x)/dx = y + 1, d/dy = x
        used = ex.source["used"]
        assert variant["answers"]["x"] == used["y"] + 1 and variant["answers"]["y"] == used["x"]
    with pytest.raises(ValueError, match="fmt must be one of svg, png, pdf"):
        worksheet.write_set(exercises, tmp_path / "bad", fmt="gif")
