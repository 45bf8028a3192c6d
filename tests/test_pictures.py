"""Pictures as a reader sees them: rendered by dot and measured in the SVG (positions, sizes,
overlaps), and the backward animation's frames."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from PIL import Image

from micrograd_bp import Value
from micrograd_bp.examples import backward_lessons as lessons
from micrograd_bp.examples import mazur
from micrograd_bp.nn import MLP
from micrograd_bp.pictures import ANIMATION_WIDTH, write_animation, write_graph
from micrograd_bp.viz import EDGE_LABEL_LIMIT, animation_frames, draw, draw_network

SVG = "{http://www.w3.org/2000/svg}"
PX_PER_PT = 4 / 3  # an SVG point shown at 96 dpi


def svg_root(graph, tmp_path, name="g.svg") -> ET.Element:
    return ET.parse(write_graph(graph, tmp_path / name)).getroot()


def node_positions(root: ET.Element) -> dict[str, tuple[float, float]]:
    """Each node's first text (a record's name field) -> its (x, y) in the SVG."""
    found = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "node":
            text = next(g.iter(SVG + "text"), None)
            if text is not None:
                found.setdefault(text.text, (float(text.get("x")), float(text.get("y"))))
    return found


def edge_label_boxes(root: ET.Element) -> list[tuple[str, float, float, float, float]]:
    """Each edge label's box (text, x0, y0, x1, y1), from its anchor and font size: a digit of
    Helvetica is 0.556 em wide, taken as 0.6 to err on the side of an overlap."""
    boxes = []
    for g in root.iter(SVG + "g"):
        if g.get("class") != "edge":
            continue
        for t in g.iter(SVG + "text"):
            size, x, y = float(t.get("font-size")), float(t.get("x")), float(t.get("y"))
            width = 0.6 * size * len(t.text)
            x0 = {"middle": x - width / 2, "end": x - width}.get(t.get("text-anchor"), x)
            boxes.append((t.text, x0, y - 0.8 * size, x0 + width, y + 0.2 * size))
    return boxes


def overlapping(boxes):
    return [(p[0], q[0]) for i, p in enumerate(boxes) for q in boxes[i + 1:]
            if p[1] < q[3] and q[1] < p[3] and p[2] < q[4] and q[2] < p[4]]


def svg_size_px(root: ET.Element) -> tuple[float, float]:
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    return width * PX_PER_PT, height * PX_PER_PT


# ------------------------------------------------------------------------- the Mazur drawing

def test_the_mazur_drawing_orders_nodes_as_the_tutorial(tmp_path):
    nodes = mazur.MazurNetwork().forward()
    nodes["E_total"].backward()
    at = node_positions(svg_root(draw(nodes["E_total"]), tmp_path))
    # left to right: the graph flows along x; the tutorial's order runs down the page (y grows)
    for upper, lower in [("i1", "i2"), ("w1", "w2"), ("w2", "w3"), ("w3", "w4"), ("net_h1", "net_h2"),
                         ("out_h1", "out_h2"), ("w5", "w6"), ("net_o1", "net_o2"), ("E_o1", "E_o2")]:
        assert at[upper][1] < at[lower][1], (upper, lower, at[upper], at[lower])
    assert at["i1"][0] < at["net_h1"][0] < at["out_h1"][0] < at["net_o1"][0] < at["E_total"][0]


def test_the_mazur_drawings_edge_labels_do_not_overlap(tmp_path):
    nodes = mazur.MazurNetwork().forward()
    nodes["E_total"].backward()
    boxes = edge_label_boxes(svg_root(draw(nodes["E_total"]), tmp_path))
    # 5 labels into each of the four linear nodes, 2 into each - and *, 1 elsewhere
    assert len(boxes) == 4 * 5 + 2 * 2 + 2 * 2 + 2 + 2 + 2 + 2
    assert overlapping(boxes) == []
    # the checker itself: two labels at one place overlap
    assert overlapping([("a", 0, 0, 10, 5), ("b", 5, 2, 15, 7)]) == [("a", "b")]


# --------------------------------------------------------------------------- the animation

def test_the_animation_is_900_px_wide_and_its_frames_name_what_their_titles_mention(tmp_path):
    ledger = lessons.mazur_ledger()
    path = write_animation(ledger, tmp_path / "m.gif")
    with Image.open(path) as gif:
        width, height = gif.size
        assert gif.n_frames == len(ledger.steps) + 2
    assert width == ANIMATION_WIDTH == 900 and 600 < height < 1600
    frames = animation_frames(lessons.mazur_ledger())
    for step, frame in zip(ledger.steps, frames[1:]):
        shown = set(re.findall(r'\tv\d+ \[label="([^|"]*)\|', frame.source))
        mentioned = {step.node, *(send.to for send in step.sends)}
        constants = {name for name in mentioned if re.fullmatch(r"[\d.]+", name)}  # shown as data
        assert mentioned - constants <= {name.replace("\\", "") for name in shown}, step.number


# ------------------------------------------------------------------------------ the network

def test_a_16_16_network_fits_a_laptop_screen_without_labels(tmp_path):
    mlp = MLP(2, [16, 16, 1], "tanh", seed=0)
    out = mlp([Value(0.5), Value(-1.0)])[0]
    out.backward()
    graph = draw_network(mlp)
    root = svg_root(graph, tmp_path)
    width, height = svg_size_px(root)
    assert width <= 1600 and height <= 1000, (width, height)
    assert edge_label_boxes(root) == []  # 304 weights, more than EDGE_LABEL_LIMIT: no labels
    assert 2 * 16 + 16 * 16 + 16 > EDGE_LABEL_LIMIT
    # 2 + 16 + 16 + 1 neurons drawn, and an edge per weight whose width shows |dE/dweight|
    at = node_positions(root)
    assert {"i1", "i2", "h1_1", "h1_16", "h2_16", "o1"} <= set(at)
    assert at["i1"][0] < at["h1_1"][0] < at["h2_1"][0] < at["o1"][0]  # layers left to right
    widths = [float(w) for w in re.findall(r'-> n\S* \[.*?penwidth=([\d.]+)', graph.source)]
    assert len(widths) == 304 and max(widths) == 2.25 and min(widths) < 1.0


def test_a_layer_of_more_than_32_neurons_is_summarised(tmp_path):
    mlp = MLP(2, [40, 3, 1], "tanh", seed=0)
    source = draw_network(mlp).source
    assert source.count("shape=circle") == 2 + 8 + 3 + 1
    assert "32 more\\nneurons" in source and "its first 8 drawn, the rest (32)" in source
    root = svg_root(draw_network(mlp), tmp_path)
    assert svg_size_px(root)[1] <= 1000
