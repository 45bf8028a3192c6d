"""Finite differences, gradient checks, claim checking with a diagnosis, and chain-rule paths."""

from __future__ import annotations

import math
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable, Union

from .engine import Value, grad, topological_order
from .expr import ExprError, parse

Number = Union[int, float]
EPS = sys.float_info.epsilon
MAX_PATHS = 20  # paths listed by explain(); the rest are counted and summed
SUBSET_LIMIT = 10  # subsets of paths are tried as diagnoses up to this many paths


def agree(a: float, b: float, rtol: float = 1e-6, atol: float = 1e-12) -> bool:
    """|a - b| within rtol of the larger magnitude, or within atol."""
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), atol)


def default_step(x: float) -> float:
    """The central difference's h: about the cube root of machine epsilon, relative to x."""
    return 1e-5 * max(1.0, abs(x))


def central_difference(f: Callable[[float], float], x: float, h: float | None = None) -> float:
    """(f(x + h) - f(x - h)) / 2h."""
    h = default_step(x) if h is None else h
    return (f(x + h) - f(x - h)) / (2 * h)


def _numeric_agree(analytic: float, numeric: float, f_scale: float, h: float, rtol: float,
                   truncation: float = 0.0) -> bool:
    """Agreement of a derivative with its central difference, allowing for the difference's own
    error: rounding of f (about eps*|f|/h), and truncation (a relative 1e-5, or the estimate)."""
    noise = 64 * EPS * max(1.0, f_scale) / h
    return agree(analytic, numeric, max(rtol, 1e-5), max(noise, truncation, 1e-10))


def truncation_estimate(f: Callable[[float], float], x: float, h: float, numeric: float) -> float:
    """How far the central difference at h may be from the derivative: |D(2h) - D(h)|.

    The truncation error of D(h) is about c*h**2 and that of D(2h) four times it, so their gap is
    three times D(h)'s error: a safe bound where the derivative is 0 but the third derivative is
    not (the relative allowance covers nothing there). 0 when 2h leaves the function's domain.
    """
    try:
        wider = (f(x + 2 * h) - f(x - 2 * h)) / (4 * h)
    except (ValueError, ZeroDivisionError, OverflowError):
        return 0.0
    return abs(wider - numeric) if math.isfinite(wider) else 0.0


def replay(output: Value, wrt: Value) -> Callable[[float], float]:
    """output as a function of wrt's value: the graph's forward pass re-run on floats.

    Every other node keeps its recorded inputs; if wrt is an interior node its value is replaced.
    """
    order = topological_order(output)
    if not any(node is wrt for node in order):
        return lambda x: output.data

    def f(x: float) -> float:
        values: dict[int, float] = {}
        for node in order:
            if node is wrt:
                values[id(node)] = x
            elif node.op is None:
                values[id(node)] = node.data
            else:
                values[id(node)] = node.op.forward(*(values[id(p)] for p in node.inputs))
        return values[id(output)]

    return f


# ------------------------------------------------------------------------------------ gradcheck

@dataclass
class GradCheck:
    """backward() against central differences, one entry per input."""

    names: list[str]
    analytic: list[float]
    numeric: list[float]
    agrees: list[bool]
    h: list[float]
    value: float

    @property
    def ok(self) -> bool:
        return all(self.agrees)

    @property
    def max_abs_error(self) -> float:
        return max((abs(a - n) for a, n in zip(self.analytic, self.numeric)), default=0.0)

    def to_json(self) -> dict:
        return {"value": self.value, "ok": self.ok,
                "inputs": [{"name": n, "analytic": a, "numeric": d, "agrees": g}
                           for n, a, d, g in zip(self.names, self.analytic, self.numeric, self.agrees)]}


def gradcheck(f: Callable[..., Value], inputs: Sequence[Number] | Mapping[str, Number], *,
              rtol: float = 1e-6, h: float | None = None) -> GradCheck:
    """Compare backward() with central differences for f at inputs.

    f takes one Value per input (positionally for a sequence, by keyword for a mapping) and
    returns a Value. The result holds both derivatives per input and whether they agree.
    """
    by_name = isinstance(inputs, Mapping)
    names = [str(k) for k in inputs] if by_name else [f"x{i + 1}" for i in range(len(inputs))]
    xs = [float(v) for v in (inputs.values() if by_name else inputs)]

    def call(values: list[Any]) -> Value:
        out = f(**dict(zip(names, values))) if by_name else f(*values)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        return out

    leaves = [Value(x, n) for x, n in zip(xs, names)]
    out = call(leaves)
    out.backward()  # fresh leaves: their .grad is this pass's partial
    analytic = [leaf.grad for leaf in leaves]
    numeric, agrees, steps = [], [], []
    for i, x in enumerate(xs):
        step = default_step(x) if h is None else h

        def shifted(t: float, i: int = i) -> float:
            return call([Value(t) if j == i else Value(v) for j, v in enumerate(xs)]).data

        up, down = shifted(x + step), shifted(x - step)
        d = (up - down) / (2 * step)
        numeric.append(d)
        steps.append(step)
        agrees.append(_numeric_agree(analytic[i], d, max(abs(up), abs(down)), step, rtol,
                                     truncation_estimate(shifted, x, step, d)))
    return GradCheck(names, analytic, numeric, agrees, steps, out.data)


# -------------------------------------------------------------------------------------- explain

_PRECEDENCE = {"add": 1, "sub": 1, "linear": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4, "powc": 4}
_NAME_LIMIT = 40


def node_names(output: Value) -> dict[int, str]:
    """A readable name for every node: its label, a number, or its expression (abbreviated)."""
    names: dict[int, str] = {}
    precedence: dict[int, int] = {}
    for index, node in enumerate(topological_order(output)):
        key = id(node)
        precedence[key] = 5
        if node.label:
            names[key] = node.label
            continue
        if node.op is None:
            names[key] = f"{node.data:g}"
            continue
        text, prec = _render(node, names, precedence)
        if len(text) > _NAME_LIMIT:
            text, prec = f"[{node.op.name} #{index}]", 5
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


def _d(name: str) -> str:
    return name if name.replace("_", "a").isalnum() else f"({name})"


@dataclass(frozen=True)
class Factor:
    """One factor of a path: d(upper)/d(lower) along the path's edges between two waypoints."""

    upper: str
    lower: str
    value: float

    @property
    def name(self) -> str:
        return f"d{_d(self.upper)}/d{_d(self.lower)}"


@dataclass
class Path:
    """One path from the output down to the variable: its factors and their product."""

    nodes: list[str]  # the waypoints it passes, output first, the variable last
    factors: list[Factor]
    product: float
    through: str = ""  # the first waypoint that tells it from the other paths, if any
    waypoints: tuple = field(default=(), repr=False, compare=False)  # the Values, same order
    edges: tuple = field(default=(), repr=False, compare=False)  # (id of consumer, input position)
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
        return f"d{_d(self.output)}/d{_d(self.wrt)}"

    def to_json(self) -> dict:
        return {"output": self.output, "wrt": self.wrt, "partial": self.partial,
                "n_paths": self.n_paths, "omitted": self.omitted, "listed_sum": self.listed_sum,
                "paths": [p.to_json() for p in self.paths]}


class _Graph:
    """The part of output's graph that leads to wrt, with path counts and partial sums."""

    def __init__(self, output: Value, wrt: Value) -> None:
        self.output, self.wrt = output, wrt
        self.order = topological_order(output)
        reach: dict[int, bool] = {}
        below: dict[int, int] = {}  # paths from a node down to wrt
        tangent: dict[int, float] = {}  # d node / d wrt (forward mode: the sum over those paths)
        for node in self.order:
            k = id(node)
            if node is wrt:
                reach[k], below[k], tangent[k] = True, 1, 1.0
                continue
            edges = [(p, g) for p, g in zip(node.inputs, node.local_grads) if reach[id(p)]]
            reach[k] = bool(edges)
            below[k] = sum(below[id(p)] for p, _ in edges)
            tangent[k] = math.fsum(g * tangent[id(p)] for p, g in edges)
        self.reach, self.below, self.tangent = reach, below, tangent
        above: dict[int, int] = {id(output): 1}  # paths from output down to a node
        adjoint: dict[int, float] = {id(output): 1.0}  # d output / d node (reverse mode)
        for node in reversed(self.order):
            k = id(node)
            if k not in above or node is wrt:
                continue
            for p, g in zip(node.inputs, node.local_grads):
                if reach[id(p)]:
                    above[id(p)] = above.get(id(p), 0) + above[k]
                    adjoint[id(p)] = adjoint.get(id(p), 0.0) + g * adjoint[k]
        self.above, self.adjoint = above, adjoint

    @property
    def n_paths(self) -> int:
        return self.below[id(self.output)] if self.reach.get(id(self.output)) else 0

    def through(self, node: Value) -> tuple[int, float]:
        """How many paths pass node, and their sum: d output/d node * d node/d wrt."""
        k = id(node)
        if not self.reach.get(k) or k not in self.above:
            return 0, 0.0
        return self.above[k] * self.below[k], self.adjoint[k] * self.tangent[k]

    def paths(self, limit: int) -> list[list[tuple[Value, Value, float, int]]]:
        """The first `limit` paths, each a list of edges (consumer, input, local derivative, the
        input's position)."""
        if self.n_paths == 0:
            return []
        if self.output is self.wrt:
            return [[]]
        found: list[list[tuple[Value, Value, float, int]]] = []
        edges: list[tuple[Value, Value, float, int]] = []
        stack = [self._edges(self.output)]
        while stack and len(found) < limit:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                if edges:
                    edges.pop()
                continue
            edges.append(step)
            if step[1] is self.wrt:
                found.append(list(edges))
                edges.pop()
            else:
                stack.append(self._edges(step[1]))
        return found

    def _edges(self, node: Value):
        return ((node, p, g, i) for i, (p, g) in enumerate(zip(node.inputs, node.local_grads))
                if self.reach[id(p)])


def _waypoint_set(graph: _Graph, waypoints: Collection[Value] | None) -> set[int]:
    if waypoints is None:
        return {id(node) for node in graph.order}
    return {id(node) for node in waypoints} | {id(graph.output), id(graph.wrt)}


def _build_path(edges, waypoint_ids: set[int], names: dict[int, str]) -> Path:
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
                edges=tuple((id(e[0]), e[3]) for e in edges))


def _splitting(graph: _Graph, waypoint_ids: set[int]) -> list[tuple[Value, int, float]]:
    """Waypoints that some paths pass and others do not, with their path count and sum; one per
    distinct set (the labelled one nearest the output names it)."""
    total = graph.n_paths
    found: list[tuple[Value, int, float]] = []
    seen: list[tuple[int, float]] = []
    candidates = [n for n in reversed(graph.order) if id(n) in waypoint_ids
                  and n is not graph.output and n is not graph.wrt]
    candidates.sort(key=lambda n: not n.label)  # stable: labelled first, each nearest the output first
    for node in candidates:
        count, value = graph.through(node)
        if 0 < count < total and not any(c == count and agree(v, value, 1e-12, 1e-300)
                                         for c, v in seen):
            seen.append((count, value))
            found.append((node, count, value))
    return found


def explain(output: Value, wrt: Value, *, waypoints: Collection[Value] | None = None,
            max_paths: int = MAX_PATHS, names: Mapping[int, str] | None = None) -> Explanation:
    """Every path from output down to wrt, each factor and each path's product.

    By default every node is a waypoint: one factor per edge, the local derivative recorded on it.
    With `waypoints`, each run of edges between two waypoints is merged into one factor (their
    product), so a path reads over named nodes only; the products are unchanged. The paths'
    products sum to the partial; past max_paths they are counted, not listed.
    """
    if not isinstance(output, Value) or not isinstance(wrt, Value):
        raise TypeError("explain: output and wrt must be Values")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise ValueError(f"explain: max_paths must be a non-negative integer, got {max_paths!r}")
    graph = _Graph(output, wrt)
    all_names = node_names(output)
    all_names.setdefault(id(wrt), wrt.label or f"{wrt.data:g}")
    if names:
        all_names.update(names)
    ids = _waypoint_set(graph, waypoints)
    if output is wrt:
        paths = [Path([all_names[id(output)]], [], 1.0, waypoints=(output,))][:max_paths]
    else:
        paths = [_build_path(edges, ids, all_names) for edges in graph.paths(max_paths)]
    splitting = _splitting(graph, ids)
    for path in paths:
        on_path = {id(n) for n in path.waypoints}
        path.through = next((all_names[id(n)] for n, _, _ in splitting if id(n) in on_path), "")
    _note_twins(paths, all_names)
    partial = grad(output, [wrt])[0] if graph.n_paths else 0.0
    return Explanation(all_names[id(output)], all_names[id(wrt)], partial, paths, graph.n_paths,
                       math.fsum(p.product for p in paths),
                       [(all_names[id(n)], c, v) for n, c, v in splitting])


def _note_twins(paths: list[Path], names: dict[int, str]) -> None:
    """Paths over the same waypoints differ in an edge (an input used twice, as in x*x): name it."""
    by_nodes: dict[tuple, list[Path]] = {}
    for path in paths:
        by_nodes.setdefault(tuple(id(n) for n in path.waypoints), []).append(path)
    for twins in by_nodes.values():
        if len(twins) < 2:
            continue
        for path in twins:
            others = [t for t in twins if t is not path]
            for k, (consumer, position) in enumerate(path.edges):
                if any(k >= len(t.edges) or t.edges[k] != (consumer, position) for t in others):
                    path.note = f"by input {position + 1} of {names[consumer]}"
                    break


# -------------------------------------------------------------------------------- check_partial

@dataclass
class Diagnosis:
    """What a claim matches. kind: correct, paths, sign, twice, half, other_variable, stops_at,
    below, numeric_only, none."""

    kind: str
    message: str
    value: float | None = None  # the matched quantity

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "value": self.value}


@dataclass
class ClaimCheck:
    """A claimed partial against autograd and a central difference, with a diagnosis."""

    output: str
    wrt: str
    claim: float
    autograd: float
    numeric: float
    h: float
    rtol: float
    ok: bool  # the claim agrees with autograd
    numeric_ok: bool  # autograd agrees with the central difference
    diagnosis: Diagnosis
    message: str

    @property
    def name(self) -> str:
        return f"d{_d(self.output)}/d{_d(self.wrt)}"

    def to_json(self) -> dict:
        return {"output": self.output, "wrt": self.wrt, "claim": self.claim, "autograd": self.autograd,
                "numeric": None if math.isnan(self.numeric) else self.numeric, "h": self.h,
                "rtol": self.rtol, "ok": self.ok,
                "numeric_ok": self.numeric_ok, "message": self.message,
                "diagnosis": self.diagnosis.to_json()}


def _fmt(x: float) -> str:
    return f"{x:.9g}"


def _paths_word(n: int) -> str:
    return "path" if n == 1 else "paths"


def check_partial(output: Value, wrt: Value, claim: Number | Value, *, rtol: float = 1e-6,
                  atol: float = 1e-12, numeric: Number | Callable[[float], float] | None = None,
                  h: float | None = None, waypoints: Collection[Value] | None = None,
                  others: Mapping[str, Value] | None = None,
                  names: Mapping[int, str] | None = None) -> ClaimCheck:
    """Is `claim` d output/d wrt? Compared with autograd and a central difference; if wrong, the
    diagnosis says which piece of the chain rule it equals.

    numeric: the central difference itself, a function of wrt's value to difference, or None to
    re-run the graph's forward pass. others: the variables whose partials a wrong claim may equal
    (default: the graph's labelled leaves).
    """
    if isinstance(claim, Value):
        claim = claim.data
    if isinstance(claim, bool) or not isinstance(claim, (int, float)) or not math.isfinite(claim):
        raise ValueError(f"check_partial: the claim must be a finite number, got {claim!r}")
    if not rtol > 0:
        raise ValueError(f"check_partial: rtol must be positive, got {rtol!r}")
    claim = float(claim)
    explanation = explain(output, wrt, waypoints=waypoints, max_paths=SUBSET_LIMIT + 1, names=names)
    autograd = explanation.partial
    step = default_step(wrt.data) if h is None else h
    if numeric is None:
        numeric = replay(output, wrt)
    if callable(numeric):
        f = numeric
        x = wrt.data
        # near a domain's edge (log near 0) steps relative to x stay inside it
        first = step
        for step in (first, *((abs(x) * 1e-3, abs(x) * 1e-5) if x else (first / 100, first / 1e4))):
            try:
                up, down = f(x + step), f(x - step)
                break
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
        else:
            up = down = math.nan
        numeric_value = (up - down) / (2 * step)
        numeric_ok = (not math.isnan(numeric_value)
                      and _numeric_agree(autograd, numeric_value, max(abs(up), abs(down)), step, rtol,
                                         truncation_estimate(f, x, step, numeric_value)))
    else:
        numeric_value = float(numeric)
        numeric_ok = _numeric_agree(autograd, numeric_value, abs(output.data), step, rtol)
    ok = agree(claim, autograd, rtol, atol)
    if ok:
        diagnosis = Diagnosis("correct", f"the claim equals {explanation.name} by autograd", autograd)
        if numeric_ok:
            message = (f"right: the claim agrees with autograd (rtol {rtol:g}) and with the "
                       "central difference")
        else:
            message = (f"right by autograd (rtol {rtol:g}), but the central difference "
                       f"{_fmt(numeric_value)} disagrees: the function may not be smooth here "
                       "(relu at 0?) or the difference is ill-conditioned")
            if math.isnan(numeric_value):
                message = (f"right by autograd (rtol {rtol:g}); no central difference: the shifted "
                           "values leave the function's domain")
    else:
        if others is None:
            others = {n.label: n for n in topological_order(output) if n.is_leaf and n.label}
        diagnosis = _diagnose(claim, output, wrt, explanation, others, rtol, atol,
                              numeric_value if numeric_ok is False else None, waypoints, names)
        message = f"wrong: the claim is {_fmt(claim)}, {explanation.name} is {_fmt(autograd)}"
    return ClaimCheck(explanation.output, explanation.wrt, claim, autograd, numeric_value, step, rtol,
                      ok, numeric_ok, diagnosis, message)


def _has_square(output: Value) -> bool:
    return any(n.op is not None and n.op.name == "powc" and n.op.symbol == "**2"
               for n in topological_order(output))


def _diagnose(claim: float, output: Value, wrt: Value, ex: Explanation, others: Mapping[str, Value],
              rtol: float, atol: float, numeric: float | None,
              waypoints: Collection[Value] | None, names: Mapping[int, str] | None) -> Diagnosis:
    def same(x: float) -> bool:
        return agree(claim, x, rtol, atol)

    total, n, name = ex.partial, ex.n_paths, ex.name
    if numeric is not None and same(numeric):
        return Diagnosis("numeric_only", f"your value equals the central difference "
                         f"({_fmt(numeric)}) but not autograd: the engine's rule for an op on the "
                         "way may be wrong", numeric)
    if n == 0:
        return Diagnosis("none", f"{ex.output} does not depend on {ex.wrt}: no path joins them, "
                         "the partial is 0", 0.0)
    groups = ex.groups  # (through, count, sum) for waypoints that split the paths
    for through, count, value in groups:
        if same(value):
            rest = total - value
            other = next((t for t, c, v in groups if c == n - count and agree(v, rest, 1e-12, 1e-300)),
                         None)
            rest_text = (f"the {_paths_word(n - count)} through {other}" if other
                         else f"the other {n - count} {_paths_word(n - count)}")
            return Diagnosis("paths", f"your value equals the {_paths_word(count)} through {through} "
                             f"alone ({count} of {n}); {rest_text} "
                             f"{'contributes' if n - count == 1 else 'contribute'} {_fmt(rest)}; "
                             f"{'both' if n == 2 else f'all {n}'} together give {name} = {_fmt(total)}",
                             value)
    if 2 <= n <= SUBSET_LIMIT:
        products = [p.product for p in ex.paths]
        for size in range(1, n):
            for subset in combinations(range(n), size):
                value = math.fsum(products[i] for i in subset)
                if same(value):
                    listed = ", ".join(str(i + 1) for i in subset)
                    rest = [i + 1 for i in range(n) if i not in subset]
                    return Diagnosis("paths", f"your value equals {_paths_word(size)} {listed} alone "
                                     f"(of {n}, see explain); the {_paths_word(len(rest))} "
                                     f"{', '.join(map(str, rest))} contribute {_fmt(total - value)}",
                                     value)
    if same(-total):
        return Diagnosis("sign", f"your value has the wrong sign: {name} = {_fmt(total)}", -total)
    if same(2 * total):
        hint = (" (a squared error's 1/2 is there to cancel the 2 of the square: is it missing?)"
                if _has_square(output) else "")
        return Diagnosis("twice", f"your value is twice {name} = {_fmt(total)}: off by a factor of "
                         f"2{hint}", 2 * total)
    if same(total / 2):
        return Diagnosis("half", f"your value is half {name} = {_fmt(total)}: a factor of 2 is missing",
                         total / 2)
    variables = [(label, node) for label, node in others.items() if node is not wrt]
    if variables:
        partials = grad(output, [node for _, node in variables])
        for (label, _), d in zip(variables, partials):
            if d != 0.0 and same(d):
                return Diagnosis("other_variable", f"your value equals the partial with respect to "
                                 f"{label} ({_fmt(d)}), not {ex.wrt}: {name} = {_fmt(total)}", d)
    graph = _Graph(output, wrt)
    all_names = node_names(output)
    if names:
        all_names.update(names)
    ids = _waypoint_set(graph, waypoints)
    cuts = [node for node in reversed(graph.order) if id(node) in ids and node is not output
            and node is not wrt and graph.through(node)[0] == n]
    for node in cuts:
        upper, lower = graph.adjoint[id(node)], graph.tangent[id(node)]
        v = all_names[id(node)]
        if same(upper):
            return Diagnosis("stops_at", f"your value is d{_d(ex.output)}/d{_d(v)} = {_fmt(upper)}: "
                             f"the chain stops at {v}; the factor d{_d(v)}/d{_d(ex.wrt)} = "
                             f"{_fmt(lower)} is missing", upper)
        if same(lower):
            return Diagnosis("below", f"your value is d{_d(v)}/d{_d(ex.wrt)} = {_fmt(lower)}: the "
                             f"factor d{_d(ex.output)}/d{_d(v)} = {_fmt(upper)} above {v} is missing",
                             lower)
    return Diagnosis("none", f"your value matches none of the chain rule's pieces (no path or set of "
                     f"paths, no sign flip, no factor of 2, no other variable's partial): "
                     f"{name} = {_fmt(total)}")


# -------------------------------------------------------------------------- expressions as text

@dataclass
class ExpressionCheck:
    """check_expression's result: the ClaimCheck and the texts it came from."""

    expression: str
    claim_text: str
    values: dict[str, float]
    result: ClaimCheck


def check_expression(text: str, wrt: str, claim: str, values: Mapping[str, Number], *,
                     rtol: float = 1e-6) -> ClaimCheck:
    """check_partial for text: the claim is a formula over the same variables; the central
    difference rebuilds the expression with wrt shifted by +-h."""
    expression = parse(text)
    evaluation = expression.evaluate(values)
    if wrt not in evaluation.variables:
        raise ExprError(f"--wrt {wrt!r} is not one of the variables given "
                        f"({', '.join(evaluation.variables) or 'none'})")
    claimed = parse(claim)
    extra = [v for v in claimed.variables if v not in evaluation.variables]
    if extra:
        raise ExprError(f"the claim uses {extra[0]!r}, which is not given a value")
    claim_value = claimed.value({k: v.data for k, v in evaluation.variables.items()})

    def shifted(x: float) -> float:
        return expression.value({**values, wrt: x})

    return check_partial(evaluation.output, evaluation.variables[wrt], claim_value, rtol=rtol,
                         numeric=shifted, others=evaluation.variables)


# ------------------------------------------------------------------------------ the Mazur network

def _mazur():
    from .examples import mazur  # the example is the network; the checker needs only its names

    return mazur


def mazur_nodes() -> dict[str, Value]:
    """A fresh Mazur network's named nodes in the tutorial's order (i1, i2, w1, ..., E_total)."""
    mazur = _mazur()
    nodes = mazur.MazurNetwork().forward()
    order = [*mazur.INPUTS, *mazur.PARAMETER_NAMES, *mazur.FORWARD_NAMES]
    return {name: nodes[name] for name in sorted(nodes, key=lambda n: order.index(n) if n in order
                                                  else len(order))}


def mazur_waypoints(nodes: Mapping[str, Value]) -> list[Value]:
    """The tutorial's waypoints: the named nodes except E_o1 and E_o2, so that w1's paths read
    dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1."""
    return [node for name, node in nodes.items() if name not in ("E_o1", "E_o2")]


def mazur_explain(name: str, max_paths: int = MAX_PATHS) -> Explanation:
    """dE_total/d(name) on the Mazur network, written over the tutorial's names."""
    nodes = mazur_nodes()
    if name not in nodes or name == "E_total":
        raise ValueError(f"unknown Mazur node {name!r}: choose one of "
                         f"{', '.join(n for n in nodes if n != 'E_total')}")
    return explain(nodes["E_total"], nodes[name], waypoints=mazur_waypoints(nodes), max_paths=max_paths)


def mazur_variables(nodes: Mapping[str, Value]) -> dict[str, float]:
    """What a claim about the Mazur network may use: its named nodes' forward values and the
    targets target_o1, target_o2."""
    mazur = _mazur()
    values = {name: node.data for name, node in nodes.items()}
    values.update({f"target_{k}": v for k, v in mazur.TARGETS.items()})
    return values


def mazur_check(assignment: str, rtol: float = 1e-6) -> ClaimCheck:
    """Check "w5=FORMULA": FORMULA, over the network's named nodes, against dE_total/dw5; the
    central difference shifts w5 in a fresh MazurNetwork."""
    mazur = _mazur()
    if "=" not in assignment:
        raise ValueError(f"expected PARAMETER=FORMULA, got {assignment!r} (no '=')")
    name, _, formula = assignment.partition("=")
    name = name.strip()
    if name not in mazur.PARAMETER_NAMES:
        raise ValueError(f"{name!r} is not a parameter of the network: choose one of "
                         f"{', '.join(mazur.PARAMETER_NAMES)}")
    nodes = mazur_nodes()
    variables = mazur_variables(nodes)
    claimed = parse(formula)
    unknown = [v for v in claimed.variables if v not in variables]
    if unknown:
        raise ExprError(f"the claim uses {unknown[0]!r}, which is not a name of the network "
                        f"(the names are {', '.join(variables)})")
    claim_value = claimed.value({v: variables[v] for v in claimed.variables})
    kind = "weights" if name in mazur.WEIGHTS else "biases"

    def shifted(x: float) -> float:
        network = mazur.MazurNetwork(**{kind: {name: x}})
        return network.forward()["E_total"].data

    params = {n: nodes[n] for n in mazur.PARAMETER_NAMES}
    return check_partial(nodes["E_total"], nodes[name], claim_value, rtol=rtol, numeric=shifted,
                         waypoints=mazur_waypoints(nodes), others=params)
