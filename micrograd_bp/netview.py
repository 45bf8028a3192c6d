"""The page's network view: an MLP laid out as SVG, layers left to right, at a real network's size."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from .engine import Value
from .nn import MLP

SHOWN = 24  # neurons drawn of a layer larger than SUMMARISE; the rest are one summary node
SUMMARISE = 32
FEW_EDGES = 16  # at most this many weights: each edge's label is drawn (else it shows on hover)
RADIUS = 17
FONT = 10  # node text, px at zoom 1
LABEL_FONT = 10
MARGIN = 24
CAPTION = 36  # room for the two caption lines above the drawing


@dataclass
class NetView:
    """The view as SVG (the page's drawing) and its elements: each SVG group's title -> what it
    stands for (the Values of the loss's graph, by topological position)."""

    svg: str
    elements: dict[str, dict]


def _neuron_values(order: list[Value], mlp: MLP) -> dict[int, tuple[list[int], list[int]]]:
    """For each neuron (by id), the positions of its weighted sums and of its outputs in the graph."""
    first_weight = {id(n.weights[0]): n for layer in mlp.layers for n in layer.neurons}
    consumer: dict[int, int] = {}
    for i, node in enumerate(order):
        for parent in node.inputs:
            consumer.setdefault(id(parent), i)
    found: dict[int, tuple[list[int], list[int]]] = {}
    for i, node in enumerate(order):
        if node.op is not None and node.op.name == "linear" and node.inputs:
            neuron = first_weight.get(id(node.inputs[0]))
            if neuron is None:
                continue
            nets, outs = found.setdefault(id(neuron), ([], []))
            nets.append(i)
            c = consumer.get(id(node))
            activated = (neuron.activation != "none" and c is not None
                         and order[c].op is not None and order[c].op.name == neuron.activation)
            outs.append(c if activated else i)
    return found


def _shown(size: int) -> list[int]:
    """The neurons of a layer that are drawn: all, or the first SHOWN of a large layer."""
    return list(range(size if size <= SUMMARISE else SHOWN))


class _Canvas:
    """SVG text and the boxes of the labels placed so far (so no two overlap)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.boxes: list[tuple[float, float, float, float]] = []

    def free(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        return all(x1 <= a or x0 >= c or y1 <= b or y0 >= d for a, b, c, d in self.boxes)


def _text_width(text: str, size: float) -> float:
    return 0.62 * size * len(text)  # generous: Helvetica's average glyph is about 0.55 em


def _node(canvas: _Canvas, key: str, x: float, y: float, text: str, shape: str = "circle") -> None:
    t = html.escape(text)
    if shape == "circle":
        mark = f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{RADIUS}" ry="{RADIUS}" fill="white" stroke="black"/>'
    else:
        w = max(2 * RADIUS, _text_width(text, LABEL_FONT) + 8)
        corners = [(x - w / 2, y - 11), (x + w / 2, y - 11), (x + w / 2, y + 11), (x - w / 2, y + 11)]
        mark = (f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in corners)}" fill="white" '
                'stroke="gray" stroke-dasharray="3,2"/>')
    size = FONT if shape == "circle" else LABEL_FONT
    canvas.parts.append(f'<g class="node"><title>{html.escape(key)}</title>{mark}<text x="{x:.1f}" '
                        f'y="{y + size * 0.35:.1f}" text-anchor="middle" font-size="{size}">{t}</text></g>')
    half = max(RADIUS, _text_width(text, size) / 2)
    canvas.boxes.append((x - half, y - RADIUS, x + half, y + RADIUS))


def _edge(canvas: _Canvas, key: str, a: tuple[float, float], b: tuple[float, float],
          label: list[str], dashed: bool = False) -> None:
    (x0, y0), (x1, y1) = a, b
    dx, dy = x1 - x0, y1 - y0
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    sx, sy = x0 + RADIUS * dx / length, y0 + RADIUS * dy / length
    ex, ey = x1 - RADIUS * dx / length, y1 - RADIUS * dy / length
    style = ' stroke-dasharray="4,3" stroke="gray"' if dashed else ' stroke="black"'
    line = f'<path d="M{sx:.1f},{sy:.1f} L{ex:.1f},{ey:.1f}" fill="none" stroke-width="1"{style}/>'
    canvas.parts.append(f'<g class="edge"><title>{html.escape(key)}</title>{line}</g>')
    if label:  # its own group, drawn over every line: "KEY label"
        canvas.parts.append(f'<g class="edge label"><title>{html.escape(key)} label</title>'
                            f'{_edge_label(canvas, (sx, sy), (ex, ey), label)}</g>')


def _edge_label(canvas: _Canvas, a: tuple[float, float], b: tuple[float, float], lines: list[str]) -> str:
    """The label at the first point along the edge where it overlaps no label or node placed so far."""
    height = LABEL_FONT * 1.25 * len(lines)
    width = max(_text_width(line, LABEL_FONT) for line in lines)
    for t in (0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.12, 0.88):
        x, y = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        box = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
        if canvas.free(box):
            break
    canvas.boxes.append(box)
    top = y - height / 2 + LABEL_FONT
    back = (f'<rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{width:.1f}" height="{height:.1f}" '
            'fill="white" fill-opacity="0.85"/>')
    return back + "".join(f'<text x="{x:.1f}" y="{top + k * LABEL_FONT * 1.25:.1f}" text-anchor="middle" '
                   f'font-size="{LABEL_FONT}">{html.escape(line)}</text>' for k, line in enumerate(lines))


def network_view(mlp: MLP, order: list[Value], *, inputs: Sequence[Value | float] | None,
                 input_names: Sequence[str], neuron_names: Sequence[Sequence[str]], loss_name: str,
                 title: str, decimals: int) -> NetView:
    """The view of mlp, whose loss's graph is `order`: positions, SVG and the elements' Values."""
    layout = _Layout(mlp, order, len(input_names), loss_name, decimals)
    for k in range(len(input_names)):
        layout.place[f"i{k}"] = layout.column(0)[k]
        x = inputs[k] if inputs is not None else None
        if isinstance(x, Value) and id(x) in layout.index:
            layout.elements[f"i{k}"] = {"node": layout.index[id(x)], "role": "input"}
    previous = [f"i{k}" for k in range(len(input_names))]
    for k in range(len(mlp.layers)):
        previous = layout.layer(k, previous)
    canvas = layout.canvas
    for k, name in enumerate(input_names):
        _node(canvas, f"i{k}", *layout.place[f"i{k}"], name)
    for k, layer in enumerate(mlp.layers):
        for j in _shown(len(layer.neurons)):
            _node(canvas, f"n{k + 1}_{j}", *layout.place[f"n{k + 1}_{j}"], neuron_names[k][j])
    for key, tail, head, label, dashed in layout.edges:
        _edge(canvas, key, layout.place[tail], layout.place[head], label, dashed)
    return NetView(_svg(canvas, title, loss_name, layout.few, len(layout.rows), layout.gap_x, layout.height),
                   layout.elements)


class _Layout:
    """Columns left to right (the inputs, then each layer), each centred; with few weights, wide
    gaps for the edges' labels and each layer's biases below the column before it."""

    def __init__(self, mlp: MLP, order: list[Value], n_inputs: int, loss_name: str, decimals: int) -> None:
        self.mlp, self.loss_name, self.decimals = mlp, loss_name, decimals
        self.index = {id(node): i for i, node in enumerate(order)}
        self.neurons = _neuron_values(order, mlp)
        sizes = [n_inputs, *(len(layer.neurons) for layer in mlp.layers)]
        self.few = sum(len(n.weights) for layer in mlp.layers for n in layer.neurons) <= FEW_EDGES
        self.gap_x = 300.0 if self.few else 200.0
        self.gap_y = 130.0 if self.few else 2 * RADIUS + 6
        self.rows = [len(_shown(s)) + (s > SUMMARISE) for s in sizes]
        self.bias_rows = [0] * len(sizes)  # the biases still to place below each column
        if self.few:
            for k, layer in enumerate(mlp.layers):
                self.bias_rows[k] = len({id(n.bias) for n in layer.neurons if n.bias is not None})
                self.rows[k] += self.bias_rows[k]
        self.height = max(self.rows) * self.gap_y
        self.canvas = _Canvas()
        self.elements: dict[str, dict] = {}
        self.place: dict[str, tuple[float, float]] = {}
        self.edges: list[tuple[str, str, str, list[str], bool]] = []  # (key, tail, head, label, dashed)

    def column(self, k: int) -> list[tuple[float, float]]:
        count = self.rows[k]
        top = CAPTION + MARGIN + (self.height - count * self.gap_y) / 2 + self.gap_y / 2
        return [(MARGIN + RADIUS + 40 + k * self.gap_x, top + r * self.gap_y) for r in range(count)]

    def layer(self, k: int, previous: list[str]) -> list[str]:
        """Layer k's neurons, their weights' edges and biases; returns the neurons' keys."""
        layer = self.mlp.layers[k]
        points = self.column(k + 1)
        shown = _shown(len(layer.neurons))
        names = []
        for r, j in enumerate(shown):
            name = f"n{k + 1}_{j}"
            names.append(name)
            self.place[name] = points[r]
            nets, outs = self.neurons.get(id(layer.neurons[j]), ([], []))
            self.elements[name] = ({"node": outs[0], "also": [nets[0]], "role": "neuron"} if len(outs) == 1
                                   else {"neuron": outs, "also": nets, "role": "neuron"})
            for w_pos, (tail, w) in enumerate(zip(previous, layer.neurons[j].weights)):
                key = f"{tail}->{name}"
                self.elements[key] = {"node": self.index[id(w)], "role": "weight",
                                      "edges": [[c, 2 * w_pos + d] for d in (0, 1) for c in nets]}
                what = w.label or "weight"
                label = [f"{what} = {w.data:.{self.decimals}f}",
                         f"d{self.loss_name}/d{what} = {w.grad:.{self.decimals}f}"] if self.few else []
                if label:
                    self.elements[f"{key} label"] = self.elements[key]
                self.edges.append((key, tail, name, label, False))
            if self.few and layer.neurons[j].bias is not None:
                self.bias(k, j, name, nets)
        if len(shown) < len(layer.neurons):
            more = len(layer.neurons) - len(shown)
            key = f"more{k + 1}"
            self.place[key] = points[len(shown)]
            self.elements[key] = {"role": "summary", "text": f"{more} more neurons of layer {k + 1}, not "
                                  "drawn (the page computes them; their parameters are in the leaves list)"}
            _node(self.canvas, key, *self.place[key], f"+{more}")
        return names

    def bias(self, k: int, j: int, name: str, nets: list[int]) -> None:
        """Neuron j of layer k's bias: its box (once, if the layer shares it) and its dashed edge."""
        layer = self.mlp.layers[k]
        b = layer.neurons[j].bias
        bias = f"b{k + 1}" if layer.shared_bias else f"b{k + 1}_{j}"
        if bias not in self.elements:
            self.elements[bias] = {"node": self.index[id(b)], "role": "bias"}
            self.bias_rows[k] -= 1
            self.place[bias] = self.column(k)[self.rows[k] - 1 - self.bias_rows[k]]
            text = f"{b.label or 'bias'} = {b.data:.{self.decimals}f}"
            _node(self.canvas, bias, *self.place[bias], text, shape="box")
        self.elements[f"{bias}->{name}"] = {"node": self.index[id(b)], "role": "bias-edge",
                                            "edges": [[c, 2 * len(layer.neurons[j].weights)] for c in nets]}
        self.edges.append((f"{bias}->{name}", bias, name, [], True))


def _svg(canvas: _Canvas, title: str, loss_name: str, few: bool, columns: int, gap_x: float,
         height: float) -> str:
    width = 2 * MARGIN + 2 * RADIUS + 80 + (columns - 1) * gap_x
    total = CAPTION + 2 * MARGIN + height + 16
    note = (f"edges: weight and d{loss_name}/dweight after backward()")
    hint = ("" if few else "hover an edge for its weight and gradient; ") + \
        "edge width and colour: the gradient (red +, blue -)"
    middle = f'x="{width / 2:.1f}" text-anchor="middle"'
    head = (f'<text {middle} y="16" font-size="13">{html.escape(title)}</text>'
            f'<text {middle} y="32" font-size="11">{html.escape(note)}</text>'
            f'<text {middle} y="{total - 6:.1f}" font-size="10" fill="#555">{html.escape(hint)}</text>')
    # The edges' lines first, then the nodes over them, then the edges' labels over both.
    order = ('<g class="edge">', '<g class="node">', '<g class="edge label">')
    body = sorted(canvas.parts, key=lambda part: next(k for k, h in enumerate(order) if part.startswith(h)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{total:.0f}pt" '
            f'viewBox="0 0 {width:.1f} {total:.1f}" font-family="Helvetica, Arial, sans-serif">'
            f'<g class="graph">{head}{"".join(body)}</g></svg>')
