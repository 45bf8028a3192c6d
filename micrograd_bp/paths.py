"""Chain-rule paths: every node's name, and explain(), the partial written path by path."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .engine import Value, grad, topological_order

MAX_PATHS = 20  # paths listed by explain(); the rest are counted and summed
NAME_LIMIT = 40  # a sub-expression longer than this is named #k instead
EXACT_DIGITS = 15  # a path count with more digits is printed as "about 1.2346e+4515"

_PRECEDENCE = {"add": 1, "sub": 1, "linear": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4, "powc": 4}


# ------------------------------------------------------------------------------------ node names

def node_names(output: Value, order: list[Value] | None = None) -> dict[int, str]:
    """A readable name for every node of output's graph, by id: its label; else, for a constant,
    its number; else its sub-expression written out (up to NAME_LIMIT characters); else "#k",
    k its position in topological_order(output), the position draw() numbers its nodes by."""
    names: dict[int, str] = {}
    precedence: dict[int, int] = {}
    for index, node in enumerate(topological_order(output) if order is None else order):
        key = id(node)
        precedence[key] = 5
        if node.label:
            names[key] = node.label
            continue
        if node.op is None:
            names[key] = f"{node.data:g}"
            continue
        text, prec = _render(node, names, precedence)
        if len(text) > NAME_LIMIT:
            text, prec = f"#{index}", 5
        names[key], precedence[key] = text, prec
    return names


def _render(node: Value, names: dict[int, str], precedence: dict[int, int]) -> tuple[str, int]:
    op = node.op
    assert op is not None
    prec = _PRECEDENCE.get(op.name, 5)

    def arg(i: int, tighter: bool = False) -> str:
        child = node.inputs[i]
        text = names[id(child)]
        child_prec = precedence[id(child)]
        if child_prec < prec or (tighter and child_prec == prec) or (text.startswith("-") and prec >= 2):
            return f"({text})"
        return text

    if op.name in ("add", "sub", "mul", "div"):
        sep = f" {op.symbol} " if prec == 1 else op.symbol
        return f"{arg(0)}{sep}{arg(1, tighter=op.name in ('sub', 'div'))}", prec
    if op.name == "neg":
        return f"-{arg(0)}", prec
    if op.name == "pow":
        return f"{arg(0, tighter=True)}**{arg(1)}", prec
    if op.name == "powc":
        return f"{arg(0, tighter=True)}{op.symbol}", prec
    if op.name == "linear":
        n = len(node.inputs)
        terms = [f"{arg(i, True)}*{arg(i + 1, True)}" for i in range(0, n - 1, 2)]
        if n % 2:
            terms.append(arg(n - 1))
        return " + ".join(terms), prec
    return f"{op.name}({', '.join(names[id(p)] for p in node.inputs)})", 5


def d(name: str) -> str:
    """name as it follows a d in d(upper)/d(lower): bare if it is one word, else parenthesised."""
    return name if name.replace("_", "a").isalnum() else f"({name})"


def count_text(n: int) -> str:
    """A path count as text: exact up to EXACT_DIGITS digits, else "about 1.2346e+4515" (Python
    refuses to print integers of more than 4,300 digits)."""
    if n < 10 ** EXACT_DIGITS:
        return str(n)
    shift = max(0, n.bit_length() - 64)
    log10 = math.log10(n >> shift) + shift * math.log10(2)
    exponent = math.floor(log10)
    return f"about {10 ** (log10 - exponent):.4f}e+{exponent}"


def count_json(n: int) -> int | str:
    """A path count for JSON: the integer while it is exact to print, else count_text's text."""
    return n if n < 10 ** 4000 else count_text(n)


# ------------------------------------------------------------------------------------ the graph

class PathGraph:
    """The part of output's graph that leads to wrt, analysed once: path counts, partial sums,
    and the order and names every explanation and diagnosis of this partial shares."""

    def __init__(self, output: Value, wrt: Value, names: Mapping[int, str] | None = None) -> None:
        if not isinstance(output, Value) or not isinstance(wrt, Value):
            raise TypeError("output and wrt must be Values")
        self.output, self.wrt = output, wrt
        self.order = order = topological_order(output)
        self.names = node_names(output, order)
        self.names.setdefault(id(wrt), wrt.label or f"{wrt.data:g}")
        if names:
            self.names.update(names)
        reach: dict[int, bool] = {}
        below: dict[int, int] = {}  # paths from a node down to wrt
        tangent: dict[int, float] = {}  # d node / d wrt (forward mode: the sum over those paths)
        scale: dict[int, float] = {}  # the sum of |path products|: the size of the terms summed
        for node in order:
            k = id(node)
            if node is wrt:
                reach[k], below[k], tangent[k], scale[k] = True, 1, 1.0, 1.0
                continue
            edges = [(p, g) for p, g in zip(node.inputs, node.local_grads) if reach[id(p)]]
            reach[k] = bool(edges)
            if edges:
                below[k] = sum(below[id(p)] for p, _ in edges)
                tangent[k] = math.fsum(g * tangent[id(p)] for p, g in edges)
                scale[k] = math.fsum(abs(g) * scale[id(p)] for p, g in edges)
        self.reach, self.below, self.tangent, self.scale = reach, below, tangent, scale
        above: dict[int, int] = {id(output): 1}  # paths from output down to a node
        adjoint: dict[int, float] = {id(output): 1.0}  # d output / d node (reverse mode)
        for node in reversed(order):
            k = id(node)
            if k not in above or node is wrt:
                continue
            for p, g in zip(node.inputs, node.local_grads):
                if reach[id(p)]:
                    above[id(p)] = above.get(id(p), 0) + above[k]
                    adjoint[id(p)] = adjoint.get(id(p), 0.0) + g * adjoint[k]
        self.above, self.adjoint = above, adjoint
        self.partial = grad(output, [wrt])[0] if self.n_paths else 0.0

    @property
    def n_paths(self) -> int:
        return self.below[id(self.output)] if self.reach.get(id(self.output)) else 0

    @property
    def magnitude(self) -> float:
        """The sum of |path products|: the partial's terms before they cancel (rounding scale)."""
        return self.scale.get(id(self.output), 0.0) if self.n_paths else 0.0

    def name(self, node: Value) -> str:
        return self.names[id(node)]

    def through(self, node: Value) -> tuple[int, float]:
        """How many paths pass node, and their sum: d output/d node * d node/d wrt."""
        k = id(node)
        if not self.reach.get(k) or k not in self.above:
            return 0, 0.0
        return self.above[k] * self.below[k], self.adjoint[k] * self.tangent[k]

    def waypoint_ids(self, waypoints: Collection[Value] | None) -> set[int]:
        if waypoints is None:
            return {id(node) for node in self.order}
        return {id(node) for node in waypoints} | {id(self.output), id(self.wrt)}

    def edge_paths(self, limit: int) -> Iterator[list[tuple[Value, Value, float, int]]]:
        """The first `limit` paths, each a list of edges (consumer, input, local derivative, the
        input's position), depth first, inputs in order."""
        if self.n_paths == 0 or limit <= 0:
            return
        if self.output is self.wrt:
            yield []
            return
        found = 0
        edges: list[tuple[Value, Value, float, int]] = []
        stack = [self._edges(self.output)]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                if edges:
                    edges.pop()
                continue
            edges.append(step)
            if step[1] is self.wrt:
                yield list(edges)
                found += 1
                if found >= limit:
                    return
                edges.pop()
            else:
                stack.append(self._edges(step[1]))

    def _edges(self, node: Value) -> Iterator[tuple[Value, Value, float, int]]:
        reach = self.reach
        return ((node, p, g, i) for i, (p, g) in enumerate(zip(node.inputs, node.local_grads))
                if reach[id(p)])

    def splitting(self, waypoint_ids: set[int]) -> list[tuple[Value, int, float]]:
        """Waypoints that some paths pass and others do not, with their path count and sum; one
        per distinct (count, sum), the labelled one nearest the output naming it."""
        total = self.n_paths
        found: list[tuple[Value, int, float]] = []
        seen: set[tuple[int, float]] = set()
        candidates = [n for n in reversed(self.order) if id(n) in waypoint_ids
                      and n is not self.output and n is not self.wrt]
        candidates.sort(key=lambda n: not n.label)  # stable: labelled first, nearest the output first
        for node in candidates:
            count, value = self.through(node)
            key = (count, float(f"{value:.11g}"))  # the same set of paths, up to rounding
            if 0 < count < total and key not in seen:
                seen.add(key)
                found.append((node, count, value))
        return found


# ------------------------------------------------------------------------------ the explanation

class Factor(NamedTuple):
    """One factor of a path: d(upper)/d(lower) along the path's edges between two waypoints."""

    upper: str
    lower: str
    value: float

    @property
    def name(self) -> str:
        return f"d{d(self.upper)}/d{d(self.lower)}"


@dataclass
class Path:
    """One path from the output down to the variable: its factors and their product."""

    nodes: list[str]  # the waypoints it passes, output first, the variable last
    factors: list[Factor]
    product: float
    through: str = ""  # the first waypoint that tells it from the other paths, if any
    waypoints: tuple = field(default=(), repr=False, compare=False)  # the Values, same order
    consumers: tuple = field(default=(), repr=False, compare=False)  # each edge's consumer (a Value)
    positions: tuple = field(default=(), repr=False, compare=False)  # each edge's input position
    note: str = ""  # for paths through the same waypoints: the edge that tells them apart

    def to_json(self) -> dict:
        return {"nodes": self.nodes, "through": self.through, "note": self.note, "product": self.product,
                "factors": [{"name": f.name, "value": f.value} for f in self.factors]}


@dataclass
class Explanation:
    """The chain rule written out: the sum of the paths' products is the partial."""

    output: str
    wrt: str
    partial: float  # by autograd
    paths: list[Path]  # the first max_paths of them
    n_paths: int  # all of them
    listed_sum: float
    groups: list[tuple[str, int, float]] = field(default_factory=list)  # (through, paths, sum)

    @property
    def omitted(self) -> int:
        return self.n_paths - len(self.paths)

    @property
    def omitted_sum(self) -> float:
        return self.partial - self.listed_sum

    @property
    def name(self) -> str:
        return f"d{d(self.output)}/d{d(self.wrt)}"

    def to_json(self) -> dict:
        return {"output": self.output, "wrt": self.wrt, "partial": self.partial,
                "n_paths": count_json(self.n_paths), "omitted": count_json(self.omitted),
                "listed_sum": self.listed_sum, "paths": [p.to_json() for p in self.paths]}


def explain(output: Value, wrt: Value, *, waypoints: Collection[Value] | None = None,
            max_paths: int = MAX_PATHS, names: Mapping[int, str] | None = None,
            graph: PathGraph | None = None) -> Explanation:
    """Every path from output down to wrt, each factor and each path's product.

    By default every node is a waypoint: one factor per edge, the local derivative recorded on it.
    With `waypoints`, each run of edges between two waypoints is merged into one factor (their
    product), so a path reads over named nodes only; the products are unchanged. The paths'
    products sum to the partial; past max_paths they are counted, not listed. Time is linear in
    the graph's size plus the paths listed; memory, in the graph plus what is listed.
    """
    if not isinstance(output, Value) or not isinstance(wrt, Value):
        raise TypeError("explain: output and wrt must be Values")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise ValueError(f"explain: max_paths must be a non-negative integer, got {max_paths!r}")
    if graph is None:
        graph = PathGraph(output, wrt, names)
    all_names = graph.names
    ids = graph.waypoint_ids(waypoints)
    if output is wrt:
        paths = [Path([all_names[id(output)]], [], 1.0, waypoints=(output,))][:max_paths]
    else:
        paths = [_build_path(edges, ids, all_names) for edges in graph.edge_paths(max_paths)]
    splitting = graph.splitting(ids)
    first_split = {id(n): i for i, (n, _, _) in enumerate(splitting)}
    for path in paths:
        hits = [first_split[id(n)] for n in path.waypoints if id(n) in first_split]
        path.through = all_names[id(splitting[min(hits)][0])] if hits else ""
    _note_twins(paths, all_names)
    return Explanation(all_names[id(output)], all_names[id(wrt)], graph.partial, paths, graph.n_paths,
                       math.fsum(p.product for p in paths),
                       [(all_names[id(n)], c, v) for n, c, v in splitting])


def _build_path(edges: list[tuple[Value, Value, float, int]], waypoint_ids: set[int],
                names: Mapping[int, str]) -> Path:
    nodes = [edges[0][0]]
    factors: list[Factor] = []
    value = 1.0
    for _, lower, g, _ in edges:
        value *= g
        if id(lower) in waypoint_ids:
            factors.append(Factor(names[id(nodes[-1])], names[id(lower)], value))
            nodes.append(lower)
            value = 1.0
    product = 1.0
    for f in factors:
        product *= f.value
    return Path([names[id(n)] for n in nodes], factors, product, waypoints=tuple(nodes),
                consumers=tuple(e[0] for e in edges), positions=tuple(e[3] for e in edges))


def _note_twins(paths: list[Path], names: Mapping[int, str]) -> None:
    """Paths over the same waypoints differ in an edge (an input used twice, as in x*x): name the
    first edge where each differs from some twin. In lexicographic order of the edges, that is
    where it parts from the first or the last twin, so this is linear in the paths' length."""
    by_nodes: dict[tuple, list[Path]] = {}
    for path in paths:
        by_nodes.setdefault(tuple(id(n) for n in path.waypoints), []).append(path)
    for twins in by_nodes.values():
        if len(twins) < 2:
            continue
        twins.sort(key=lambda p: [(id(c), i) for c, i in zip(p.consumers, p.positions)])
        for path in twins:
            others = [t for t in (twins[0], twins[-1]) if t is not path] or [twins[1]]
            k = min(_common_prefix(path, other) for other in others)
            if k < len(path.positions):
                path.note = f"by input {path.positions[k] + 1} of {names[id(path.consumers[k])]}"


def _common_prefix(a: Path, b: Path) -> int:
    n = min(len(a.positions), len(b.positions))
    for k in range(n):
        if a.positions[k] != b.positions[k] or a.consumers[k] is not b.consumers[k]:
            return k
    return n
