"""Claim checking: is a hand-derived partial right, at its point and around it, and if not, why."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable, NamedTuple, Union

from . import latex
from .engine import Value, grad, topological_order
from .expr import ExprError, parse
from .numeric import DOMAIN_ERRORS, EPS, Difference, agree, central_difference, default_step, replay
from .paths import Explanation, PathGraph, d, explain

Number = Union[int, float]
RTOL = 1e-6  # a claim agrees when within this of the partial, relative to the larger of the two
ATOL = 0.0  # and an absolute allowance: none unless asked for
NEAR = 1e-3  # a wrong claim within this (relative) is a near miss: "close: ... rounded?"
POINTS = 20  # points besides the given one where a claim is checked
MAX_TRIES = 10  # candidate points tried per point wanted (the rest fall outside the domain)
SPREAD = 0.5  # each variable moves by up to this times max(|value|, 1) around the given value
SUBSET_LIMIT = 10  # subsets of paths are tried as diagnoses up to this many paths


def tolerance(a: float, b: float, rtol: float, atol: float, magnitude: float = 0.0) -> float:
    """How far a claim a may be from the partial b and still agree: rtol relative to the larger,
    atol, and the partial's own rounding: 64 eps times the sum of |path products| (its terms
    before they cancel), which is no wider than the arithmetic that produced it."""
    return max(rtol * max(abs(a), abs(b)), atol, 64 * EPS * magnitude)


def claims_agree(a: float, b: float, rtol: float = RTOL, atol: float = ATOL, magnitude: float = 0.0) -> bool:
    """Does a claim a agree with the partial b? Never when either is not finite."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= tolerance(a, b, rtol, atol, magnitude)


def _fmt(x: float) -> str:
    return f"{x:.9g}"


def _short(x: float) -> str:
    """One significant digit, exponent without padding: 4e-4."""
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def _paths_word(n: int) -> str:
    return "path" if n == 1 else "paths"


# ------------------------------------------------------------------------------- the diagnoses

@dataclass
class Diagnosis:
    """What a claim matches. kind: correct, close, paths, sign, twice, half, other_variable,
    stops_at, below, numeric_only, none."""

    kind: str
    message: str
    value: float | None = None  # the matched quantity

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "value": self.value}


@dataclass
class Case:
    """Everything the named checks look at: the claim, and the graph analysed once."""

    claim: float
    graph: PathGraph
    explanation: Explanation  # its first SUBSET_LIMIT + 1 paths
    others: Mapping[str, Value]  # variables whose partials a wrong claim may equal
    waypoint_ids: set
    rtol: float
    atol: float
    numeric: float | None  # the central difference, when it disagrees with autograd

    def same(self, x: float) -> bool:
        return claims_agree(self.claim, x, self.rtol, self.atol)

    @property
    def total(self) -> float:
        return self.explanation.partial

    @property
    def name(self) -> str:
        return self.explanation.name


def numeric_only(c: Case) -> Diagnosis | None:
    if c.numeric is not None and c.same(c.numeric):
        return Diagnosis("numeric_only", f"your value equals the central difference ({_fmt(c.numeric)}) "
                         "but not autograd: the engine's rule for an op on the way may be wrong", c.numeric)
    return None


def no_path(c: Case) -> Diagnosis | None:
    ex = c.explanation
    if ex.n_paths == 0:
        return Diagnosis("none", f"{ex.output} does not depend on {ex.wrt}: no path joins them, "
                         "the partial is 0", 0.0)
    return None


def close(c: Case) -> Diagnosis | None:
    total = c.total
    if math.isfinite(total) and total != 0 and claims_agree(c.claim, total, NEAR):
        off = abs(c.claim - total) / max(abs(c.claim), abs(total))
        return Diagnosis("close", f"close: off by {_short(off)} relative; rounded? {c.name} = "
                         f"{_fmt(total)} (the tolerance is {c.rtol:g} relative)", total)
    return None


def path_groups(c: Case) -> Diagnosis | None:
    ex, n, total = c.explanation, c.explanation.n_paths, c.total
    for through, count, value in ex.groups:
        if c.same(value):
            rest = total - value
            other = next((t for t, k, v in ex.groups if k == n - count and agree(v, rest, 1e-12, 1e-300)),
                         None)
            rest_text = (f"the {_paths_word(n - count)} through {other}" if other
                         else f"the other {n - count} {_paths_word(n - count)}")
            return Diagnosis("paths", f"your value equals the {_paths_word(count)} through {through} "
                             f"alone ({count} of {n}); {rest_text} "
                             f"{'contributes' if n - count == 1 else 'contribute'} {_fmt(rest)}; "
                             f"{'both' if n == 2 else f'all {n}'} together give {c.name} = {_fmt(total)}",
                             value)
    return None


def path_subsets(c: Case) -> Diagnosis | None:
    n = c.explanation.n_paths
    if not 2 <= n <= SUBSET_LIMIT:
        return None
    products = [p.product for p in c.explanation.paths]
    for size in range(1, n):
        for subset in combinations(range(n), size):
            value = math.fsum(products[i] for i in subset)
            if c.same(value):
                listed = ", ".join(str(i + 1) for i in subset)
                rest = [i + 1 for i in range(n) if i not in subset]
                return Diagnosis("paths", f"your value equals {_paths_word(size)} {listed} alone "
                                 f"(of {n}, see explain); the {_paths_word(len(rest))} "
                                 f"{', '.join(map(str, rest))} contribute {_fmt(c.total - value)}", value)
    return None


def sign(c: Case) -> Diagnosis | None:
    if c.same(-c.total):
        return Diagnosis("sign", f"your value has the wrong sign: {c.name} = {_fmt(c.total)}", -c.total)
    return None


def _has_square(graph: PathGraph) -> bool:
    """A square on the way (x**2, or a product of a node with itself): its 2 is a usual suspect."""
    return any(n.op is not None and (n.op.exponent == 2 or (len(n.edges) == 4 and n.edges[0] is n.edges[1]))
               for n in graph.order)


def twice(c: Case) -> Diagnosis | None:
    if c.same(2 * c.total):
        hint = (" (a squared error's 1/2 is there to cancel the 2 of the square: is it missing?)"
                if _has_square(c.graph) else "")
        return Diagnosis("twice", f"your value is twice {c.name} = {_fmt(c.total)}: off by a factor of "
                         f"2{hint}", 2 * c.total)
    return None


def half(c: Case) -> Diagnosis | None:
    if c.same(c.total / 2):
        return Diagnosis("half", f"your value is half {c.name} = {_fmt(c.total)}: a factor of 2 is missing",
                         c.total / 2)
    return None


def other_variable(c: Case) -> Diagnosis | None:
    variables = [(label, node) for label, node in c.others.items() if node is not c.graph.wrt]
    if not variables:
        return None
    partials = grad(c.graph.output, [node for _, node in variables])
    for (label, _), value in zip(variables, partials):
        if value != 0.0 and c.same(value):
            return Diagnosis("other_variable", f"your value equals the partial with respect to {label} "
                             f"({_fmt(value)}), not {c.explanation.wrt}: {c.name} = {_fmt(c.total)}", value)
    return None


def chain_cut(c: Case) -> Diagnosis | None:
    """A node every path passes: the claim may stop there (the factors below it missing), or start
    there (the factors above it missing)."""
    g, n, ex = c.graph, c.explanation.n_paths, c.explanation
    for node in reversed(g.order):
        if id(node) not in c.waypoint_ids or node is g.output or node is g.wrt or g.through(node)[0] != n:
            continue
        upper, lower, v = g.adjoint[id(node)], g.tangent[id(node)], g.name(node)
        if c.same(upper):
            return Diagnosis("stops_at", f"your value is d{d(ex.output)}/d{d(v)} = {_fmt(upper)}: "
                             f"the chain stops at {v}; the factor d{d(v)}/d{d(ex.wrt)} = "
                             f"{_fmt(lower)} is missing", upper)
        if c.same(lower):
            return Diagnosis("below", f"your value is d{d(v)}/d{d(ex.wrt)} = {_fmt(lower)}: the "
                             f"factor d{d(ex.output)}/d{d(v)} = {_fmt(upper)} above {v} is missing", lower)
    return None


def nothing(c: Case) -> Diagnosis:
    return Diagnosis("none", f"your value matches none of the chain rule's pieces (no path or set of "
                     f"paths, no sign flip, no factor of 2, no other variable's partial): "
                     f"{c.name} = {_fmt(c.total)}")


# In order: the first that matches is the diagnosis.
DIAGNOSES: list[Callable[[Case], Diagnosis | None]] = [
    numeric_only, no_path, path_groups, path_subsets, sign, twice, half, other_variable, chain_cut, close,
]


def diagnose(case: Case) -> Diagnosis:
    """The first named diagnosis that matches a wrong claim, else "none"."""
    for check in DIAGNOSES:
        found = check(case)
        if found is not None:
            return found
    return nothing(case)


# --------------------------------------------------------------------------- claims at a point

class Instance(NamedTuple):
    """The graph rebuilt at one point: the output, the variable, and the claim's value there."""

    output: Value
    wrt: Value
    claim: float


@dataclass
class Counterexample:
    """A point where the claim and the partial differ, with the diagnosis there."""

    point: dict[str, float]
    claim: float
    partial: float
    diagnosis: Diagnosis

    def to_json(self) -> dict:
        return {"point": self.point, "claim": self.claim, "partial": self.partial,
                "diagnosis": self.diagnosis.to_json()}


@dataclass(repr=False)
class ClaimCheck:
    """A claimed partial against autograd and a central difference at the given point, and against
    autograd at points around it; if wrong, a diagnosis."""

    output: str
    wrt: str
    claim: float
    autograd: float
    numeric: float
    h: float
    rtol: float
    ok: bool  # the claim agrees with autograd at the given point and at every point around it
    numeric_ok: bool  # autograd agrees with the central difference
    diagnosis: Diagnosis
    message: str
    atol: float = ATOL
    points_checked: int = 1  # points where both sides were defined, the given one included
    points_agreeing: int = 1
    skipped: int = 0  # points tried where the expression or the claim was undefined
    counterexample: Counterexample | None = None
    at_point_ok: bool = True  # the claim agrees at the given point
    claim_text: str = ""  # the claim's formula, when it was given as text
    point: dict = field(default_factory=dict)  # the given point, by variable name

    @property
    def name(self) -> str:
        return f"d{d(self.output)}/d{d(self.wrt)}"

    def lines(self, title: str = "") -> list[str]:
        """The check as text (what `micrograd-bp check` prints)."""
        at = f"  at {_point_text(self.point)}" if self.point else ""
        out = [title or f"{self.name}{at}"] if title or at else []
        claim = f"({self.claim_text.strip()})" if self.claim_text else ""
        out += [f"{self.name}:",
                f"  claim     {_fmt(self.claim):<16} {claim}".rstrip(),
                f"  autograd  {_fmt(self.autograd)}",
                f"  numeric   {_fmt(self.numeric):<16} (central difference, h={self.h:g})"]
        out.append(self.message)
        if self.points_checked > 1 or self.skipped:
            out.append(f"points: the claim agrees at {self.points_agreeing} of {self.points_checked} "
                       f"(the given point and {self.points_checked - 1} around it"
                       + (f"; {self.skipped} skipped, outside the domain" if self.skipped else "") + ")")
        if not self.ok:
            c = self.counterexample
            if c is not None and self.at_point_ok:
                out.append(f"counterexample: at {_point_text(c.point)}: the claim is {_fmt(c.claim)}, "
                           f"{self.name} is {_fmt(c.partial)}")
                out.append(f"diagnosis there: {c.diagnosis.message}")
            else:
                out.append(f"diagnosis: {self.diagnosis.message}")
            if not self.numeric_ok:
                out.append(f"note: the central difference {_fmt(self.numeric)} also disagrees with "
                           "autograd: the function may not be smooth here")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__

    def latex(self) -> str:
        """The claim against the partial, one line of LaTeX (mathtext-safe)."""
        head = latex.partial(self.output, self.wrt)
        claim = (latex.formula(self.claim_text) + " = " if self.claim_text else "") + latex.value(self.claim)
        relation = "=" if self.ok else r"\neq"
        return rf"{head} = {latex.value(self.autograd)} \quad \mathrm{{claim:}}\ {claim} \quad ({relation})"

    def _repr_markdown_(self) -> str:
        """Jupyter: the verdict in words and the claim against the partial typeset."""
        verdict = "right" if self.ok else "wrong"
        rest = self.message[len(verdict):] if self.message.startswith(verdict) else ": " + self.message
        out = [f"**{verdict}**{latex.markdown(rest)}", "", f"$${self.latex()}$$", ""]
        if not self.ok:
            c = self.counterexample
            if c is not None and self.at_point_ok:
                text = (f"counterexample at {_point_text(c.point)}: the claim is {_fmt(c.claim)}, the "
                        f"partial {_fmt(c.partial)}; {c.diagnosis.message}")
                out += [latex.markdown(text)]
            else:
                out += [latex.markdown(f"diagnosis: {self.diagnosis.message}")]
        return "\n".join(out)

    def to_json(self) -> dict:
        return {"output": self.output, "wrt": self.wrt, "claim": self.claim, "autograd": self.autograd,
                "numeric": self.numeric if math.isfinite(self.numeric) else None, "h": self.h,
                "rtol": self.rtol, "atol": self.atol, "ok": self.ok, "numeric_ok": self.numeric_ok,
                "message": self.message, "diagnosis": self.diagnosis.to_json(),
                "points_checked": self.points_checked, "points_agreeing": self.points_agreeing,
                "points_skipped": self.skipped,
                "counterexample": None if self.counterexample is None else self.counterexample.to_json()}


def _claim_number(claim: object) -> float:
    if isinstance(claim, Value):
        claim = claim.data
    if isinstance(claim, bool) or not isinstance(claim, (int, float)) or not math.isfinite(claim):
        raise ValueError(f"the claim must be a finite number, got {claim!r}")
    return float(claim)


def _difference(output: Value, wrt: Value, numeric: Number | Callable[[float], float] | None,
                h: float | None) -> Difference:
    if numeric is None:
        numeric = replay(output, wrt)
    if callable(numeric):
        return central_difference(numeric, wrt.data, h)
    step = default_step(wrt.data) if h is None else h
    return Difference(float(numeric), step, abs(output.data), 0.0)


def check_partial(output: Value, wrt: Value, claim: Number | Value, *, rtol: float = RTOL,
                  atol: float = ATOL, numeric: Number | Callable[[float], float] | None = None,
                  h: float | None = None, waypoints: Collection[Value] | None = None,
                  others: Mapping[str, Value] | None = None, names: Mapping[int, str] | None = None,
                  at: Callable[[dict[str, float]], Instance] | None = None,
                  given: Mapping[str, float] | None = None, points: int = POINTS,
                  seed: int = 0) -> ClaimCheck:
    """Is `claim` d output/d wrt? Compared with autograd and a central difference at the given
    point, then with autograd at `points` seeded points around it; if wrong, the diagnosis says
    which piece of the chain rule it equals (at the first point where it is wrong).

    A claim agrees when |claim - partial| <= max(rtol * max(|claim|, |partial|), atol, 64 eps *
    the sum of |path products|): relative, with no absolute allowance unless atol is given.

    claim: a number, or a Value built from the same leaves as output (then it is rebuilt at the
    other points with them). at: for a number, how to rebuild the output, the variable and the
    claim at a point (a mapping from variable names to values); `given` is the given point. With
    neither, a number is checked at its own point only. numeric: the central difference itself,
    a function of wrt's value to difference, or None to re-run the graph's forward pass. others:
    the variables whose partials a wrong claim may equal (default: the graph's labelled leaves).
    """
    claim_graph = claim if isinstance(claim, Value) else None
    claim_value = _claim_number(claim)
    if not rtol > 0 or not rtol < 1:
        raise ValueError(f"rtol must be between 0 and 1, got {rtol!r}")
    if not atol >= 0 or not math.isfinite(atol):
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise ValueError(f"points must be a non-negative integer, got {points!r}")
    graph = PathGraph(output, wrt, names)  # the graph analysed once: every check below reads it
    if others is None:
        others = {n.label: n for n in graph.order if n.is_leaf and n.label}
    if at is None and claim_graph is not None:
        at, given = _rebuilder(output, wrt, claim_graph)
    difference = _difference(output, wrt, numeric, h)
    autograd = graph.partial
    numeric_ok = difference.agrees(autograd, rtol)
    here_ok = claims_agree(claim_value, autograd, rtol, atol, graph.magnitude)
    agreeing = 1 if here_ok else 0
    checked, skipped, counter = 1, 0, None
    if at is not None and given:
        agreeing_more, tried, skipped, counter = _around(at, dict(given), points, seed, rtol, atol,
                                                         others, waypoints)
        checked += tried
        agreeing += agreeing_more
    name = f"d{d(graph.name(output))}/d{d(graph.name(wrt))}"
    ok = here_ok and counter is None
    if here_ok:
        diagnosis = Diagnosis("correct", f"the claim equals {name} by autograd", autograd)
        if counter is not None:
            message = (f"wrong: the claim is right at the given point but not at every point: at "
                       f"{_point_text(counter.point)} the claim is {_fmt(counter.claim)}, {name} is "
                       f"{_fmt(counter.partial)}")
            diagnosis = counter.diagnosis
        elif not difference.defined:
            message = (f"right by autograd (rtol {rtol:g}); no central difference: the shifted "
                       "values leave the function's domain")
        elif numeric_ok:
            message = (f"right: the claim agrees with autograd (rtol {rtol:g}) and with the central "
                       "difference")
        else:
            message = (f"right by autograd (rtol {rtol:g}), but the central difference "
                       f"{_fmt(difference.value)} disagrees: the function may not be smooth here "
                       "(relu at 0?) or the difference is ill-conditioned")
    else:
        case = _case(claim_value, graph, others, waypoints, rtol, atol,
                     None if numeric_ok or not difference.defined else difference.value)
        diagnosis = diagnose(case)
        message = f"wrong: the claim is {_fmt(claim_value)}, {name} is {_fmt(autograd)}"
        counter = Counterexample(dict(given) if given else {graph.name(wrt): wrt.data}, claim_value,
                                 autograd, diagnosis)
    return ClaimCheck(graph.name(output), graph.name(wrt), claim_value, autograd, difference.value,
                      difference.h, rtol, ok, numeric_ok, diagnosis, message, atol, checked, agreeing,
                      skipped, counter, here_ok, point=dict(given) if given else {})


def _case(claim: float, graph: PathGraph, others: Mapping[str, Value], waypoints: Collection[Value] | None,
          rtol: float, atol: float, numeric: float | None) -> Case:
    explanation = explain(graph.output, graph.wrt, waypoints=waypoints, max_paths=SUBSET_LIMIT + 1,
                          graph=graph, formulas=False)
    return Case(claim, graph, explanation, others, graph.waypoint_ids(waypoints), rtol, atol, numeric)


def _point_text(point: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in point.items())


def _around(at: Callable[[dict[str, float]], Instance], given: dict[str, float], wanted: int, seed: int,
            rtol: float, atol: float, others: Mapping[str, Value],
            waypoints: Collection[Value] | None) -> tuple[int, int, int, Counterexample | None]:
    """Check the claim at `wanted` seeded points around `given`: (points agreeing, points checked,
    points skipped, the first counterexample)."""
    rng = random.Random(seed)
    agreeing = checked = skipped = 0
    counter: Counterexample | None = None
    for _ in range(wanted * MAX_TRIES):
        if checked >= wanted:
            break
        point = {k: v + SPREAD * max(abs(v), 1.0) * rng.uniform(-1.0, 1.0) for k, v in given.items()}
        try:
            instance = at(point)
            graph = PathGraph(instance.output, instance.wrt)
            partial, claim = graph.partial, instance.claim
        except (*DOMAIN_ERRORS, ExprError):
            skipped += 1
            continue
        if not (math.isfinite(partial) and math.isfinite(claim)):
            skipped += 1
            continue
        checked += 1
        if claims_agree(claim, partial, rtol, atol, graph.magnitude):
            agreeing += 1
        elif counter is None:
            there = {label: node for label, node in _leaves(instance.output).items() if label in others}
            case = _case(claim, graph, there, None if waypoints is None else _same_named(
                waypoints, instance.output), rtol, atol, None)
            counter = Counterexample(point, claim, partial, diagnose(case))
    return agreeing, checked, skipped, counter


def _leaves(output: Value) -> dict[str, Value]:
    return {n.label: n for n in topological_order(output) if n.is_leaf and n.label}


def _same_named(waypoints: Collection[Value], output: Value) -> list[Value]:
    """The rebuilt graph's nodes that carry the labels of the given waypoints."""
    labels = {w.label for w in waypoints if w.label}
    return [n for n in topological_order(output) if n.label in labels]


def _rebuilder(output: Value, wrt: Value, claim: Value) -> tuple[Callable[[dict[str, float]], Instance],
                                                                  dict[str, float]]:
    """For a claim built from output's leaves: rebuild both graphs with the labelled leaves moved."""
    nodes: list[Value] = []
    seen: set[int] = set()
    for root in (output, claim):
        for node in topological_order(root):
            if id(node) not in seen:
                seen.add(id(node))
                nodes.append(node)
    variables: dict[str, Value] = {}
    for node in nodes:
        if node.is_leaf and node.label and node.label not in variables:
            variables[node.label] = node

    def at(point: dict[str, float]) -> Instance:
        rebuilt: dict[int, Value] = {}
        for node in nodes:
            if node.op is None:
                moved = point.get(node.label) if node.label and variables.get(node.label) is node else None
                rebuilt[id(node)] = Value(node.data if moved is None else moved, node.label)
            else:
                rebuilt[id(node)] = Value.apply(node.op, *(rebuilt[id(p)] for p in node.inputs))
                rebuilt[id(node)].label = node.label
        return Instance(rebuilt[id(output)], rebuilt.get(id(wrt), Value(wrt.data)), rebuilt[id(claim)].data)

    return at, {k: v.data for k, v in variables.items()}


# -------------------------------------------------------------------------- expressions as text

def check_expression(text: str, wrt: str, claim: str, values: Mapping[str, Number], *,
                     rtol: float = RTOL, atol: float = ATOL, points: int = POINTS,
                     seed: int = 0) -> ClaimCheck:
    """check_partial for text: the claim is a formula over the same variables; the central
    difference rebuilds the expression with wrt shifted by +-h, and the other points rebuild the
    expression and the claim there."""
    expression = parse(text)
    evaluation = expression.evaluate(values)
    if wrt not in evaluation.variables:
        raise ExprError(f"the variable {wrt!r} is not one of the variables given "
                        f"({', '.join(evaluation.variables) or 'none'})")
    claimed = parse(claim)
    extra = [v for v in claimed.variables if v not in evaluation.variables]
    if extra:
        raise ExprError(f"the claim uses {extra[0]!r}, which is not given a value")
    unused = [v for v in claimed.variables if v not in expression.variables]
    if unused:
        raise ExprError(f"the claim uses {unused[0]!r}, which the expression {text.strip()!r} does not: "
                        f"its partial cannot depend on {unused[0]!r}")
    given = {k: v.data for k, v in evaluation.variables.items()}
    claim_value = claimed.value(given)

    def shifted(x: float) -> float:
        return expression.value({**given, wrt: x})

    def at(point: dict[str, float]) -> Instance:
        there = expression.evaluate(point)
        return Instance(there.output, there.variables[wrt], claimed.value(point))

    result = check_partial(evaluation.output, evaluation.variables[wrt], claim_value, rtol=rtol, atol=atol,
                           numeric=shifted, others=evaluation.variables, at=at, given=given,
                           points=points, seed=seed)
    result.claim_text = claim
    return result
