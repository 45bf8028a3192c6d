"""Graphviz drawings of computation graphs and networks with their gradient flow; the only graphviz import."""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Callable, NamedTuple

import graphviz

from .engine import Value
from .engine import grad as engine_grad
from .nn import MLP, Layer
from .paths import PathGraph, count_text, explain, is_numbered
from .paths import _num as _n9  # the explanations' 9 significant digits
from .trace import BackwardTrace, ledger_names

RANKDIRS = ("LR", "TB", "RL", "BT")
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
# The ledger's frames: a node's state, and the edges of the step being shown.
STATE_STYLES = {"final": {"style": "filled", "fillcolor": "#c7e9c0"},
                "partial": {"style": "filled", "fillcolor": "#fff3b0"},
                "waiting": {"color": "gray60", "fontcolor": "gray40"}}
HIGHLIGHT = {"color": "darkorange", "penwidth": "2.5"}
FRAME_LEGEND = ["green: grad final (every += to it has happened)", "yellow: a partial sum, more += to come",
                "grey: not reached yet", "orange: this step's edges, local x grad = amount sent"]


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


# An edge of a drawing: (tail, head, local derivative or None for op -> value, gradient it carries
# back, the ledger step's note).
_Edge = tuple[str, str, "float | None", float, str]


def _draw(order: list[Value], names: list[str], *, rankdir: str, decimals: int, edge_labels: bool,
          max_nodes: int, title: str, grad_field: Callable[[int], str],
          flows: Sequence[float] | None, legend: list[str],
          plain_note: str | None = None, node_style: Callable[[int], dict[str, str]] | None = None,
          highlight: _Highlight | None = None, all_names: bool = False) -> graphviz.Digraph:
    """The drawing shared by draw and the ledger's frames: records, op nodes, edges, notes.

    grad_field(k) is the text of node #k's grad field; flows (each node's grad, by position) set
    the edges' widths and colours, None draws them plain. Each record shows its node's name where
    it is a label or a number (n3); with all_names, also where it is a formula (`w1*x1`).
    """
    position = {id(node): i for i, node in enumerate(order)}
    if len(order) > max_nodes:
        kept_ids = _nearest(order[-1], max_nodes)
        kept = [node for node in order if id(node) in kept_ids]
    else:
        kept_ids, kept = set(position), order
    graph = _new_graph(rankdir, title)
    large = len(kept) > LARGE_GRAPH
    if large:  # dot's layout is superlinear in long edges: bounded effort, straight edges
        graph.attr(nslimit="1", nslimit1="1", splines="line", concentrate="true")
    else:  # inputs in their order (i1 above i2, w1 before w2), as a tutorial draws them
        graph.graph_attr["ordering"] = "in"
    edges, meaning = _edges(kept, position, kept_ids, flows, highlight)
    flow = _Flow((f for *_, f, _ in edges), computed=flows is not None and flows[-1] != 0)
    uses, copied = _copies(order, position, edges) if large else ({}, set())
    num = (lambda x: _number(x, decimals))  # noqa: E731
    for node in kept:
        i = position[id(node)]
        _add_value(graph, node, i, names[i], all_names, num, grad_field(i), rankdir,
                   node_style(i) if node_style else {}, uses.get(f"v{i}", 0) if f"v{i}" in copied else 0)
        if node.op is not None:
            _add_op(graph, node, i, kept_ids, highlight is not None and highlight.node == i)
    for (tail, head, local, carried, note), (value, consumer) in zip(edges, meaning):
        attrs = flow.style(carried)
        text = note or (num(local) if edge_labels and local is not None else "")
        if note:
            attrs.update(HIGHLIGHT, fontcolor=HIGHLIGHT["color"], fontsize="11")  # the step: readable
        if text:
            attrs["xlabel" if large else "label"] = _label(_escape(text))
        _edge(graph, (value, consumer), tail, head, **attrs)
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
        nearest = _text(order[-1].label) or "the output"
        _add_note(graph, "omitted", [f"{len(kept)} of {len(order)} nodes shown; {omitted} omitted",
                                     f"(max_nodes={max_nodes}: the nodes nearest {nearest})"])
    return graph


def _edges(kept: list[Value], position: dict[int, int], kept_ids: set[int],
           flows: Sequence[float] | None, highlight: _Highlight | None
           ) -> tuple[list[_Edge], list[tuple[int, tuple[int, int] | None]]]:
    """The gradient each drawn edge carries back: input -> op is local * grad of the consumer,
    op -> value is the value's own grad; and what each edge stands for (its Value, and for an
    input's edge (consumer, input position)), for drawing_elements."""
    edges: list[_Edge] = []
    meaning: list[tuple[int, tuple[int, int] | None]] = []  # each edge's Value, and (consumer, input)
    for node in kept:
        if node.op is None:
            continue
        i = position[id(node)]
        grad = flows[i] if flows is not None else 0.0
        for n, (parent, local) in enumerate(zip(node.inputs, node.local_grads)):
            if id(parent) in kept_ids:
                note = highlight.labels.get(n, "") if highlight and highlight.node == i else ""
                edges.append((f"v{position[id(parent)]}", f"o{i}", local, local * grad, note))
                meaning.append((position[id(parent)], (i, n)))
        edges.append((f"o{i}", f"v{i}", None, grad, ""))
        meaning.append((i, None))
    return edges, meaning


def _copies(order: list[Value], position: dict[int, int],
            edges: list[_Edge]) -> tuple[dict[str, int], set[str]]:
    """In a large graph, a leaf used by many ops far apart (x in x*x*...*x) is drawn again beside
    each use: one box with hundreds of edges across the picture is what makes dot take minutes.
    (A network's inputs, used by every neuron of the first layer side by side, stay one box.)
    Returns each tail's number of uses and the leaves copied; rewrites their edges' tails."""
    uses: dict[str, int] = {}
    for tail, *_ in edges:
        uses[tail] = uses.get(tail, 0) + 1
    if not any(count > MAX_FAN_OUT for count in uses.values()):
        return uses, set()
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
    seen: dict[str, int] = {}
    for k, (tail, head, local, carried, note) in enumerate(edges):
        if tail in copied:
            seen[tail] = seen.get(tail, 0) + 1
            if seen[tail] > 1:
                edges[k] = (f"{tail}u{seen[tail]}", head, local, carried, note)
    return uses, copied


def _add_value(graph: graphviz.Digraph, node: Value, i: int, name: str, all_names: bool,
               num: Callable[[float], str], grad_field: str, rankdir: str, style: dict[str, str],
               copies: int) -> None:
    """Node #i's record: its name where the ledger numbers it (n3) or all_names, else its label;
    data; grad. With copies, the same box again for each further use, dashed."""
    label = _text(node.label)
    if is_numbered(name) or (all_names and node.op is not None):
        shown = f"{name} ({label})" if label and label != name else name
    else:
        shown = label
    fields = [_escape_record(shown)] if shown else []
    fields += [f"data {num(node.data)}", *([grad_field] if grad_field else [])]  # "": no grad field
    flip = rankdir in ("TB", "BT")  # records lay their fields across the rank direction
    text = "|".join(fields)
    _node(graph, (i, "value"), f"v{i}", label=_label("{" + text + "}" if flip else text), shape="record",
          **style)
    for use in range(2, copies + 1):
        again = "|".join([fields[0] if shown else _escape_record(name), f"use {use} of {copies}",
                          *fields[1 if shown else 0:]])
        attrs = dict(style)
        attrs["style"] = ",".join(filter(None, [attrs.get("style"), "dashed"]))
        _node(graph, (i, "copy"), f"v{i}u{use}", label=_label("{" + again + "}" if flip else again),
              shape="record", **attrs)


def _add_op(graph: graphviz.Digraph, node: Value, i: int, kept_ids: set[int], highlighted: bool) -> None:
    """Node #i's op, and a note of the inputs that max_nodes left out."""
    assert node.op is not None
    _node(graph, (i, "op"), f"o{i}", label=_label(_escape(node.op.symbol)), shape="ellipse", fontsize="10",
          margin="0.05", **(HIGHLIGHT if highlighted else {}))
    cut = sum(1 for parent in node.inputs if id(parent) not in kept_ids)
    if cut:
        graph.node(f"cut{i}", label=_label(f"{cut} input{'s' if cut > 1 else ''} not shown"),
                   shape="plaintext", fontsize="9")
        graph.edge(f"cut{i}", f"o{i}", style="dashed")


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
    that node is highlighted, each path's factors and product in a note (highlight_paths).
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


def draw_paths(root: Value, node: Value, *, waypoints: Iterable[Value] | None = None,
               **options: object) -> graphviz.Digraph:
    """draw(root, **options) with the chain-rule paths from root down to node highlighted."""
    return highlight_paths(draw(root, **options), root, node,  # type: ignore[arg-type]
                           waypoints=None if waypoints is None else list(waypoints))


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
                 highlight=highlight, all_names=True)


# ---------------------------------------------------------------------------------- draw_network

# A network drawing labels its edges (weight = value, dLOSS/dweight) only while it has at most
# EDGE_LABEL_LIMIT weights (Mazur's has 8): past that, labels would cover the picture, so the edges
# show the numbers by width and colour alone and the neurons shrink to small circles
# (MLP(2, [16, 16, 1]), 304 weights, then fits a laptop screen). A layer of more than
# MAX_LAYER_NEURONS neurons is drawn as its first SUMMARY_NEURONS and one box for the rest.
EDGE_LABEL_LIMIT = 40
MAX_LAYER_NEURONS = 32
SUMMARY_NEURONS = 8


def _default_names(n_layers: int, layer: int, size: int) -> list[str]:
    """h1, h2 for one hidden layer; h1_1, h2_1 for several; o1, o2 for the output layer."""
    if layer == n_layers - 1:
        return [f"o{j + 1}" for j in range(size)]
    if n_layers == 2:
        return [f"h{j + 1}" for j in range(size)]
    return [f"h{layer + 1}_{j + 1}" for j in range(size)]


def network_names(mlp: MLP, input_names: Sequence[str] | None, inputs: Sequence[Value | float] | None,
                  names: Sequence[Sequence[str]] | None, caller: str = "draw_network"
                  ) -> tuple[list[str], list[list[str]]]:
    """The inputs' and the neurons' names as draw_network() (and the page's network view) name
    them; ValueError, naming the caller, for a wrong count."""
    layers = mlp.layers
    n_inputs = len(layers[0].neurons[0].weights)
    if inputs is not None and len(inputs) != n_inputs:
        raise ValueError(f"{caller}: {len(inputs)} inputs for a network with {n_inputs}")
    if input_names is None:
        labels = [x.label if isinstance(x, Value) else "" for x in inputs or []]
        input_names = labels if labels and all(labels) else [f"i{k + 1}" for k in range(n_inputs)]
    if len(input_names) != n_inputs:
        raise ValueError(f"{caller}: {len(input_names)} input names for {n_inputs} inputs")
    if names is not None and (len(names) != len(layers)
                              or any(len(n) != len(layer.neurons) for n, layer in zip(names, layers))):
        raise ValueError(f"{caller}: names needs one list per layer, one name per neuron")
    return list(input_names), [
        list(names[k]) if names is not None
        else [n.name for n in layer.neurons] if all(n.name for n in layer.neurons)
        else _default_names(len(layers), k, len(layer.neurons))
        for k, layer in enumerate(layers)]


class _Network:
    """A network drawing's columns (nodes: id, label, attributes) and edges, built layer by layer."""

    def __init__(self, mlp: MLP, num: Callable[[float], str], loss_name: str, computed: bool) -> None:
        self.num, self.loss_name, self.computed = num, loss_name, computed
        weights = [w for layer in mlp.layers for neuron in layer.neurons for w in neuron.weights]
        self.labelled = len(weights) <= EDGE_LABEL_LIMIT
        # width and colour: |dLOSS/dweight| after backward(), else the weight itself
        self.flow = _Flow((w.grad if computed else w.data for w in weights), True)
        self.columns: list[list[tuple[str, str, dict[str, str]]]] = [[] for _ in range(len(mlp.layers) + 1)]
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.hidden = 0  # neurons drawn only as a summary box
        self.biases_left_out = 0

    def neuron_attrs(self) -> dict[str, str]:
        return ({"shape": "circle"} if self.labelled else
                {"shape": "circle", "width": "0.42", "fixedsize": "true", "fontsize": "8"})

    def parameter_text(self, p: Value, kind: str) -> str:
        """w5 = 0.4000, and after backward dE/dw5 = 0.0822 on a second line."""
        text = (_escape(p.label) + " = " if p.label else "") + self.num(p.data)
        if self.computed:
            text += f"\\nd{_escape(self.loss_name)}/d{_escape(p.label or kind)} = {self.num(p.grad)}"
        return text

    def add_inputs(self, names: list[str], inputs: Sequence[Value | float] | None) -> None:
        for k, name in enumerate(names):
            text = _escape(name)
            if inputs is not None:
                x = inputs[k]
                text += f"\\n{self.num(x.data if isinstance(x, Value) else float(x))}"
            self.columns[0].append((f"i{k}", text, self.neuron_attrs()))

    def add_layer(self, k: int, layer: Layer, names: list[str]) -> None:
        """Layer k's neurons in column k + 1, their weights' edges, their biases in column k."""
        previous = [node for node, *_ in self.columns[k] if node[0] in "in" and not node.endswith("more")]
        summary = [node for node, *_ in self.columns[k] if node.endswith("more")]
        neurons = layer.neurons
        shown = neurons if len(neurons) <= MAX_LAYER_NEURONS else neurons[:SUMMARY_NEURONS]
        biases: dict[int, str] = {}  # id(bias) -> its node, so a shared bias is drawn once
        for j, neuron in enumerate(shown):
            node = f"n{k + 1}_{j}"
            self.columns[k + 1].append((node, _escape(names[j]), self.neuron_attrs()))
            for tail, w in zip(previous, neuron.weights):
                flow = w.grad if self.computed else w.data
                attrs = {"label": self.parameter_text(w, "weight")} if self.labelled else {}
                style = self.flow.style(flow)
                if not self.labelled:  # hundreds of edges: half as wide, small arrowheads
                    style.update(penwidth=f"{float(style['penwidth']) / 2:.2f}", arrowsize="0.3")
                self.edges.append((tail, node, {**attrs, **style}))
            for tail in summary:
                self.edges.append((tail, node, {"style": "dashed", "color": "gray70"}))
            b = neuron.bias
            if b is None:
                continue
            if not self.labelled:
                self.biases_left_out += id(b) not in biases
                biases[id(b)] = ""
                continue
            if id(b) not in biases:
                biases[id(b)] = f"b{k + 1}" if layer.shared_bias else f"b{k + 1}_{j}"
                self.columns[k].append((biases[id(b)], self.parameter_text(b, "bias"),
                                        {"shape": "box", "style": "rounded"}))
            self.edges.append((biases[id(b)], node, {"style": "dashed", "color": "gray50"}))
        if len(shown) < len(neurons):
            self.hidden += len(neurons) - len(shown)
            self.columns[k + 1].append((f"n{k + 1}_more", f"{len(neurons) - len(shown)} more\\nneurons",
                                        {"shape": "box", "style": "dashed", "fontsize": "9"}))
            for tail in previous:
                self.edges.append((tail, f"n{k + 1}_more", {"style": "dashed", "color": "gray70"}))

    def add_to(self, graph: graphviz.Digraph) -> None:
        for column in self.columns:
            with graph.subgraph() as same:
                same.attr(rank="same")
                for node, text, attrs in column:
                    same.node(node, label=_label(text), **attrs)
                for above, below in zip(column, column[1:]):  # keep the column in order, bias last
                    same.edge(above[0], below[0], style="invis")
        for tail, head, attrs in self.edges:
            if "label" in attrs:
                attrs = {**attrs, "label": _label(attrs["label"])}
            graph.edge(tail, head, **attrs)

    def legend(self) -> list[str]:
        what = f"d{self.loss_name}/dweight" if self.computed else "the weight"
        lines = ([f"edge label: weight = value; d{self.loss_name}/dweight after backward()",
                  "dashed: a bias (its value on its node)"] if self.labelled else
                 [f"more than {EDGE_LABEL_LIMIT} weights: no edge labels, width and colour only",
                  f"biases not drawn ({self.biases_left_out})"])
        if self.hidden:
            lines.append(f"a layer of more than {MAX_LAYER_NEURONS} neurons: its first "
                         f"{SUMMARY_NEURONS} drawn, the rest ({self.hidden}) in a dashed box")
        return lines + [f"edge width and colour: |{what}|"]


def draw_network(mlp: MLP, *, decimals: int = 4, rankdir: str = "LR",
                 input_names: Sequence[str] | None = None, inputs: Sequence[Value | float] | None = None,
                 names: Sequence[Sequence[str]] | None = None, loss_name: str = "E",
                 title: str | None = None) -> graphviz.Digraph:
    """An MLP as its neurons: a column of inputs, then one per layer, left to right.

    Each edge is a weight: its width and colour show |dLOSS/dweight| once backward() has run
    (some parameter has a nonzero grad), else the weight itself. Up to EDGE_LABEL_LIMIT weights,
    each edge is labelled with its weight's label and value and, after backward(), dLOSS/dweight,
    and the biases are drawn (a shared bias is one node for its layer); a larger network has no
    labels and no bias nodes, so it fits a screen. A layer of more than MAX_LAYER_NEURONS neurons
    is summarised. Inputs are named by input_names, else by the labels of `inputs` (whose values
    are then shown too), else i1, i2, ...; neurons by `names`, else by their own names, else
    h1.. (hidden) and o1.. (output).
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"draw_network: expected an MLP, got {type(mlp).__name__}")
    _check_options(rankdir, decimals)
    input_names, neuron_names = network_names(mlp, input_names, inputs, names)
    computed = any(p.grad != 0 for p in mlp.parameters())
    network = _Network(mlp, lambda x: _number(x, decimals), loss_name, computed)
    network.add_inputs(input_names, inputs)
    for k, layer in enumerate(mlp.layers):
        network.add_layer(k, layer, neuron_names[k])
    sizes = " -> ".join(str(n) for n in [len(input_names), *(len(layer.neurons) for layer in mlp.layers)])
    if title is None:
        title = f"MLP {sizes} ({', '.join(layer.activation for layer in mlp.layers)})"
    note = (f"edges: weight and d{loss_name}/dweight after backward()" if computed
            else "gradients not computed yet: call backward() on the loss; edges show the weights")
    graph = _new_graph(rankdir, f"{title}\n{note}")
    if network.labelled:
        graph.attr(ranksep="1.6", nodesep="0.5")  # room for the two-line edge labels
    else:
        graph.attr(ranksep="1.2", nodesep="0.08")
    network.add_to(graph)
    _add_note(graph, "legend", network.legend() + _legend_lines(network.flow.largest, decimals, [])
              if network.flow.largest else network.legend())
    return graph


# ------------------------------------------------------------------------------------ for files

def dot_source(graph: graphviz.Digraph, caller: str = "dot_source") -> str:
    """A drawing's DOT text, for pictures.py to write or render; TypeError for anything else."""
    if not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"{caller}: expected a drawing (draw(), draw_network()) or a Value, got "
                        f"{type(graph).__name__}")
    return graph.source


# ------------------------------------------------------------------------------------- animation

def animation_frames(trace: BackwardTrace, *, rankdir: str = "LR",
                     decimals: int = 4) -> list[graphviz.Digraph]:
    """The animation's frames: draw_step for steps 0 to the last, then the drawing after backward()
    (draw() of the root, with the ledger's final grads)."""
    graphs = [draw_step(trace, k, rankdir=rankdir, decimals=decimals) for k in range(len(trace.steps) + 1)]
    final = [trace.final[name] for name in trace.names]
    graphs.append(_draw_grads(trace.nodes, trace.names, final, rankdir=rankdir, decimals=decimals,
                              edge_labels=True, max_nodes=MAX_NODES))
    return graphs


# ------------------------------------------------------------------------- the drawing as data
# What each drawn element stands for, recorded as draw() and draw_step() add it: the page and
# highlight_paths read these records (never the DOT text), and restyle() redraws one.

class DrawingElement(NamedTuple):
    """One element of a drawing. `id`: its name in the SVG dot writes (the <title>: a node's name,
    or "tail->head" for an edge; a repeated edge, as in x*x, gets "#2", "#3"); `kind`: "node" or
    "edge"; `node`: the position (topological order) of the Value it stands for (for an input's
    edge, the input); `edge`: (consumer, input position) for an input's edge, else None; `role`:
    "value" (the Value's record), "copy" (a leaf drawn again at a further use), "op" (its op),
    "input" (an input's edge) or "output" (op -> value)."""

    id: str
    kind: str
    node: int
    edge: tuple[int, int] | None
    role: str


class _Drawn(NamedTuple):
    element: DrawingElement
    line: int  # its line in graph.body
    ends: tuple[str, ...]  # the node's name, or the edge's tail and head
    attrs: dict[str, str]


def _drawn(graph: graphviz.Digraph) -> list[_Drawn]:
    return graph.__dict__.setdefault("_micrograd_elements", [])


def _record(graph: graphviz.Digraph, kind: str, ends: tuple[str, ...], node: int,
            edge: tuple[int, int] | None, role: str, attrs: dict[str, str]) -> None:
    """Record what the line just added to graph.body draws."""
    name = "->".join(ends)
    repeats = graph.__dict__.setdefault("_micrograd_repeats", {})
    repeats[name] = n = repeats.get(name, 0) + 1
    element = DrawingElement(f"{name}#{n}" if n > 1 else name, kind, node, edge, role)
    _drawn(graph).append(_Drawn(element, len(graph.body) - 1, ends, attrs))


def _node(graph: graphviz.Digraph, what: tuple[int, str], name: str, **attrs: str) -> None:
    """graph.node(name, **attrs), recorded as drawing Value what[0] in the role what[1]."""
    graph.node(name, **attrs)
    _record(graph, "node", (name,), what[0], None, what[1], attrs)


def _edge(graph: graphviz.Digraph, what: tuple[int, tuple[int, int] | None], tail: str, head: str,
          **attrs: str) -> None:
    """graph.edge(tail, head, **attrs), recorded as carrying input edge what[1] (consumer,
    position) of Value what[0], or with None, the op's edge to its Value what[0]."""
    graph.edge(tail, head, **attrs)
    _record(graph, "edge", (tail, head), what[0], what[1], "input" if what[1] else "output", attrs)


def drawing_elements(graph: graphviz.Digraph) -> list[DrawingElement]:
    """The elements of a drawing made by draw() or draw_step(), in the order drawn, each with the
    Value (by topological position) or the edge (consumer, input position) it stands for."""
    if not isinstance(graph, graphviz.Digraph) or "_micrograd_elements" not in graph.__dict__:
        raise ValueError("drawing_elements: expected a drawing made by draw() or draw_step()")
    return [d.element for d in _drawn(graph)]


def restyle(graph: graphviz.Digraph, changes: dict[str, dict[str, str]]) -> None:
    """Draw elements of a drawing again with some attributes changed: changes maps an element's
    id to the attributes to set (an empty value removes one)."""
    drawn = _drawn(graph)
    unknown = set(changes) - {d.element.id for d in drawn}
    if unknown:
        raise KeyError(f"restyle: the drawing has no element {sorted(unknown)[0]!r}")
    scratch = graphviz.Digraph()
    for k, d in enumerate(drawn):
        if d.element.id in changes:
            merged = {key: v for key, v in {**d.attrs, **changes[d.element.id]}.items() if v != ""}
            (scratch.node if d.element.kind == "node" else scratch.edge)(*d.ends, **merged)
            graph.body[d.line] = scratch.body[-1]
            drawn[k] = d._replace(attrs=merged)


# ------------------------------------------------------------------------ the paths in a drawing

PATH_COLOR = "darkorange"
PATH_FILL = "#fff0d9"
OFF_PATH_COLOR = "gray75"
NOTE_PATHS = 10  # paths listed in the drawing's note


def highlight_paths(graph: graphviz.Digraph, root: Value, node: Value, *, max_paths: int = NOTE_PATHS,
                    waypoints: Iterable[Value] | None = None) -> graphviz.Digraph:
    """A drawing of root's graph (a Digraph from viz.draw(root)) with every chain-rule path from
    root down to node highlighted: the edges on a path thick and coloured, the others grey, the
    nodes on a path filled (a leaf drawn again at each use, filled at each), and a note
    with each path's factors (between waypoints, as in explain) and product (the first max_paths).
    Returns the same graph."""
    g = PathGraph(root, node)
    position = {id(n): i for i, n in enumerate(g.order)}
    on_edges: set[tuple[int, int | None]] = set()  # (consumer, input position), (node, None): op -> value
    on_nodes: set[int] = set()
    for consumer in g.order:
        if consumer.op is None or id(consumer) not in g.above or not g.reach.get(id(consumer)):
            continue
        k = position[id(consumer)]
        on_nodes.add(k)
        on_edges.add((k, None))
        for n, parent in enumerate(consumer.inputs):
            if g.reach.get(id(parent)):
                on_edges.add((k, n))
                on_nodes.add(position[id(parent)])
    changes: dict[str, dict[str, str]] = {}
    for element in drawing_elements(graph):
        if element.kind == "edge":
            on = (element.edge or (element.node, None)) in on_edges
            changes[element.id] = {"color": PATH_COLOR if on else OFF_PATH_COLOR,
                                   "penwidth": "3" if on else "1"}
        elif element.role in ("value", "copy") and element.node in on_nodes:
            changes[element.id] = {"style": "filled,dashed" if element.role == "copy" else "filled",
                                   "fillcolor": PATH_FILL}
    restyle(graph, changes)
    ex = explain(root, node, max_paths=max_paths, graph=g, formulas=False, waypoints=waypoints)
    lines = [f"{ex.name} = {_n9(ex.partial)}: {count_text(ex.n_paths)} path{'s' * (ex.n_paths != 1)} "
             "(highlighted: orange and thick; every other edge grey)"]
    for i, path in enumerate(ex.paths, 1):
        factors = " * ".join(_n9(f.value) for f in path.factors) or "1"
        lines.append(f"path {i}" + (f" through {path.through}" if path.through else "")
                     + (f" ({path.note})" if path.note else "") + f": {factors} = {_n9(path.product)}")
    if ex.omitted:
        lines.append(f"... and {count_text(ex.omitted)} more, contributing {_n9(ex.omitted_sum)}")
    text = "".join(_dot_text(line) + "\\l" for line in lines)
    graph.node("paths", label=text, shape="note", fontsize="9", color=PATH_COLOR)
    return graph


def _dot_text(text: str) -> str:
    """Text for a DOT label that the graphviz package quotes: its backslashes doubled."""
    return text.replace("\\", "\\\\")
