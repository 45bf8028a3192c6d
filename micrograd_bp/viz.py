"""Graphviz drawings of computation graphs and networks with their gradient flow; the only graphviz import."""

from __future__ import annotations

import math
import shutil
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import graphviz

from .engine import Value, topological_order
from .nn import MLP

RANKDIRS = ("LR", "TB", "RL", "BT")
# Output formats by file suffix: rendered by dot, or the DOT source itself (no binary needed).
RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
SOURCE_SUFFIXES = (".dot", ".gv")
INSTALL_HINT = ("install Graphviz: sudo apt-get install graphviz (Debian/Ubuntu) "
                "or brew install graphviz (macOS)")

# Gradient flow: an edge's width and colour grow with the gradient it carries back, relative to
# the largest in the picture, on a log scale: each DECADES-th of the range is ten times less.
DECADES = 4
MIN_WIDTH, MAX_WIDTH = 0.75, 4.5
POSITIVE_HUE, NEGATIVE_HUE = 0.0, 0.6  # red, blue
NOT_COMPUTED = "grad: not computed (call backward())"
FONT = "Helvetica"


class GraphvizMissing(RuntimeError):
    """The Graphviz `dot` program is not installed; the DOT source was written to `dot_path`."""

    def __init__(self, path: Path, dot_path: Path) -> None:
        self.path, self.dot_path = path, dot_path
        super().__init__(f"cannot render {path}: the Graphviz 'dot' program was not found; "
                         f"{INSTALL_HINT}; the DOT source was written to {dot_path}")


# ------------------------------------------------------------------------------------- helpers

def _escape(text: str) -> str:
    """Text for a quoted DOT string: backslashes and quotes escaped, newlines as \\n."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_record(text: str) -> str:
    """Text for a field of a record label: also { } | < > escaped, which records treat as syntax."""
    text = _escape(text)
    for special in "{}|<>":
        text = text.replace(special, "\\" + special)
    return text


def _label(text: str) -> str:
    """A finished label, never taken for an HTML-like <...> label."""
    return graphviz.nohtml(text)


def _number(x: float, decimals: int) -> str:
    """Fixed decimals; but a nonzero value that they would show with under two significant digits,
    or a huge one, gets `decimals` significant digits instead (0.0004386, not 0.0004)."""
    if x == 0:
        return f"{0.0:.{decimals}f}"
    if abs(x) < (10.0 ** (1 - decimals) if decimals else 1.0) or abs(x) >= 1e6:
        return f"{x:.{max(decimals, 1)}g}"
    return f"{x:.{decimals}f}"


def _check_options(rankdir: str, decimals: int) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 15:
        raise ValueError(f"decimals must be an integer from 0 to 15, got {decimals!r}")


def _strength(flow: float, largest: float) -> float:
    """0..1: the share of the width/colour range for a flow, log-scaled against the largest."""
    if flow == 0 or largest == 0:
        return 0.0
    return max(0.0, 1.0 + math.log10(abs(flow) / largest) / DECADES)


def _flow_style(flow: float, largest: float) -> dict[str, str]:
    """penwidth and colour of an edge: wider, more saturated and darker as more gradient flows."""
    s = _strength(flow, largest)
    hue = POSITIVE_HUE if flow >= 0 else NEGATIVE_HUE
    return {"penwidth": f"{MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * s:.2f}",
            "color": f"{hue:.3f} {s:.3f} {0.7 - 0.15 * s:.3f}"}


def _new_graph(rankdir: str, title: str) -> graphviz.Digraph:
    return graphviz.Digraph(
        graph_attr={"rankdir": rankdir, "label": _label(_escape(title)), "labelloc": "t",
                    "fontname": FONT},
        node_attr={"fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.6"},
    )


def _legend_lines(largest: float, decimals: int, what: list[str]) -> list[str]:
    """What an edge's width and colour mean: `what` says which quantity they show."""
    return [*what,
            f"widest and most saturated: the largest here, {_number(largest, decimals)};",
            f"each 1/{DECADES} of the width range thinner: ten times less (log scale)",
            "red: positive, blue: negative, grey: none"]


def _add_note(graph: graphviz.Digraph, name: str, lines: list[str]) -> None:
    """A note node, its lines left-justified."""
    text = "".join(_escape(line) + "\\l" for line in lines)
    graph.node(name, label=_label(text), shape="note", fontsize="9")


# ------------------------------------------------------------------------------------------ draw

def _nearest(root: Value, max_nodes: int) -> set[int]:
    """The ids of the max_nodes nodes nearest the root, breadth first (iterative)."""
    kept = {id(root)}
    queue = deque([root])
    while queue and len(kept) < max_nodes:
        for parent in queue.popleft().inputs:
            if id(parent) not in kept:
                kept.add(id(parent))
                queue.append(parent)
                if len(kept) == max_nodes:
                    break
    return kept


def draw(root: Value, *, rankdir: str = "LR", decimals: int = 4, edge_labels: bool = True,
         max_nodes: int = 500) -> graphviz.Digraph:
    """The computation graph ending at root: one record per Value (label, data, grad), one node per op.

    Edges go input -> op -> value. With edge_labels, each input's edge carries the local
    derivative d(out)/d(in). Edge width and colour show the gradient flowing back along each
    edge, |local derivative x grad of the consumer|. Node ids follow the topological order, so
    the same graph always gives the same DOT source. Above max_nodes Values, the nodes nearest
    the root are drawn, and a note says how many were left out. In Jupyter the returned graph
    displays itself: `draw(value)` shows a Value as its graph.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw: expected a Value, got {type(root).__name__}")
    _check_options(rankdir, decimals)
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")

    order = topological_order(root)
    position = {id(node): i for i, node in enumerate(order)}
    if len(order) > max_nodes:
        kept_ids = _nearest(root, max_nodes)
        kept = [node for node in order if id(node) in kept_ids]
    else:
        kept_ids, kept = set(position), order

    computed = root.grad != 0
    name = root.label or "output"
    d_root = f"d{root.label}" if root.label else "d(output)"
    num = (lambda x: _number(x, decimals))  # noqa: E731
    if not computed:
        title = (f"{name} = {num(root.data)}; gradients not computed yet: call backward() on "
                 f"{name}. Edge labels are local derivatives, known from the forward pass.")
    elif root.grad == 1:
        title = f"{name} = {num(root.data)}; grad on each node = {d_root}/d(node), after backward()"
    else:
        title = (f"{name} = {num(root.data)}; note: its grad is {num(root.grad)}, not 1, so the "
                 f"grads shown come from a backward() pass that did not start here (or accumulated)")
    graph = _new_graph(rankdir, title)

    # The gradient each drawn edge carries back: input -> op is local * grad of the consumer,
    # op -> value is the value's own grad.
    edges: list[tuple[str, str, float | None, float]] = []  # (tail, head, local or None, flow)
    for node in kept:
        if node.op is None:
            continue
        i = position[id(node)]
        for parent, local in zip(node.inputs, node.local_grads):
            if id(parent) in kept_ids:
                edges.append((f"v{position[id(parent)]}", f"o{i}", local, local * node.grad))
        edges.append((f"o{i}", f"v{i}", None, node.grad))
    largest = max((abs(flow) for *_, flow in edges), default=0.0) if computed else 0.0

    flip = rankdir in ("TB", "BT")  # records lay their fields across the rank direction
    for node in kept:
        i = position[id(node)]
        fields = [_escape_record(node.label)] if node.label else []
        fields.append(f"data {num(node.data)}")
        fields.append(f"grad {num(node.grad)}" if computed else _escape_record(NOT_COMPUTED))
        text = "|".join(fields)
        graph.node(f"v{i}", label=_label("{" + text + "}" if flip else text), shape="record")
        if node.op is not None:
            graph.node(f"o{i}", label=_label(_escape(node.op.symbol)), shape="ellipse",
                       fontsize="10", margin="0.05")
            cut = sum(1 for parent in node.inputs if id(parent) not in kept_ids)
            if cut:
                graph.node(f"cut{i}", label=_label(f"{cut} input{'s' if cut > 1 else ''} not shown"),
                           shape="plaintext", fontsize="9")
                graph.edge(f"cut{i}", f"o{i}", style="dashed")
    for tail, head, local, flow in edges:
        attrs = _flow_style(flow, largest) if largest else {}
        if edge_labels and local is not None:
            attrs["label"] = _label(_escape(num(local)))
        graph.edge(tail, head, **attrs)

    legend = ["edge label: local derivative d(out)/d(in)"] if edge_labels else []
    if largest:
        legend += _legend_lines(largest, decimals, ["edge width and colour: the gradient sent back along it,",
                                                    "|local derivative x grad of the consumer|"])
    else:
        legend.append("no gradient has flowed yet: edges are drawn plain")
    _add_note(graph, "legend", legend)
    if len(kept) < len(order):
        omitted = len(order) - len(kept)
        nearest = root.label or "the output"
        _add_note(graph, "omitted", [f"{len(kept)} of {len(order)} nodes shown; {omitted} omitted",
                                     f"(max_nodes={max_nodes}: the nodes nearest {nearest})"])
    return graph


# ---------------------------------------------------------------------------------- draw_network

def _default_names(n_layers: int, layer: int, size: int) -> list[str]:
    """h1, h2 for one hidden layer; h1_1, h2_1 for several; o1, o2 for the output layer."""
    if layer == n_layers - 1:
        return [f"o{j + 1}" for j in range(size)]
    if n_layers == 2:
        return [f"h{j + 1}" for j in range(size)]
    return [f"h{layer + 1}_{j + 1}" for j in range(size)]


def draw_network(mlp: MLP, *, decimals: int = 4, rankdir: str = "LR",
                 input_names: Sequence[str] | None = None, inputs: Sequence[Value | float] | None = None,
                 names: Sequence[Sequence[str]] | None = None, loss_name: str = "E",
                 title: str | None = None) -> graphviz.Digraph:
    """An MLP as its neurons: a column of inputs, one per layer, and the biases.

    Each edge carries its weight's label and value and, once backward() has run (some parameter
    has a nonzero grad), dLOSS/dweight; its width and colour show |dLOSS/dweight|. Inputs are
    named by input_names, else by the labels of `inputs` (whose values are then shown too), else
    i1, i2, ...; neurons by `names`, else by their own names, else h1.. (hidden) and o1.. (output).
    A shared bias is one node for its layer.
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"draw_network: expected an MLP, got {type(mlp).__name__}")
    _check_options(rankdir, decimals)
    layers = mlp.layers
    n_inputs = len(layers[0].neurons[0].weights)
    num = (lambda x: _number(x, decimals))  # noqa: E731

    if inputs is not None and len(inputs) != n_inputs:
        raise ValueError(f"draw_network: {len(inputs)} inputs for a network with {n_inputs}")
    if input_names is None:
        labels = [x.label if isinstance(x, Value) else "" for x in inputs or []]
        input_names = labels if labels and all(labels) else [f"i{k + 1}" for k in range(n_inputs)]
    if len(input_names) != n_inputs:
        raise ValueError(f"draw_network: {len(input_names)} input names for {n_inputs} inputs")
    if names is not None and (len(names) != len(layers)
                              or any(len(n) != len(layer.neurons) for n, layer in zip(names, layers))):
        raise ValueError("draw_network: names needs one list per layer, one name per neuron")
    neuron_names = [
        list(names[k]) if names is not None
        else [n.name for n in layer.neurons] if all(n.name for n in layer.neurons)
        else _default_names(len(layers), k, len(layer.neurons))
        for k, layer in enumerate(layers)
    ]

    parameters = mlp.parameters()
    computed = any(p.grad != 0 for p in parameters)
    weights = [w for layer in layers for neuron in layer.neurons for w in neuron.weights]
    largest = max((abs(w.grad) for w in weights), default=0.0) if computed else 0.0
    sizes = " -> ".join(str(n) for n in [n_inputs, *(len(layer.neurons) for layer in layers)])
    activations = ", ".join(layer.activation for layer in layers)
    if title is None:
        title = f"MLP {sizes} ({activations})"
    note = (f"edges: weight and d{loss_name}/dweight after backward()" if computed
            else "gradients not computed yet: call backward() on the loss; edges show the weights")
    graph = _new_graph(rankdir, f"{title}\n{note}")
    graph.attr(ranksep="1.6", nodesep="0.5")  # room for the two-line edge labels

    def parameter_text(p: Value, kind: str) -> str:
        """w5 = 0.4000, and after backward dE/dw5 = 0.0822 on a second line."""
        text = (_escape(p.label) + " = " if p.label else "") + num(p.data)
        if computed:
            text += f"\\nd{_escape(loss_name)}/d{_escape(p.label or kind)} = {num(p.grad)}"
        return text

    # Columns: the inputs, then each layer; a layer's bias sits in the column before it.
    columns: list[list[tuple[str, str, dict[str, str]]]] = [[] for _ in range(len(layers) + 1)]
    for k, name in enumerate(input_names):
        text = _escape(name)
        if inputs is not None:
            x = inputs[k]
            text += f"\\n{num(x.data if isinstance(x, Value) else float(x))}"
        columns[0].append((f"i{k}", text, {"shape": "circle"}))
    edges: list[tuple[str, str, dict[str, str]]] = []
    for k, layer in enumerate(layers):
        previous = [node for node, *_ in columns[k]]  # this layer's bias is added below
        biases: dict[int, str] = {}  # id(bias) -> its node, so a shared bias is drawn once
        for j, neuron in enumerate(layer.neurons):
            node = f"n{k + 1}_{j}"
            columns[k + 1].append((node, _escape(neuron_names[k][j]), {"shape": "circle"}))
            for tail, w in zip(previous, neuron.weights):
                style = _flow_style(w.grad, largest) if largest else {}
                edges.append((tail, node, {"label": parameter_text(w, "weight"), **style}))
            b = neuron.bias
            if b is None:
                continue
            if id(b) not in biases:
                biases[id(b)] = f"b{k + 1}" if layer.shared_bias else f"b{k + 1}_{j}"
                columns[k].append((biases[id(b)], parameter_text(b, "bias"),
                                   {"shape": "box", "style": "rounded"}))
            edges.append((biases[id(b)], node, {"style": "dashed", "color": "gray50"}))

    for column in columns:
        with graph.subgraph() as same:
            same.attr(rank="same")
            for node, text, attrs in column:
                same.node(node, label=_label(text), **attrs)
            for above, below in zip(column, column[1:]):  # keep the column in order, bias last
                same.edge(above[0], below[0], style="invis")
    for tail, head, attrs in edges:
        if "label" in attrs:
            attrs = {**attrs, "label": _label(attrs["label"])}
        graph.edge(tail, head, **attrs)

    legend = [f"edge label: weight = value; d{loss_name}/dweight after backward()",
              "dashed: a bias (its value on its node)"]
    if largest:
        legend += _legend_lines(largest, decimals, [f"edge width and colour: |d{loss_name}/dweight|"])
    _add_note(graph, "legend", legend)
    return graph


# ----------------------------------------------------------------------------------- write_graph

def output_format(path: str | Path) -> str:
    """The format a file suffix asks for: svg, png, pdf, or dot (the source); else ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        return "dot"
    if suffix in RENDERED:
        return RENDERED[suffix]
    known = ", ".join([*RENDERED, *SOURCE_SUFFIXES])
    raise ValueError(f"cannot tell the format of {str(path)!r} from its suffix "
                     f"{suffix or '(none)'!r}: use one of {known}")


def write_graph(graph: graphviz.Digraph, path: str | Path) -> Path:
    """Write graph to path, in the format its suffix names; returns the path written.

    .dot (or .gv) writes the DOT source and needs no Graphviz binary. .svg, .png and .pdf are
    rendered by dot; if dot is missing, the source is written beside the file (same name, .dot)
    and GraphvizMissing is raised, saying how to install Graphviz.
    """
    path = Path(path)
    fmt = output_format(path)
    if fmt == "dot":
        path.write_text(graph.source, encoding="utf-8")
        return path
    if shutil.which("dot") is None:
        raise _source_beside(graph, path)
    try:
        data = graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise _source_beside(graph, path) from None
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"dot could not render {path}: {detail[0] if detail else error}") from None
    path.write_bytes(data)
    return path


def _source_beside(graph: graphviz.Digraph, path: Path) -> GraphvizMissing:
    """Save the DOT source next to the file that could not be rendered; the error to raise."""
    dot_path = path.with_suffix(".dot")
    dot_path.write_text(graph.source, encoding="utf-8")
    return GraphvizMissing(path, dot_path)
