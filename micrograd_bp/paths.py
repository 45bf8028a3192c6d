"""Chain-rule paths: every node's name, and explain(), the partial written path by path."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from . import latex, render
from .engine import Value, grad, topological_order
from .expr import Expression, parse
from .ops import OPS

MAX_PATHS = 20  # paths listed by explain(); the rest are counted and summed
NAME_LIMIT = 30  # a node whose formula is longer than this is numbered instead: n1, n2, ...
EXACT_DIGITS = 15  # a path count with more digits is printed as "about 1.2346e+4515"

ATOM = 5  # the precedence of a name, a number or a call (ops use 1 to 4, see Op.precedence)


# ------------------------------------------------------------------------------------ node names

def node_names(output: Value, order: list[Value] | None = None) -> dict[int, str]:
    """A readable name for every node of output's graph, by id, no two alike: its label; else, for
    a constant, its number; else what it computes, written over its inputs' names (`w1*x1`,
    `tanh(n1)`) while that is at most NAME_LIMIT characters; else a number `n1`, `n2`, ... (in
    topological order), which the drawing shows on the node. Nodes that would share a name (a
    label given twice, two constants 0.5, two nodes computing `x*x`) are numbered too."""
    return _names(output, order)[0]


NUMBERED = re.compile(r"n[1-9]\d*")  # the numbers node_names gives: n1, n2, ...


def is_numbered(name: str) -> bool:
    """Whether a name is one of the numbers node_names gives (`n12`), which the drawing shows."""
    return NUMBERED.fullmatch(name) is not None


def reference(node: Value, name: str) -> str:
    """How a formula refers to a node named `name`: a constant by its value (0.5, even when two
    constants 0.5 are numbered apart), any other node by its name."""
    return f"{node.data:g}" if node.op is None and not node.label else name


def _names(output: Value, order: list[Value] | None = None) -> tuple[dict[int, str], dict[int, int]]:
    """node_names, and the precedence of each node's reference() (ATOM for a label, a positive
    number, a call or a number n1)."""
    order = topological_order(output) if order is None else order
    labels = {node.label for node in order if node.label}
    numbered: set[int] = set()
    for _ in range(3):  # numbering two alike nodes can only tell their consumers apart: 2 rounds
        names, precedence = _name_pass(order, numbered, labels)
        counts = Counter(names.values())
        shared = {key for key, name in names.items() if counts[name] > 1}
        if not shared:
            return names, precedence
        numbered |= shared
    return _name_pass(order, numbered, labels, greedy=True)


def _name_pass(order: list[Value], numbered: set[int], labels: set[str],
               greedy: bool = False) -> tuple[dict[int, str], dict[int, int]]:
    """One naming of order: the nodes in `numbered`, and those whose formula is too long, get the
    next number (greedy: also a node whose name an earlier node has)."""
    names: dict[int, str] = {}
    refs: dict[int, str] = {}
    precedence: dict[int, int] = {}
    used: set[str] = set()
    count = 0
    for node in order:
        key = id(node)
        long = False  # a formula too long to read: numbered (a label is the user's, kept whole)
        if node.label:
            text, prec = node.label, ATOM
        elif node.op is None:
            text = f"{node.data:g}"
            prec = 3 if text.startswith("-") else ATOM
        elif key in numbered or sum(len(refs[id(p)]) for p in node.inputs) > NAME_LIMIT:
            text, prec, long = "", ATOM, True  # numbered whatever its formula: not written out
        else:
            text, prec = _formula_name(node, refs, precedence)
            long = len(text) > NAME_LIMIT
        if key in numbered or long or (greedy and text in used):
            count += 1
            while f"n{count}" in labels:
                count += 1
            name = f"n{count}"
            refs[key] = reference(node, name)
            precedence[key] = prec if refs[key] != name else ATOM
        else:
            name = refs[key] = text
            precedence[key] = prec
        names[key] = name
        used.add(name)
    return names, precedence


def _formula_name(node: Value, names: dict[int, str], precedence: dict[int, int]) -> tuple[str, int]:
    """A node's name as what it computes over its inputs' names: the one call to the renderer."""
    return _render(node, names, precedence)


def _render(node: Value, names: dict[int, str], precedence: dict[int, int]) -> tuple[str, int]:
    """node written over its inputs' names by its op record (render.py decides the parentheses)."""
    assert node.op is not None
    args = [render.Piece(names[id(p)], precedence[id(p)]) for p in node.inputs]
    return render.apply(node.op, args, render.TEXT)


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

def _gradients(output: Value, order: list[Value]) -> dict[int, float]:
    """d output/d node for every node of order (by id): grad() on the order the caller has, so
    its floats and its OverflowError where a gradient would leave the float range."""
    return dict(zip(map(id, order), grad(output, order, order=order)))


def _sum_of_terms(node: Value, terms: list[float]) -> float:
    """The exact sum of one node's path terms; OverflowError naming the op where they leave the range."""
    try:
        total = math.fsum(terms)
    except (ValueError, OverflowError):
        total = math.inf
    if not math.isfinite(total):
        raise OverflowError(f"{node.op.name if node.op else 'a leaf'}: the chain-rule paths through it "
                            "have products past the float range")
    return total


class PathGraph:
    """The part of output's graph that leads to wrt, analysed once: path counts, partial sums,
    every node's gradient, and the order and names every explanation and diagnosis of this
    partial shares.

    order: topological_order(output), when the caller has it (a graph rebuilt node for node
    from an analysed one keeps its order): then nothing here sorts the graph again.
    """

    def __init__(self, output: Value, wrt: Value, names: Mapping[int, str] | None = None,
                 order: list[Value] | None = None) -> None:
        if not isinstance(output, Value) or not isinstance(wrt, Value):
            raise TypeError("output and wrt must be Values")
        self.output, self.wrt = output, wrt
        self.order = order = topological_order(output) if order is None else order
        # first: a gradient past the float range is grad()'s named error
        self.grads = grads = _gradients(output, order)
        partial = grads.get(id(wrt), 0.0)
        self.names, self.precedence = _names(output, order)
        self.names.setdefault(id(wrt), wrt.label or f"{wrt.data:g}")
        if names:
            self.names.update(names)
        self._formulas: _Formulas | None = None
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
                tangent[k] = _sum_of_terms(node, [g * tangent[id(p)] for p, g in edges])
                scale[k] = _sum_of_terms(node, [abs(g) * scale[id(p)] for p, g in edges])
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
        self.partial = partial

    def formula(self, consumer: Value, position: int) -> str:
        """The local derivative of consumer's input `position` as its op record writes it, over
        the nodes' names (cached per edge)."""
        if self._formulas is None:
            self._formulas = _Formulas(self)
        return self._formulas.edge(consumer, position)

    def edges(self) -> Iterator[tuple[Value, int, Value, float]]:
        """Every edge on some path from output down to wrt: (consumer, input position, input,
        local derivative), consumers from the output down, inputs in order."""
        reach, above = self.reach, self.above
        for node in reversed(self.order):
            if node is self.wrt or id(node) not in above or not reach.get(id(node)):
                continue
            for i, (p, g) in enumerate(zip(node.inputs, node.local_grads)):
                if reach[id(p)]:
                    yield node, i, p, g

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
    """One factor of a path: d(upper)/d(lower) along the path's edges between two waypoints, its
    value, and its formula: each edge's local derivative as its op record writes it, over the
    nodes' names (a product when the factor spans several edges)."""

    upper: str
    lower: str
    value: float
    formula: str = ""

    @property
    def name(self) -> str:
        return f"d{d(self.upper)}/d{d(self.lower)}"


@dataclass(repr=False)
class Path:
    """One path from the output down to the variable: its factors and their product."""

    nodes: list[str]  # the waypoints it passes, output first, the variable last
    factors: list[Factor]
    product: float
    through: str = ""  # the first waypoint that tells it from the other paths, if any
    waypoints: tuple = field(default=(), compare=False)  # the Values, same order
    consumers: tuple = field(default=(), compare=False)  # each edge's consumer (a Value)
    positions: tuple = field(default=(), compare=False)  # each edge's input position
    note: str = ""  # for paths through the same waypoints: the edge that tells them apart

    @property
    def formula(self) -> str:
        """The factors' formulas multiplied, each in parentheses unless it is one name or number."""
        return " * ".join(f.formula if render.is_atom(f.formula) else f"({f.formula})" for f in self.factors)

    def latex_symbols(self) -> str:
        """The path's factors as partials: \\frac{\\partial E}{\\partial out} \\cdot ..."""
        return r" \cdot ".join(latex.partial(f.upper, f.lower) for f in self.factors) or "1"

    def latex_formulas(self) -> str:
        """The factors' formulas in LaTeX, each parenthesised."""
        return r" \cdot ".join(rf"\left({latex.formula(f.formula)}\right)" if not render.is_atom(f.formula)
                                else latex.formula(f.formula) for f in self.factors) or "1"

    def latex_numbers(self) -> str:
        """The factors' values and the product: 0.741 \\cdot 0.187 \\cdot ... = 0.000439."""
        values = r" \cdot ".join(latex.value(f.value) for f in self.factors) or "1"
        return f"{values} = {latex.value(self.product)}"

    def latex(self) -> str:
        """The whole path on one line: symbols = formulas = numbers = product (mathtext-safe)."""
        return f"{self.latex_symbols()} = {self.latex_formulas()} = {self.latex_numbers()}"

    def to_json(self) -> dict:
        return {"nodes": self.nodes, "through": self.through, "note": self.note, "product": self.product,
                "latex": self.latex(),
                "factors": [{"name": f.name, "formula": f.formula, "value": f.value} for f in self.factors]}

    def __repr__(self) -> str:
        return f"<Path {' -> '.join(self.nodes)}: product {self.product:.9g}>"


def _signed(x: float, first: bool) -> str:
    """A term of a sum in LaTeX: " - 0.2" rather than " + -0.2"."""
    sign = ("-" if first else " - ") if x < 0 else ("" if first else " + ")
    return sign + latex.value(abs(x))


def _num(x: float) -> str:
    return f"{x:.9g}"


@dataclass(repr=False)
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

    def lines(self) -> Iterator[str]:
        """The explanation as text, line by line (what `micrograd-bp explain` prints): per path its
        factors as partials, as formulas over the nodes' names, as numbers, and their product."""
        if self.n_paths == 0:
            yield f"{self.output} does not depend on {self.wrt}: no path joins them, {self.name} = 0"
            return
        plural = "s" if self.n_paths != 1 else ""
        yield (f"{self.name} by the chain rule: {count_text(self.n_paths)} path{plural} from {self.output} "
               f"down to {self.wrt}")
        for i, path in enumerate(self.paths, 1):
            yield (f"path {i}" + (f", through {path.through}" if path.through else "")
                   + (f" ({path.note})" if path.note else "") + ":")
            if path.factors:
                yield "  " + " * ".join(f.name for f in path.factors)
                steps = [path.formula, " * ".join(_num(f.value) for f in path.factors), _num(path.product)]
                for j, step in enumerate(steps):
                    if j == 0 or step != steps[j - 1]:  # one factor: its number is the product
                        yield "  = " + step
            else:
                yield f"  {self.name} = 1"
        if self.omitted:
            yield (f"... and {count_text(self.omitted)} more paths, not listed, "
                   f"contributing {_num(self.omitted_sum)}")
            yield (f"sum of all {count_text(self.n_paths)} paths = {_num(self.partial)} = {self.name} "
                   "by autograd")
        else:
            yield (f"sum of the paths = {_num(self.listed_sum)}; {self.name} by autograd = "
                   f"{_num(self.partial)}")

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__

    def latex(self) -> str:
        """The partial as the sum of its listed paths' products, one line of LaTeX (mathtext-safe)."""
        head = latex.partial(self.output, self.wrt)
        if self.n_paths == 0:
            return f"{head} = 0"
        terms = "".join(_signed(p.product, first=i == 0) for i, p in enumerate(self.paths))
        rest = r" + \ldots" if self.omitted else ""
        return f"{head} = {terms}{rest} = {latex.value(self.partial)}"

    def _repr_markdown_(self) -> str:
        """Jupyter: the chain rule typeset, path by path, the symbols first and the numbers under."""
        out = [f"**{latex.markdown(self.name)}** by the chain rule: {count_text(self.n_paths)} "
               f"path{'s' if self.n_paths != 1 else ''}", ""]
        for i, path in enumerate(self.paths, 1):
            label = f"path {i}" + (f", through `{path.through}`" if path.through else "")
            out += [f"{label}:", "", f"$${path.latex_symbols()}$$", "", f"$$= {path.latex_formulas()}$$", "",
                    f"$$= {path.latex_numbers()}$$", ""]
        if self.omitted:
            out += [f"... and {count_text(self.omitted)} more paths, not listed", ""]
        out.append(f"$${self.latex()}$$")
        return "\n".join(out)

    def to_json_head(self) -> dict:
        """to_json() without its paths (a caller can write them one by one)."""
        return {"output": self.output, "wrt": self.wrt, "partial": self.partial,
                "n_paths": count_json(self.n_paths), "omitted": count_json(self.omitted),
                "listed_sum": self.listed_sum, "latex": self.latex()}

    def to_json(self) -> dict:
        return {**self.to_json_head(), "paths": [p.to_json() for p in self.paths]}


def explain(output: Value, wrt: Value, *, waypoints: Collection[Value] | None = None,
            max_paths: int = MAX_PATHS, names: Mapping[int, str] | None = None,
            graph: PathGraph | None = None, formulas: bool = True,
            order: list[Value] | None = None) -> Explanation:
    """Every path from output down to wrt, each factor and each path's product.

    By default every node is a waypoint: one factor per edge, the local derivative recorded on it.
    With `waypoints`, each run of edges between two waypoints is merged into one factor (their
    product), so a path reads over named nodes only; the products are unchanged. The paths'
    products sum to the partial; past max_paths they are counted, not listed. formulas=False
    leaves each factor's formula out (faster, for a caller that needs only numbers). `graph`: the
    PathGraph of output and wrt, or `order`: topological_order(output), when the caller has either
    (nothing is sorted again). Time is linear in
    the graph's size plus the paths listed; memory, in the graph plus what is listed.
    """
    if not isinstance(output, Value) or not isinstance(wrt, Value):
        raise TypeError("explain: output and wrt must be Values")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise ValueError(f"explain: max_paths must be a non-negative integer, got {max_paths!r}")
    if graph is None:
        graph = PathGraph(output, wrt, names, order)
    all_names = graph.names
    ids = graph.waypoint_ids(waypoints)
    if output is wrt:
        paths = [Path([all_names[id(output)]], [], 1.0, waypoints=(output,))][:max_paths]
    else:
        writer = _Formulas(graph) if formulas else None
        paths = [_build_path(edges, ids, all_names, writer) for edges in graph.edge_paths(max_paths)]
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
                names: Mapping[int, str], formulas: _Formulas | None) -> Path:
    nodes = [edges[0][0]]
    factors: list[Factor] = []
    value = 1.0
    texts: list[str] = []
    for consumer, lower, g, position in edges:
        value *= g
        if formulas is not None:
            texts.append(formulas.edge(consumer, position))
        if id(lower) in waypoint_ids:
            factors.append(Factor(names[id(nodes[-1])], names[id(lower)], value,
                                  product_text(texts) if formulas is not None else ""))
            nodes.append(lower)
            value = 1.0
            texts = []
    product = 1.0
    for f in factors:
        product *= f.value
    return Path([names[id(n)] for n in nodes], factors, product, waypoints=tuple(nodes),
                consumers=tuple(e[0] for e in edges), positions=tuple(e[3] for e in edges))


class _Formulas:
    """Each edge's local derivative as its op record's formula over the nodes' names, once per edge."""

    def __init__(self, graph: PathGraph) -> None:
        self.graph = graph
        self.cache: dict[tuple[int, int], str] = {}

    def edge(self, consumer: Value, position: int) -> str:
        key = (id(consumer), position)
        text = self.cache.get(key)
        if text is None:
            text = self.cache[key] = self._formula(consumer, position)
        return text

    def _formula(self, consumer: Value, position: int) -> str:
        op, inputs = consumer.op, consumer.inputs
        assert op is not None
        n = len(inputs)
        nodes = dict(zip(op.input_names(n), inputs))
        nodes["out"] = consumer
        graph = self.graph
        names = {name: render.Piece(reference(node, graph.names[id(node)]), graph.precedence[id(node)])
                 for name, node in nodes.items()}
        return render.fold(_parsed_formula(op.formulas_for(n)[position]), render.TEXT, names)


@lru_cache(maxsize=1024)
def _parsed_formula(formula: str) -> Expression:
    return parse(formula)


_MUL = OPS["mul"]


def product_text(formulas: list[str]) -> str:
    """Formulas multiplied, factors of 1 dropped. Whether a factor is parenthesised is the
    renderer's rule for an operand of *, with two choices of a product written out: a factor that
    is itself a product joins without parentheses (the grouping does not change what is shown),
    and a signed factor is parenthesised even first, (-1)*x, so each factor reads alone."""
    kept = [render.piece(f) for f in formulas if f != "1"]
    if len(kept) <= 1:
        return kept[0].text if kept else "1"
    return "*".join(f"({f.text})" if _loose(f, k) else f.text for k, f in enumerate(kept))


def _loose(factor: render.Piece, position: int) -> bool:
    if factor.signed:
        return True
    if position and factor.precedence == _MUL.precedence:
        return False
    return render.needs_parentheses(_MUL, 2, min(position, 1), factor)


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
