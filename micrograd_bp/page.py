"""The explorable graph: one self-contained HTML page, its JavaScript generated from the op records."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template
from types import ModuleType

from . import expr, netview, render
from .engine import Value, topological_order
from .nn import MLP
from .ops import OPS, Op
from .paths import MAX_PATHS
from .trace import ledger_names

LEAF_LIMIT = 2000  # leaves listed in the page's editor; the others are set by window.micrograd.setLeaf
CHUNK = 400  # nodes per generated JavaScript function (one huge function parses slowly)


class PageError(RuntimeError):
    """The page cannot be made: no Graphviz, or an op without a JavaScript template."""


# ------------------------------------------------------------------------------- the op records

def _op_js(op: Op, n: int) -> str:
    """The op record's JavaScript forward for a node with n inputs. It may call the page's fail(message),
    repr(x) (Python's repr of a float) and power(a, n) (ops._power), to raise Python's errors."""
    js = op.js_for(n)
    if not js:
        raise PageError(f"the op {op.name!r} has no JavaScript template (its record's js): "
                        "the page cannot compute it")
    return js


# ------------------------------------------------------------------ formula text -> JavaScript
# A formula is parsed by the expression language's parser and folded into a small tree; render.py
# writes the tree as JavaScript and as display text; the tree also gives its top-level factors.

def _tree(formula: str) -> tuple:
    """The formula as a tree: ("num", x), ("var", name), or (op record, *args)."""
    return expr.parse(formula).fold(lambda x: ("num", x), lambda n: ("var", n),
                                    lambda op, args: (op, *args))


def _write(tree: tuple, style: render.Style, names: dict[str, str]) -> render.Piece:
    """A formula tree in a style (render.py's one fold), names mapping each variable's text."""
    if tree[0] == "num":
        return render.Piece(style.number(tree[1]))
    if tree[0] == "var":
        return render.Piece(names[tree[1]])
    return render.apply(tree[0], [_write(t, style, names) for t in tree[1:]], style)


def _js(tree: tuple, env: dict[str, str]) -> str:
    """JavaScript for a formula tree; env maps each name to a JavaScript expression."""
    return _write(tree, render.JS, env).text


def _text(tree: tuple) -> str:
    """The formula as text with {name} placeholders for the page to fill in."""
    return _write(tree, render.TEXT, _Placeholders()).text


class _Placeholders(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _factors(tree: tuple) -> list[tuple]:
    """The top-level factors of a product (out*(1 - out): out and 1 - out)."""
    if tree[0] is OPS["mul"]:
        return _factors(tree[1]) + _factors(tree[2])
    return [tree]


# --------------------------------------------------------------------------------- the graph

def _kind(op: Op, n: int) -> str:
    return f"{op.name}/{n}" if op.name != "powc" else f"powc/{float(op.exponent)!r}"


def _generate(order: list[Value], index: dict[int, int]) -> tuple[str, dict[str, dict]]:
    """The forward pass as straight-line JavaScript, one statement per node, in chunks; and for
    each kind of node (op and number of inputs) its formulas' text and a function of its factors."""
    chunks: list[str] = []
    lines: list[str] = []
    kinds: dict[str, dict] = {}
    factor_js: list[str] = []
    for i, node in enumerate(order):
        if node.op is None:
            continue
        n = len(node.inputs)
        inputs = [f"v[{index[id(p)]}]" for p in node.inputs]
        names = node.op.input_names(n)
        formulas = [_tree(f) for f in node.op.formulas_for(n)]
        env = {**dict(zip(names, inputs)), "out": f"v[{i}]"}
        forward = render.fill_js(_op_js(node.op, n), inputs)
        partials = ", ".join(_js(f, env) for f in formulas)
        lines.append(f"S.at = {i}; v[{i}] = {forward}; if (v[{i}] - v[{i}] !== 0) overflow({i}); "
                     f"l[{i}] = [{partials}];")
        kind = _kind(node.op, n)
        if kind not in kinds:
            local = {**{name: f"x[{k}]" for k, name in enumerate(names)}, "out": "out"}
            kinds[kind] = {"names": list(names),
                           "text": [_text(f) for f in formulas],
                           "factors": [[_text(t) for t in _factors(f)] for f in formulas],
                           "index": len(factor_js)}
            factor_js.append("function (x, out) { return [" + ", ".join(
                "[" + ", ".join(_js(t, local) for t in _factors(f)) + "]" for f in formulas) + "]; }")
        if len(lines) == CHUNK:
            chunks.append(lines)
            lines = []
    if lines:
        chunks.append(lines)
    code = ["const FORWARD = ["]
    code += ["function (v, l, S) {\n" + "\n".join(chunk) + "\n}," for chunk in chunks]
    code += ["];", "const FACTORS = [", ",\n".join(factor_js), "];"]
    return "\n".join(code), kinds


@contextmanager
def _fresh_backward(root: Value, order: list[Value]) -> Iterator[None]:
    """Inside: every node's grad as a backward() from root on zero grads leaves it (so the drawing
    shows what the page computes). After: the grads the graph had, unchanged."""
    saved = [node.grad for node in order]
    for node in order:
        node.grad = 0.0
    try:
        try:
            root.backward()
        except OverflowError:  # a gradient past the float range: the page shows where and why
            for node in order:
                node.grad = 0.0
        yield
    finally:
        for node, g in zip(order, saved):
            node.grad = g


SUM_TERMS = 6  # terms of a weighted sum shown in a node's tip


def _expression(node: Value, names: list[str], index: dict[int, int]) -> str:
    """The node as its op over its inputs' names (render.py), for the page's tip."""
    if node.op is None:
        return ""
    inputs = [render.piece(names[index[id(p)]]) for p in node.inputs]
    n, shown = len(inputs), 2 * SUM_TERMS
    if render.form(node.op, n) == "sum" and n > shown + n % 2:
        text = render.apply(node.op, inputs[:shown], render.TEXT).text
        return f"{text} + ... ({(n - shown) // 2 + n % 2} more terms)"
    return render.apply(node.op, inputs, render.TEXT).text


def _formulas(node: Value, names: list[str], index: dict[int, int]) -> list[str]:
    """Each local derivative's formula over the node's names (render.py), for the page's tips."""
    if node.op is None:
        return []
    n = len(node.inputs)
    pieces = {name: render.piece(names[index[id(p)]]) for name, p in zip(node.op.input_names(n), node.inputs)}
    pieces["out"] = render.piece(names[index[id(node)]])
    return [render.fold(_parsed(f), render.TEXT, pieces) for f in node.op.formulas_for(n)]


@lru_cache(maxsize=1024)
def _parsed(formula: str) -> expr.Expression:
    return expr.parse(formula)


def _nodes(order: list[Value], index: dict[int, int], parameters: set[int]) -> list[dict]:
    _, names = ledger_names(order[-1])  # the backward ledger's names: a label, else the expression
    return [{"id": f"v{i}", "name": names[i], "label": node.label,
             "expression": _expression(node, names, index), "formulas": _formulas(node, names, index),
             "op": node.op.name if node.op else None, "symbol": node.op.symbol if node.op else "",
             "kind": _kind(node.op, len(node.inputs)) if node.op else None,
             "inputs": [index[id(p)] for p in node.inputs], "data": node.data,
             "parameter": id(node) in parameters}
            for i, node in enumerate(order)]


def _viz() -> ModuleType:
    from . import viz  # graphviz is imported when a page is made, not with the package

    return viz


def _svg(graph: object) -> str:
    """The drawing as Graphviz's SVG, from `<svg` on."""
    viz = _viz()
    if shutil.which("dot") is None:
        raise PageError(f"the page needs Graphviz's dot to lay out the graph: {viz.INSTALL_HINT}")
    try:
        svg = graph.pipe(format="svg", quiet=True).decode("utf-8")  # type: ignore[attr-defined]
    except Exception as error:  # graphviz.ExecutableNotFound / CalledProcessError
        raise PageError(f"dot could not lay out the graph: {error}") from None
    return svg[svg.index("<svg"):]


# ---------------------------------------------------------------------------------- the page

@dataclass(repr=False)
class Page:
    """A self-contained HTML page: `.save(path)`, and it shows itself in Jupyter."""

    html: str
    title: str

    def __repr__(self) -> str:
        return f"Page({self.title!r}, {len(self.html.encode('utf-8')):,} bytes of HTML)"

    def save(self, path: str | Path) -> Path:
        """Write the page; returns the path written."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # An iframe's srcdoc, so the page's own script runs in Jupyter's output cell.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:720px;'
                f'border:1px solid #ccc" sandbox="allow-scripts" title="{html.escape(self.title)}"></iframe>')


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json_for_script(data: object) -> str:
    """JSON that cannot end its <script> element or open markup: < > & as \\u escapes."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# The same three, public: the exercise page (exercise_page.py) builds on the drawing, the data
# element and the assets the same way.
svg, json_for_script, asset = _svg, _json_for_script, _asset


def _page(data: dict, code: str, title: str) -> Page:
    if "</" in code:
        raise PageError("generated code contains '</'")  # never: it holds no user text
    script = _asset("page.js").replace("  // GENERATED CODE\n", code + "\n", 1)
    page = Template(_asset("page.html")).substitute(
        title=html.escape(title), css=_asset("page.css"), data=_json_for_script(data), script=script)
    return Page(page, title)


def _check_decimals(decimals: int) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 15:
        raise ValueError(f"decimals must be an integer from 0 to 15, got {decimals!r}")


def _graph_data(root: Value, order: list[Value], parameters: Sequence[Value] | None, decimals: int,
                kind: str, title: str,
                waypoints: Sequence[Value] | None = None) -> tuple[dict, str, dict[int, int]]:
    index = {id(node): i for i, node in enumerate(order)}
    if parameters is None:
        parameters = [node for node in order if node.op is None and node.label]
    for p in parameters:
        if not isinstance(p, Value):
            raise TypeError(f"parameters: expected Values, got {type(p).__name__}")
        if id(p) not in index or p.op is not None:
            raise ValueError(f"parameters: {p!r} is not a leaf of the graph, so it cannot get a slider")
    code, kinds = _generate(order, index)
    data = {"kind": kind, "title": title, "decimals": decimals, "root": len(order) - 1,
            "nodes": _nodes(order, index, {id(p) for p in parameters}), "kinds": kinds,
            "max_paths": MAX_PATHS, "leaf_limit": LEAF_LIMIT,
            "leaf_groups": _leaf_groups(order, index, parameters),
            "waypoints": _waypoints(order, index, waypoints)}
    return data, code, index


def _natural(name: str) -> list:
    """w2 before w10: a name's digit runs compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _leaf_groups(order: list[Value], index: dict[int, int], parameters: Sequence[Value]) -> list[list]:
    """The editable leaves (the labelled ones and the parameters; an unlabelled leaf such as the
    loss's 0.5 is a constant), as a tutorial lists them: the inputs, weights and biases of the
    weighted sums (linear: w1, x1, w2, x2, ..., b), then the others; each group in name order."""
    editable = {id(node) for node in order if node.op is None and node.label} | {id(p) for p in parameters}
    role: dict[int, str] = {}
    for node in order:
        if node.op is None or node.op.name != "linear":
            continue
        n = len(node.inputs)
        for k, p in enumerate(node.inputs):
            kind = "biases" if n % 2 and k == n - 1 else "weights" if k % 2 == 0 else "inputs"
            if p.op is None and (role.get(id(p)) in (None, "inputs") or kind == "weights"):
                role[id(p)] = kind
    groups: dict[str, list[Value]] = {"inputs": [], "weights": [], "biases": [], "other leaves": []}
    for node in order:
        if id(node) in editable:
            groups[role.get(id(node), "other leaves")].append(node)
    return [[name, [index[id(n)] for n in sorted(nodes, key=lambda n: _natural(n.label))]]
            for name, nodes in groups.items() if nodes]


def _waypoints(order: list[Value], index: dict[int, int],
               waypoints: Sequence[Value] | None) -> list[int] | None:
    """The nodes a chain-rule path is written over (paths.explain's waypoints): those given, else
    the labelled interior nodes if there are any besides the output, else None (every node)."""
    if waypoints is None:
        waypoints = [node for node in order[:-1] if node.op is not None and node.label]
        if not waypoints:
            return None
    for w in waypoints:
        if not isinstance(w, Value) or id(w) not in index:
            raise ValueError(f"waypoints: {w!r} is not a node of the graph")
    return sorted({index[id(w)] for w in waypoints} | {len(order) - 1})


def explore(root: Value, *, rankdir: str = "LR", decimals: int = 4, max_nodes: int = 500,
            parameters: Sequence[Value] | None = None, title: str | None = None,
            waypoints: Sequence[Value] | None = None) -> Page:
    """The computation graph ending at root as a live page: hover, click, step through backward,
    edit the leaves. `parameters` (default: the labelled leaves) get a slider as well as a field;
    an unlabelled leaf that is not a parameter is a constant, not editable. A clicked node's
    chain-rule paths are written over `waypoints` as explain() writes them (default: the labelled
    interior nodes, if any, else every node). Above max_nodes Values the drawing shows the nodes
    nearest the root, as draw() does. The page opens at step 0 of backward() with a short guide."""
    if not isinstance(root, Value):
        raise TypeError(f"explore: expected a Value, got {type(root).__name__}")
    _check_decimals(decimals)
    order = topological_order(root)
    title = title or f"The computation graph of {root.label or 'the output'}"
    data, code, index = _graph_data(root, order, parameters, decimals, "graph", title, waypoints)
    with _fresh_backward(root, order):
        graph = _viz().draw(root, rankdir=rankdir, decimals=decimals, max_nodes=max_nodes)
    data["svg"] = _svg(graph)
    # The drawing's elements as viz recorded them: each SVG group (by its title) and the Value or
    # the edge (consumer, input position) it draws.
    elements: dict[str, dict] = {}
    for element in _viz().drawing_elements(graph):
        if element.edge is not None:
            elements[element.id] = {"edge": list(element.edge), "role": element.role}
        else:
            elements[element.id] = {"node": element.node, "role": element.role}
    data["shown"] = sum(1 for e in elements.values() if e["role"] == "value")  # draw's cut
    data["elements"] = elements
    return _page(data, code, title)


def explore_network(mlp: MLP, *, loss: Value | None = None, inputs: Sequence[Value | float] | None = None,
                    input_names: Sequence[str] | None = None, names: Sequence[Sequence[str]] | None = None,
                    loss_name: str = "E", title: str | None = None, decimals: int = 4) -> Page:
    """The network's neurons as a live page (draw_network's view). The graph behind it is `loss`'s,
    or with no loss the network's output on `inputs` (one output). Hover and click a neuron, an
    input, a bias or a weight's edge; edit the parameters and inputs."""
    if not isinstance(mlp, MLP):
        raise TypeError(f"explore_network: expected an MLP, got {type(mlp).__name__}")
    _check_decimals(decimals)
    n_inputs = len(mlp.layers[0].neurons[0].weights)
    if loss is None:
        if inputs is None:
            raise ValueError("explore_network: give the loss (a Value), or the inputs to run the network on")
        inputs = [x if isinstance(x, Value) else Value(x, f"i{k + 1}") for k, x in enumerate(inputs)]
        outputs = mlp(inputs)
        if len(outputs) != 1:
            raise ValueError(f"explore_network: the network has {len(outputs)} outputs: give the loss "
                             "to explore (a Value built from them)")
        loss = outputs[0]
    if not isinstance(loss, Value):
        raise TypeError(f"explore_network: loss must be a Value, got {type(loss).__name__}")
    order = topological_order(loss)
    index = {id(node): i for i, node in enumerate(order)}
    missing = [p for p in mlp.parameters() if id(p) not in index]
    if missing:
        raise ValueError(f"explore_network: {len(missing)} of the network's parameters are not in the "
                         "loss's graph: build the loss from this network's outputs")
    sizes = " -> ".join(str(n) for n in [n_inputs, *(len(layer.neurons) for layer in mlp.layers)])
    title = title or f"MLP {sizes}"
    data, code, index = _graph_data(loss, order, mlp.parameters(), decimals, "network", title)
    input_names, neuron_names = _viz().network_names(mlp, input_names, inputs, names, "explore_network")
    with _fresh_backward(loss, order):
        view = netview.network_view(mlp, order, inputs=inputs, input_names=input_names,
                                    neuron_names=neuron_names, loss_name=loss_name, title=title,
                                    decimals=decimals)
    data["svg"] = view.svg
    data["loss_name"] = loss_name
    data["elements"] = view.elements
    return _page(data, code, title)


