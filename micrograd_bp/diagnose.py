"""Claim checking: is a hand-derived partial right, at its point and around it, and if not, why."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Union

from . import latex
from .engine import Value, topological_order
from .expr import ExprError, parse
from .mistakes import NEAR, Candidate, Subject, candidates, matches, near_miss  # noqa: F401 (NEAR)
from .numeric import DOMAIN_ERRORS, EPS, Difference, central_difference, default_step, replay
from .paths import PathGraph, d

Number = Union[int, float]
RTOL = 1e-6  # a claim agrees when within this of the partial, relative to the larger of the two
ATOL = 0.0  # and an absolute allowance: none unless asked for
POINTS = 20  # points besides the given one where a claim is checked
MAX_TRIES = 10  # candidate points tried per point wanted (the rest fall outside the domain)
SPREAD = 0.5  # each variable moves by up to this times max(|value|, 1) around the given value


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


# ------------------------------------------------------------------------------- the diagnoses

@dataclass
class Diagnosis:
    """What a claim matches: kind, an id of the catalogue of mistakes (mistakes.CATALOGUE:
    correct, close, numeric-only, no-path, sign, missing-path, ..., unknown); its message; the
    matched quantity; and at how many of the points where the claim is wrong it holds."""

    kind: str
    message: str
    value: float | None = None  # the matched quantity
    holds: int = 1  # the points (where the claim is wrong) at which this diagnosis holds ...
    wrong: int = 1  # ... of this many

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "value": self.value, "holds": self.holds,
                "wrong": self.wrong}


@dataclass
class Case:
    """One point where the claim is wrong, analysed: the claim there, the graph (once), and every
    candidate of the catalogue that the claim matches there, by key."""

    point: dict[str, float]
    claim: float
    subject: Subject
    matched: dict[str, Candidate]  # key -> candidate, in the catalogue's order

    @property
    def graph(self) -> PathGraph:
        return self.subject.graph


def _analyse(point: dict[str, float], claim: float, subject: Subject, rtol: float, atol: float,
             first: Case | None = None) -> Case:
    """The candidates the claim matches at one point; after the first point where it is wrong,
    only the mistakes that matched there are tried (a diagnosis must hold at every point)."""
    ids = None if first is None else {c.id for c in first.matched.values()}
    found = candidates(subject, ids) if ids is None or ids else []
    matched = {c.key: c for c in found if matches(claim, c.value, rtol, atol)}
    return Case(point, claim, subject, matched)


def special(case: Case, rtol: float) -> Diagnosis | None:
    """The diagnoses that read one point alone: no path (the partial is 0), the engine's rule
    suspect (numeric-only)."""
    s, name = case.subject, case.subject.name
    g = s.graph
    if g.n_paths == 0:
        return Diagnosis("no-path", f"{g.name(g.output)} does not depend on {g.name(g.wrt)}: no path "
                         "joins them, the partial is 0", 0.0)
    if s.numeric is not None and matches(case.claim, s.numeric, rtol):
        return Diagnosis("numeric-only", f"your value equals the central difference ({_fmt(s.numeric)}) "
                         f"but not autograd ({name} = {_fmt(s.total)}): the engine's rule for an op on "
                         "the way may be wrong", s.numeric)
    return None


def diagnose(cases: list[Case], rtol: float) -> Diagnosis:
    """The first mistake of the catalogue that holds at every point where the claim is wrong (its
    message at the first of them); else a near miss (close) or the first that holds at the first
    point, saying where it does not hold; else unknown."""
    first = cases[0]
    found = special(first, rtol)
    if found is not None:
        return found
    common = [key for key in first.matched if all(key in c.matched for c in cases[1:])]
    if common:
        c = first.matched[common[0]]
        return Diagnosis(c.id, c.message, c.value, len(cases), len(cases))
    near = near_miss(first.subject, first.claim, rtol)
    if near is not None:
        return Diagnosis(near.id, near.message, near.value, 1, len(cases))
    if first.matched:
        c = next(iter(first.matched.values()))
        other = next(case for case in cases[1:] if c.key not in case.matched)
        holds = sum(1 for case in cases if c.key in case.matched)
        where = f"{_here(first)} only" if holds == 1 else \
            f"at {holds} of the {len(cases)} points where the claim is wrong"
        return Diagnosis(c.id, f"{c.message} (this holds {where}, not at {_point_text(other.point)}: "
                         "a coincidence of the numbers, not the mistake)", c.value, holds, len(cases))
    return Diagnosis("unknown", f"your value matches none of the chain rule's pieces (no path or set of "
                     f"paths, no sign flip, no missing or extra factor, no constant factor, no other "
                     f"variable's partial): {first.subject.name} = {_fmt(first.subject.total)}", None,
                     0, len(cases))


def _here(case: Case) -> str:
    return f"at {_point_text(case.point)}" if case.point else "at the given point"


# --------------------------------------------------------------------------- claims at a point

class Instance(NamedTuple):
    """The graph rebuilt at one point: the output, the variable, the claim's value there, and the
    rebuilt graph's topological order when it is known (a graph rebuilt node for node from the
    analysed one: see rebuild), so that it is not sorted again."""

    output: Value
    wrt: Value
    claim: float
    order: list | None = None


def rebuild(order: list[Value], point: Mapping[str, float]) -> list[Value]:
    """The graph of `order` (a topological order) built again node for node, with each labelled
    leaf whose label is in point set to point[label] (the first leaf of that label only); the
    result is the new graph's topological order, position for position."""
    rebuilt: dict[int, Value] = {}
    seen: set[str] = set()
    out: list[Value] = []
    for node in order:
        if node.op is None:
            moved = node.label in point and node.label not in seen
            if node.label:
                seen.add(node.label)
            new = Value(point[node.label] if moved else node.data, node.label)
        else:
            new = Value.apply(node.op, *(rebuilt[id(p)] for p in node.inputs))
            new.label = node.label
        rebuilt[id(node)] = new
        out.append(new)
    return out


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


def _difference(graph: PathGraph, numeric: Number | Callable[[float], float] | None,
                h: float | None) -> Difference:
    if numeric is None:
        numeric = replay(graph.output, graph.wrt, graph.order)
    if callable(numeric):
        return central_difference(numeric, graph.wrt.data, h)
    step = default_step(graph.wrt.data) if h is None else h
    return Difference(float(numeric), step, abs(graph.output.data), 0.0)


def _check_options(rtol: float, atol: float, points: int) -> None:
    if not rtol > 0 or not rtol < 1:
        raise ValueError(f"rtol must be between 0 and 1, got {rtol!r}")
    if not atol >= 0 or not math.isfinite(atol):
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise ValueError(f"points must be a non-negative integer, got {points!r}")


@dataclass
class _Setup:
    """What check_partial reads at every point: the tolerances, and the waypoints and the other
    variables by their position in the topological order (the same in a rebuilt graph)."""

    rtol: float
    atol: float
    waypoints: list[int] | None
    others: dict[str, int]

    def subject(self, graph: PathGraph, numeric: float | None = None) -> Subject:
        order = graph.order
        waypoints = None if self.waypoints is None else [order[k] for k in self.waypoints]
        others = {name: graph.grads.get(id(order[k]), 0.0) for name, k in self.others.items()}
        return Subject(graph, waypoints, others, None, numeric)


def check_partial(output: Value, wrt: Value, claim: Number | Value, *, rtol: float = RTOL,
                  atol: float = ATOL, numeric: Number | Callable[[float], float] | None = None,
                  h: float | None = None, waypoints: Collection[Value] | None = None,
                  others: Mapping[str, Value] | None = None, names: Mapping[int, str] | None = None,
                  at: Callable[[dict[str, float]], Instance] | None = None,
                  given: Mapping[str, float] | None = None, points: int = POINTS,
                  seed: int = 0, order: list[Value] | None = None) -> ClaimCheck:
    """Is `claim` d output/d wrt? Compared with autograd and a central difference at the given
    point, then with autograd at `points` seeded points around it; if wrong, the diagnosis names
    the mistake of the catalogue (mistakes.py) that the claim matches at every point where it is
    wrong (or says that the one it names holds at the first such point only).

    A claim agrees when |claim - partial| <= max(rtol * max(|claim|, |partial|), atol, 64 eps *
    the sum of |path products|): relative, with no absolute allowance unless atol is given.

    claim: a number, or a Value built from the same leaves as output (then it is rebuilt at the
    other points with them). at: for a number, how to rebuild the output, the variable and the
    claim at a point (a mapping from variable names to values); `given` is the given point. With
    neither, a number is checked at its own point only. numeric: the central difference itself,
    a function of wrt's value to difference, or None to re-run the graph's forward pass. others:
    the variables whose partials a wrong claim may equal (default: the graph's labelled leaves).
    The graph is sorted and analysed once (a PathGraph; `order` if the caller has sorted it
    already); rebuilt graphs keep its order.
    """
    claim_graph = claim if isinstance(claim, Value) else None
    claim_value = _claim_number(claim)
    _check_options(rtol, atol, points)
    graph = PathGraph(output, wrt, names, order)  # the graph analysed once: every check below reads it
    position = {id(n): k for k, n in enumerate(graph.order)}
    if others is None:
        others = {n.label: n for n in graph.order if n.is_leaf and n.label}
    setup = _Setup(rtol, atol, None if waypoints is None else [position[id(w)] for w in waypoints
                                                               if id(w) in position],
                   {name: position[id(n)] for name, n in others.items() if id(n) in position})
    if at is None and claim_graph is not None:
        at, given = _rebuilder(graph, claim_graph)
    difference = _difference(graph, numeric, h)
    autograd = graph.partial
    numeric_ok = difference.agrees(autograd, rtol)
    here_ok = claims_agree(claim_value, autograd, rtol, atol, graph.magnitude)
    point = dict(given) if given else {}
    cases = [] if here_ok else [_analyse(point, claim_value, setup.subject(
        graph, None if numeric_ok or not difference.defined else difference.value), rtol, atol)]
    checked, agreeing, skipped = 1, int(here_ok), 0
    if at is not None and given:
        more, tried, skipped = _around(at, dict(given), points, seed, setup, cases)
        checked, agreeing = checked + tried, agreeing + more
    counts = (checked, agreeing, skipped)
    return _verdict(graph, claim_value, difference, rtol, atol, numeric_ok, here_ok, cases, counts, point)


def _verdict(graph: PathGraph, claim: float, difference: Difference, rtol: float, atol: float,
             numeric_ok: bool, here_ok: bool, cases: list[Case], counts: tuple[int, int, int],
             point: dict[str, float]) -> ClaimCheck:
    """The ClaimCheck: right, or wrong with the diagnosis over the points where it is wrong."""
    output, wrt, autograd = graph.output, graph.wrt, graph.partial
    name = f"d{d(graph.name(output))}/d{d(graph.name(wrt))}"
    head = (graph.name(output), graph.name(wrt), claim, autograd, difference.value, difference.h, rtol)
    if here_ok and not cases:
        diagnosis = Diagnosis("correct", f"the claim equals {name} by autograd", autograd, 0, 0)
        return ClaimCheck(*head, True, numeric_ok, diagnosis, _right(rtol, difference, numeric_ok), atol,
                          *counts, None, True, point=point)
    diagnosis = diagnose(cases, rtol)
    first = cases[0]
    counter = Counterexample(first.point or {graph.name(wrt): wrt.data}, first.claim, first.graph.partial,
                             diagnosis)
    if here_ok:
        message = (f"wrong: the claim is right at the given point but not at every point: at "
                   f"{_point_text(first.point)} the claim is {_fmt(first.claim)}, {name} is "
                   f"{_fmt(first.graph.partial)}")
    else:
        message = f"wrong: the claim is {_fmt(claim)}, {name} is {_fmt(autograd)}"
    return ClaimCheck(*head, False, numeric_ok, diagnosis, message, atol, *counts, counter, here_ok,
                      point=point)


def _right(rtol: float, difference: Difference, numeric_ok: bool) -> str:
    if not difference.defined:
        return (f"right by autograd (rtol {rtol:g}); no central difference: the shifted values leave "
                "the function's domain")
    if numeric_ok:
        return f"right: the claim agrees with autograd (rtol {rtol:g}) and with the central difference"
    return (f"right by autograd (rtol {rtol:g}), but the central difference {_fmt(difference.value)} "
            "disagrees: the function may not be smooth here (relu at 0?) or the difference is "
            "ill-conditioned")


def _point_text(point: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in point.items())


def _around(at: Callable[[dict[str, float]], Instance], given: dict[str, float], wanted: int, seed: int,
            setup: _Setup, cases: list[Case]) -> tuple[int, int, int]:
    """Check the claim at `wanted` seeded points around `given`: (points agreeing, points checked,
    points skipped); each point where it is wrong is analysed and added to cases."""
    rng = random.Random(seed)
    agreeing = checked = skipped = 0
    for _ in range(wanted * MAX_TRIES):
        if checked >= wanted:
            break
        point = {k: v + SPREAD * max(abs(v), 1.0) * rng.uniform(-1.0, 1.0) for k, v in given.items()}
        try:
            instance = at(point)
            graph = PathGraph(instance.output, instance.wrt, order=instance.order)
            partial, claim = graph.partial, instance.claim
        except (*DOMAIN_ERRORS, ExprError):
            skipped += 1
            continue
        if not (math.isfinite(partial) and math.isfinite(claim)):
            skipped += 1
            continue
        checked += 1
        if claims_agree(claim, partial, setup.rtol, setup.atol, graph.magnitude):
            agreeing += 1
        else:
            cases.append(_analyse(point, claim, setup.subject(graph), setup.rtol, setup.atol,
                                  cases[0] if cases else None))
    return agreeing, checked, skipped


def _rebuilder(graph: PathGraph, claim: Value) -> tuple[Callable[[dict[str, float]], Instance],
                                                        dict[str, float]]:
    """For a claim built from output's leaves: rebuild both graphs with the labelled leaves moved
    (the output's order, then the claim's own nodes: one sort of the claim's graph)."""
    known = {id(n) for n in graph.order}
    nodes = list(graph.order) + [n for n in topological_order(claim) if id(n) not in known]
    variables: dict[str, float] = {}
    for node in nodes:
        if node.is_leaf and node.label and node.label not in variables:
            variables[node.label] = node.data
    index = {id(n): k for k, n in enumerate(nodes)}
    n_output, wrt_at = len(graph.order), index.get(id(graph.wrt))

    def at(point: dict[str, float]) -> Instance:
        rebuilt = rebuild(nodes, point)
        wrt = rebuilt[wrt_at] if wrt_at is not None else Value(graph.wrt.data)
        return Instance(rebuilt[n_output - 1], wrt, rebuilt[index[id(claim)]].data, rebuilt[:n_output])

    return at, variables


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
    order = topological_order(evaluation.output)  # the one sort: the points around rebuild this order
    wrt_at = next((k for k, n in enumerate(order) if n is evaluation.variables[wrt]), None)

    def shifted(x: float) -> float:
        return expression.value({**given, wrt: x})

    def at(point: dict[str, float]) -> Instance:
        rebuilt = rebuild(order, point)
        there = rebuilt[wrt_at] if wrt_at is not None else Value(point[wrt], wrt)
        return Instance(rebuilt[-1], there, claimed.value(point), rebuilt)

    result = check_partial(evaluation.output, evaluation.variables[wrt], claim_value, rtol=rtol, atol=atol,
                           numeric=shifted, others=evaluation.variables, at=at, given=given,
                           points=points, seed=seed, order=order)
    result.claim_text = claim
    return result
