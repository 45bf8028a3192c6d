"""Graphviz drawings of computation graphs and networks with their gradient flow; the only graphviz import."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Callable, NamedTuple

import graphviz

from .engine import Value
from .engine import grad as engine_grad
from .nn import MLP
from .paths import highlight_paths
from .trace import BackwardTrace, is_numbered, ledger_names

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
MAX_NODES = 500  # draw()'s default node limit; an animation refuses graphs above it
LARGE_GRAPH = 40  # above this many Values drawn, the layout trades polish for speed
MAX_FAN_OUT = 8  # in a large graph, a leaf used more often, over more levels, is drawn at each use
MAX_ANIMATION_WORK = 2_500  # nodes x frames an animation may draw (Mazur: 31 x 17 = 527, 5 s)
ANIMATION_DPI = 64  # the GIF's resolution: readable, and a few hundred KB for the Mazur graph
RENDER_TIMEOUT = 30.0  # seconds dot may take before write_graph gives up with a clear error
# The ledger's frames: a node's state, and the edges of the step being shown.
STATE_STYLES = {"final": {"style": "filled", "fillcolor": "#c7e9c0"},
                "partial": {"style": "filled", "fillcolor": "#fff3b0"},
                "waiting": {"color": "gray60", "fontcolor": "gray40"}}
HIGHLIGHT = {"color": "darkorange", "penwidth": "2.5"}
FRAME_LEGEND = ["green: grad final (every += to it has happened)", "yellow: a partial sum, more += to come",
                "grey: not reached yet", "orange: this step's edges, local x grad = amount sent"]


class GraphvizMissing(RuntimeError):
    """The Graphviz `dot` program is not installed; the DOT source was written to `dot_path`."""

    def __init__(self, path: Path, dot_path: Path, written: bool = True) -> None:
        self.path, self.dot_path = path, dot_path if written else None
        where = (f"the DOT source was written to {dot_path}" if written else
                 f"the DOT source was not written: {dot_path} exists already and was kept")
        super().__init__(f"cannot render {path}: the Graphviz 'dot' program was not found; "
                         f"{INSTALL_HINT}; {where}")


class RenderError(RuntimeError):
    """dot failed on a graph, or did not finish within RENDER_TIMEOUT seconds."""


# ------------------------------------------------------------------------------------- helpers

# Characters dot cannot take raw: control characters (but tab and newline) and lone surrogates,
# which have no UTF-8 encoding. They are drawn as visible escapes: \x00, \udc80.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _text(label: object) -> str:
    """A label as text: a label that is not a string is drawn as its str()."""
    return label if isinstance(label, str) else str(label) if label else ""


def _escape(text: str) -> str:
    """Text for a quoted DOT string: backslashes and quotes escaped, newlines as \\n, control
    characters and lone surrogates as visible escapes."""
    text = _INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                          else f"\\u{ord(m.group()):04x}", _text(text))
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
    ratio = abs(flow) / largest if flow != 0 and largest != 0 else 0.0
    if ratio == 0.0:  # also a ratio below the float range (1e-300 against 1e300): no flow to show
        return 0.0
    return max(0.0, 1.0 + math.log10(ratio) / DECADES)


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


class _Flow:
    """Edge widths and colours for the gradient flows of one picture, and the legend for them."""

    def __init__(self, flows: Iterable[float], computed: bool) -> None:
        self.largest = max((abs(f) for f in flows), default=0.0) if computed else 0.0

    def style(self, flow: float) -> dict[str, str]:
        return _flow_style(flow, self.largest) if self.largest else {}

    def legend(self, graph: graphviz.Digraph, lines: list[str], decimals: int, what: list[str],
               otherwise: str | None = None) -> None:
        """The legend note: `lines`, then what width and colour mean (or `otherwise` if no flow)."""
        if self.largest:
            lines = lines + _legend_lines(self.largest, decimals, what)
        elif otherwise:
            lines = lines + [otherwise]
        _add_note(graph, "legend", lines)


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


def _check_max_nodes(max_nodes: int) -> None:
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")


def _are_partials(order: list[Value], grads: Sequence[float]) -> bool:
    """Whether grads (by position) are d(root)/d(node), as one backward() pass from the root leaves them."""
    expected = engine_grad(order[-1], order)
    return all(g == e or abs(g - e) <= 1e-9 * max(abs(g), abs(e)) for g, e in zip(grads, expected))


def _title(order: list[Value], grads: Sequence[float], num: Callable[[float], str]) -> str:
    """What the grads on the drawing are: not computed yet, this graph's partials, or something else."""
    root = order[-1]
    name = _text(root.label) or "output"
    d_root = f"d{name}" if root.label else "d(output)"
    if grads[-1] == 0:
        return (f"{name} = {num(root.data)}; gradients not computed yet: call backward() on "
                f"{name}. Edge labels are local derivatives, known from the forward pass.")
    if grads[-1] != 1:
        return (f"{name} = {num(root.data)}; note: its grad is {num(grads[-1])}, not 1, so the "
                f"grads shown come from a backward() pass that did not start here (or accumulated)")
    if not _are_partials(order, grads):
        return (f"{name} = {num(root.data)}; note: the grads shown are not {d_root}/d(node): they "
                f"add up several backward() passes (or one from another output); call zero_grad() "
                f"before backward()")
    return f"{name} = {num(root.data)}; grad on each node = {d_root}/d(node), after backward()"


class _Highlight(NamedTuple):
    """The edges of one ledger step: the node processed and, per input position, the text shown."""

    node: int  # position of the node processed
    labels: dict[int, str]  # input index -> "local x grad = amount"


def _draw(order: list[Value], names: list[str], *, rankdir: str, decimals: int, edge_labels: bool,
          max_nodes: int, title: str, grad_field: Callable[[int], str],
          flows: Sequence[float] | None, legend: list[str],
          plain_note: str | None = None, node_style: Callable[[int], dict[str, str]] | None = None,
          highlight: _Highlight | None = None) -> graphviz.Digraph:
    """The drawing shared by draw and the ledger's frames: records, op nodes, edges, notes.

    grad_field(k) is the text of node #k's grad field; flows (each node's grad, by position) set
    the edges' widths and colours, None draws them plain.
    """
    root = order[-1]
    position = {id(node): i for i, node in enumerate(order)}
    if len(order) > max_nodes:
        kept_ids = _nearest(root, max_nodes)
        kept = [node for node in order if id(node) in kept_ids]
    else:
        kept_ids, kept = set(position), order
    graph = _new_graph(rankdir, title)
    large = len(kept) > LARGE_GRAPH
    if large:  # dot's layout is superlinear in long edges: bounded effort, straight edges
        graph.attr(nslimit="1", nslimit1="1", splines="line", concentrate="true")
    num = (lambda x: _number(x, decimals))  # noqa: E731

    # The gradient each drawn edge carries back: input -> op is local * grad of the consumer,
    # op -> value is the value's own grad.
    edges: list[tuple[str, str, float | None, float, str]] = []  # (tail, head, local, flow, note)
    for node in kept:
        if node.op is None:
            continue
        i = position[id(node)]
        grad = flows[i] if flows is not None else 0.0
        for n, (parent, local) in enumerate(zip(node.inputs, node.local_grads)):
            if id(parent) in kept_ids:
                note = highlight.labels.get(n, "") if highlight and highlight.node == i else ""
                edges.append((f"v{position[id(parent)]}", f"o{i}", local, local * grad, note))
        edges.append((f"o{i}", f"v{i}", None, grad, ""))
    flow = _Flow((f for *_, f, _ in edges), computed=flows is not None and flows[-1] != 0)
    # In a large graph, a leaf used by many ops far apart (x in x*x*...*x) is drawn again beside
    # each use: one box with hundreds of edges across the picture is what makes dot take minutes.
    # (A network's inputs, used by every neuron of the first layer side by side, stay one box.)
    uses: dict[str, int] = {}
    for tail, *_ in edges:
        uses[tail] = uses.get(tail, 0) + 1
    copied: set[str] = set()
    if large and any(count > MAX_FAN_OUT for count in uses.values()):
        # A level counted from the leaves (depth) and from the output (height): the consumers of
        # y in x1*y + x2*y + ... + x300*y all have depth 1, but dot lays each beside its sum,
        # 300 levels apart.
        depth, height = [0] * len(order), [0] * len(order)
        for k, node in enumerate(order):
            depth[k] = 1 + max((depth[position[id(p)]] for p in node.inputs), default=-1)
        for k in range(len(order) - 1, -1, -1):
            for p in order[k].inputs:
                j = position[id(p)]
                height[j] = max(height[j], height[k] + 1)
        consumers: dict[str, list[int]] = {}
        for tail, head, *_ in edges:
            if head.startswith("o"):
                consumers.setdefault(tail, []).append(int(head[1:]))

        def spread(levels: list[int], at: list[int]) -> int:
            return max(at[k] for k in levels) - min(at[k] for k in levels)

        copied = {tail for tail, count in uses.items() if count > MAX_FAN_OUT
                  and order[int(tail[1:])].op is None
                  and max(spread(consumers[tail], depth), spread(consumers[tail], height)) > MAX_FAN_OUT}
    if copied:
        seen: dict[str, int] = {}
        for k, (tail, head, local, carried, note) in enumerate(edges):
            if tail in copied:
                seen[tail] = seen.get(tail, 0) + 1
                if seen[tail] > 1:
                    edges[k] = (f"{tail}u{seen[tail]}", head, local, carried, note)

    flip = rankdir in ("TB", "BT")  # records lay their fields across the rank direction
    for node in kept:
        i = position[id(node)]
        shown = names[i] if is_numbered(names[i]) else _text(node.label)
        fields = [_escape_record(shown)] if shown else []
        fields.append(f"data {num(node.data)}")
        fields += [grad_field(i)] if grad_field(i) else []  # an empty text: no grad field
        text = "|".join(fields)
        graph.node(f"v{i}", label=_label("{" + text + "}" if flip else text), shape="record",
                   **(node_style(i) if node_style else {}))
        if f"v{i}" in copied:  # the same box again for each further use, dashed
            for use in range(2, uses[f"v{i}"] + 1):
                again = "|".join([fields[0] if shown else f"#{i}", f"use {use} of {uses[f'v{i}']}",
                                  *fields[1 if shown else 0:]])
                attrs = dict(node_style(i)) if node_style else {}
                attrs["style"] = ",".join(filter(None, [attrs.get("style"), "dashed"]))
                graph.node(f"v{i}u{use}", label=_label("{" + again + "}" if flip else again),
                           shape="record", **attrs)
        if node.op is not None:
            graph.node(f"o{i}", label=_label(_escape(node.op.symbol)), shape="ellipse",
                       fontsize="10", margin="0.05",
                       **(HIGHLIGHT if highlight and highlight.node == i else {}))
            cut = sum(1 for parent in node.inputs if id(parent) not in kept_ids)
            if cut:
                graph.node(f"cut{i}", label=_label(f"{cut} input{'s' if cut > 1 else ''} not shown"),
                           shape="plaintext", fontsize="9")
                graph.edge(f"cut{i}", f"o{i}", style="dashed")
    for tail, head, local, carried, note in edges:
        attrs = flow.style(carried)
        text = note or (num(local) if edge_labels and local is not None else "")
        if note:
            attrs.update(HIGHLIGHT, fontcolor=HIGHLIGHT["color"])
        if text:
            attrs["xlabel" if large else "label"] = _label(_escape(text))
        graph.edge(tail, head, **attrs)

    lines = ["edge label: local derivative d(out)/d(in)"] if edge_labels else []
    lines += legend
    if copied:
        lines.append(f"dashed box: a leaf used by more than {MAX_FAN_OUT} ops far apart, drawn again "
                     "at each use")
    flow.legend(graph, lines, decimals, ["edge width and colour: the gradient sent back along it,",
                                         "|local derivative x grad of the consumer|"],
                otherwise=plain_note)
    if len(kept) < len(order):
        omitted = len(order) - len(kept)
        nearest = _text(root.label) or "the output"
        _add_note(graph, "omitted", [f"{len(kept)} of {len(order)} nodes shown; {omitted} omitted",
                                     f"(max_nodes={max_nodes}: the nodes nearest {nearest})"])
    return graph


def draw(root: Value, *, rankdir: str = "LR", decimals: int = 4, edge_labels: bool = True,
         max_nodes: int = MAX_NODES, paths_to: Value | None = None) -> graphviz.Digraph:
    """The computation graph ending at root: one record per Value (label, data, grad), one node per op.

    Edges go input -> op -> value. With edge_labels, each input's edge carries the local
    derivative d(out)/d(in). Edge width and colour show the gradient flowing back along each
    edge, |local derivative x grad of the consumer|. Node ids follow the topological order, so
    the same graph always gives the same DOT source; a node without a label of its own whose
    name in the ledger and explain is a position (`#12`, `w1 #3`) shows that name. Above
    max_nodes Values, the nodes nearest the root are drawn, and a note says how many were left
    out. The title says when the grads shown are not the root's partials (several backward()
    passes, or one from another output). With paths_to, every chain-rule path from root down to
    that node is highlighted, each path's factors and product in a note (paths.highlight_paths).
    In Jupyter the returned graph displays itself.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw: expected a Value, got {type(root).__name__}")
    _check_options(rankdir, decimals)
    _check_max_nodes(max_nodes)
    order, names = ledger_names(root)
    graph = _draw_grads(order, names, [node.grad for node in order], rankdir=rankdir,
                        decimals=decimals, edge_labels=edge_labels, max_nodes=max_nodes)
    return graph if paths_to is None else highlight_paths(graph, root, paths_to)


def _draw_grads(order: list[Value], names: list[str], grads: list[float], **options) -> graphviz.Digraph:
    """draw() with the grads given by position (the ledger's last frame passes its own)."""
    num = (lambda x: _number(x, options["decimals"]))  # noqa: E731
    computed = grads[-1] != 0
    not_computed = _escape_record(NOT_COMPUTED)
    return _draw(order, names, title=_title(order, grads, num), legend=[],
                 grad_field=lambda i: f"grad {num(grads[i])}" if computed else not_computed,
                 flows=grads if computed else None,
                 plain_note="no gradient has flowed yet: edges are drawn plain", **options)


# ------------------------------------------------------------------------------------ worksheets

# An empty field to write a number in, two lines high (no-break spaces: dot keeps their width).
BLANK = "\u00a0" * 18 + "\\n\u00a0"


def draw_blanks(root: Value, blanks: Mapping[int | str, str], *, rankdir: str = "LR", decimals: int = 6,
                edge_labels: bool = False, title: str | None = None,
                max_nodes: int = MAX_NODES) -> graphviz.Digraph:
    """The computation graph ending at root with no gradient on it, for a worksheet: each node
    in `blanks` (by its position in topological order, the number draw() gives it, or by its
    ledger name, as draw() and trace name it) gets a field with the text blanks[node] and an
    empty box below it (BLANK) to write the gradient in; the other
    nodes show their name and value only. Edges are drawn plain (no gradient flow); with
    edge_labels each carries its local derivative, a hint the worksheet may give."""
    if not isinstance(root, Value):
        raise TypeError(f"draw_blanks: expected a Value, got {type(root).__name__}")
    _check_options(rankdir, decimals)
    _check_max_nodes(max_nodes)
    order, names = ledger_names(root)
    position: dict[int | str, int] = {name: i for i, name in enumerate(names)}
    position.update((i, i) for i in range(len(order)))
    unknown = [node for node in blanks if isinstance(node, bool) or node not in position]
    if unknown:
        raise ValueError(f"draw_blanks: no node is named {unknown[0]!r} in this graph"
                         if isinstance(unknown[0], str) else
                         f"draw_blanks: no node at position {unknown[0]!r} (0 to {len(order) - 1})")
    texts = {position[node]: _escape_record(text) + "|" + BLANK for node, text in blanks.items()}
    name = _text(root.label) or "the output"
    note = f"write d{name}/d(node) in each empty box" if root.label else "write each gradient in its box"
    return _draw(order, names, rankdir=rankdir, decimals=decimals, edge_labels=edge_labels,
                 max_nodes=max_nodes, title=title or f"{name} = {_number(root.data, decimals)}: {note}",
                 grad_field=lambda i: texts.get(i, ""), flows=None, legend=[],
                 plain_note="edges: input -> op -> value, as the forward pass computed them")


# ------------------------------------------------------------------------------ the ledger's frames

def _frame_states(trace: BackwardTrace, k: int) -> list[str]:
    """Each node's state after k steps: final (no more += to come), partial, or waiting."""
    done = {step.position for step in trace.steps[:k]}
    pending = [0] * len(trace.nodes)  # sends still to come, by position
    received = [False] * len(trace.nodes)
    for step in trace.steps:
        for s in step.sends:
            if step.position in done:
                received[s.position] = True
            else:
                pending[s.position] += 1
    states = []
    for i in range(len(trace.nodes)):
        if (k > 0 and i == len(trace.nodes) - 1) or (received[i] and not pending[i]):
            states.append("final")
        elif received[i]:
            states.append("partial")
        else:
            states.append("waiting")
    return states


def draw_step(trace: BackwardTrace, step: int, *, rankdir: str = "LR", decimals: int = 4,
              edge_labels: bool = True, max_nodes: int = MAX_NODES) -> graphviz.Digraph:
    """The graph as backward() leaves it after `step` steps of the ledger.

    Green: a node whose gradient is final (every += it will get has happened); yellow: a partial
    sum, more to come; white: not reached yet. The edges of step `step` are drawn bold with the
    amounts they carry (local x grad = amount). Step 0 is the graph after the forward pass; draw()
    of the root after backward() is the picture after the last step.
    """
    if not isinstance(trace, BackwardTrace):
        raise TypeError(f"draw_step: expected a BackwardTrace, got {type(trace).__name__}")
    _check_options(rankdir, decimals)
    _check_max_nodes(max_nodes)
    n = len(trace.steps)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= n:
        raise ValueError(f"step must be an integer from 0 to {n}, got {step!r}")
    num = (lambda x: _number(x, decimals))  # noqa: E731
    grads = trace.grads_after(step)
    states = _frame_states(trace, step)
    last = len(trace.nodes) - 1

    def grad_field(i: int) -> str:
        g = grads[i]
        if step == 0 and i == last:
            return "grad: set to 1 first" if trace.nodes[i].op is not None else "grad: gets += 1"
        if states[i] == "waiting":
            if trace.nodes[i].op is None and g:
                return f"grad {num(g)} (earlier pass)"
            return "grad: not reached"
        return f"grad {num(g)}" + (" (partial)" if states[i] == "partial" else "")

    highlight = None
    if step:
        s = trace.steps[step - 1]
        highlight = _Highlight(s.position, {} if s.skipped else {
            i: f"{num(send.local)} x {num(s.grad)} = {num(send.amount)}" for i, send in enumerate(s.sends)})
        title = (f"backward() step {step} of {n}: {s.node}, its grad {num(s.grad)} final, sends "
                 + ("nothing (its grad is 0)" if s.skipped or not s.sends else
                    ", ".join(f"{num(send.amount)} to {send.to}" for send in s.sends)))
    else:
        title = (f"after the forward pass: {trace.root} = {num(trace.nodes[-1].data)}; backward() "
                 f"will take {n} step{'s' if n != 1 else ''}, each node once, from {trace.root} back")
    return _draw(trace.nodes, trace.names, rankdir=rankdir, decimals=decimals, edge_labels=edge_labels,
                 max_nodes=max_nodes, title=title, grad_field=lambda i: _escape_record(grad_field(i)),
                 flows=None, legend=FRAME_LEGEND, node_style=lambda i: STATE_STYLES[states[i]],
                 highlight=highlight)


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
    flow = _Flow((w.grad for w in weights), computed)
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
                edges.append((tail, node, {"label": parameter_text(w, "weight"), **flow.style(w.grad)}))
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
    flow.legend(graph, legend, decimals, [f"edge width and colour: |d{loss_name}/dweight|"])
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


def write_graph(graph: graphviz.Digraph | Value, path: str | Path) -> Path:
    """Write graph (a drawing, or a Value: its draw()) to path, in the format its suffix names;
    returns the path written.

    .dot (or .gv) writes the DOT source and needs no Graphviz binary. .svg, .png and .pdf are
    rendered by dot; if dot is missing, the source is written beside the file (same name, .dot,
    never over an existing file) and GraphvizMissing is raised, saying how to install Graphviz.
    """
    if isinstance(graph, Value):
        graph = draw(graph)
    elif not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"write_graph: expected a drawing (draw(), draw_network()) or a Value, got "
                        f"{type(graph).__name__}")
    path = Path(path)
    fmt = output_format(path)
    if fmt == "dot":
        path.write_text(graph.source, encoding="utf-8")
        return path
    if shutil.which("dot") is None:
        raise _source_beside(graph, path)
    data = _render(graph, fmt, path)
    path.write_bytes(data)
    return path


def _render(graph: graphviz.Digraph, fmt: str, path: Path) -> bytes:
    """dot's output for graph, within RENDER_TIMEOUT seconds; RenderError if it fails or takes longer."""
    dot = shutil.which("dot")
    if dot is None:
        raise _source_beside(graph, path)
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=graph.source.encode("utf-8"),
                              capture_output=True, timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired:
        nodes = graph.source.count("shape=record")
        raise RenderError(f"dot did not finish laying out {path} ({nodes} values) within "
                          f"{RENDER_TIMEOUT:g} s and was stopped: draw fewer nodes (max_nodes), "
                          f"or write the .dot source and render it yourself") from None
    if done.returncode:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"dot could not render {path}: {detail[0] if detail else done.returncode}")
    return done.stdout


def _source_beside(graph: graphviz.Digraph, path: Path) -> GraphvizMissing:
    """Save the DOT source next to the file that could not be rendered; the error to raise."""
    dot_path = path.with_suffix(".dot")
    if dot_path.exists():
        return GraphvizMissing(path, dot_path, written=False)
    dot_path.write_text(graph.source, encoding="utf-8")
    return GraphvizMissing(path, dot_path)


# ------------------------------------------------------------------------------------- animation

def write_animation(trace: BackwardTrace, path: str | Path, *, rankdir: str = "LR", decimals: int = 4,
                    seconds_per_step: float = 1.2) -> Path:
    """An animated GIF of the backward pass: the graph after the forward pass, one frame per step
    of the ledger, then draw() after backward(). Needs Graphviz's dot and Pillow (the
    `animation` extra); graphs above MAX_NODES are refused (every frame draws every node)."""
    if not isinstance(trace, BackwardTrace):
        raise TypeError(f"write_animation: expected a BackwardTrace, got {type(trace).__name__}")
    path = Path(path)
    check_animation(path, len(trace.nodes), len(trace.steps))
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("an animation needs Pillow: pip install 'micrograd_bp[animation]' "
                          "(or pip install Pillow)") from None
    graphs = animation_frames(trace, rankdir=rankdir, decimals=decimals)
    for graph in graphs:
        graph.attr(dpi=str(ANIMATION_DPI))
    if shutil.which("dot") is None:
        raise _source_beside(graphs[-1], path)
    import io

    # The frames stay PNG bytes until the GIF writer takes them one at a time: decoded, a wide
    # graph's frames took gigabytes (Pillow itself keeps one byte per pixel of each frame).
    pngs = [_render(g, "png", path) for g in graphs]
    sizes = [Image.open(io.BytesIO(png)).size for png in pngs]  # reads the headers only
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)

    def padded(png: bytes) -> Image.Image:  # one canvas size, the frame at the top left, white around
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(Image.open(io.BytesIO(png)).convert("RGB"), (0, 0))
        return canvas

    step_ms = round(1000 * seconds_per_step)
    durations = [2 * step_ms] + [step_ms] * (len(pngs) - 2) + [4 * step_ms]
    padded(pngs[0]).save(path, format="GIF", save_all=True, append_images=(padded(p) for p in pngs[1:]),
                         duration=durations, loop=0)
    return path


def animation_frames(trace: BackwardTrace, *, rankdir: str = "LR",
                     decimals: int = 4) -> list[graphviz.Digraph]:
    """The animation's frames: draw_step for steps 0 to the last, then the drawing after backward()
    (draw() of the root, with the ledger's final grads)."""
    graphs = [draw_step(trace, k, rankdir=rankdir, decimals=decimals) for k in range(len(trace.steps) + 1)]
    final = [trace.final[name] for name in trace.names]
    graphs.append(_draw_grads(trace.nodes, trace.names, final, rankdir=rankdir, decimals=decimals,
                              edge_labels=True, max_nodes=MAX_NODES))
    return graphs


def check_animation(path: str | Path, n_nodes: int | None = None, n_steps: int | None = None) -> None:
    """Refuse, before any work, a path that is not a .gif, a graph above the drawing's node limit,
    or one whose frames (n_steps + 2, each drawing every node) exceed MAX_ANIMATION_WORK."""
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"an animation is written as a GIF: {str(path)!r} does not end in .gif")
    if n_nodes is not None and n_nodes > MAX_NODES:
        raise ValueError(f"the graph has {n_nodes} nodes, more than the {MAX_NODES} a drawing shows: "
                         f"an animation draws every node in every frame, so it is refused")
    if n_nodes is not None and n_steps is not None and n_nodes * (n_steps + 2) > MAX_ANIMATION_WORK:
        raise ValueError(f"an animation of this graph draws {n_steps + 2} frames of {n_nodes} nodes "
                         f"({n_nodes * (n_steps + 2):,} nodes in all, more than {MAX_ANIMATION_WORK:,}, "
                         f"about a minute of dot): animate a smaller graph, or step through this one "
                         f"in a live page (.html) or trace's text")
