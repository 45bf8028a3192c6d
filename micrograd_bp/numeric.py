"""Central differences: the one difference helper, gradcheck, gradcheck_op and the forward replay."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from .engine import Value, topological_order
from .ops import Op

Number = Union[int, float]
EPS = sys.float_info.epsilon
DOMAIN_ERRORS = (ValueError, ZeroDivisionError, OverflowError)  # how a forward leaves its domain


def agree(a: float, b: float, rtol: float = 1e-6, atol: float = 0.0) -> bool:
    """|a - b| within rtol of the larger magnitude, or within atol; never for a non-finite number."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), atol)


def default_step(x: float) -> float:
    """The central difference's first h: about the cube root of machine epsilon, relative to x."""
    return 1e-5 * max(1.0, abs(x))


@dataclass(frozen=True)
class Difference:
    """A central difference (f(x + h) - f(x - h)) / 2h and what bounds its own error."""

    value: float  # nan when no step kept x +- h inside f's domain
    h: float
    scale: float  # max |f(x +- h)|: the rounding error of the difference is about eps*scale/h
    truncation: float  # |D(2h) - D(h)|: an estimate of the truncation error (0 if 2h leaves the domain)

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value)

    def agrees(self, analytic: float, rtol: float = 1e-6) -> bool:
        """Does a derivative agree with this difference, allowing for the difference's own error:
        rounding of f (about 64 eps |f| / h), and truncation (a relative 1e-5, or the estimate)?"""
        if not self.defined:
            return False
        noise = 64 * EPS * max(1.0, self.scale) / self.h
        return agree(analytic, self.value, max(rtol, 1e-5), max(noise, self.truncation, 1e-10))


def central_difference(f: Callable[[float], float], x: float, h: float | None = None) -> Difference:
    """(f(x + h) - f(x - h)) / 2h, with h = 1e-5 max(1, |x|) unless given.

    When x +- h leaves f's domain (log near 0), smaller steps relative to x are tried: |x| 1e-3
    and |x| 1e-5 (h/100 and h/1e4 at x = 0). The result carries the step used and an estimate of
    the truncation error, so a caller can tell how far to trust it.
    """
    first = default_step(x) if h is None else h
    steps = (first, *((abs(x) * 1e-3, abs(x) * 1e-5) if x else (first / 100, first / 1e4)))
    for step in steps:
        try:
            up, down = f(x + step), f(x - step)
        except DOMAIN_ERRORS:
            continue
        value = (up - down) / (2 * step)
        return Difference(value, step, max(abs(up), abs(down)), _truncation(f, x, step, value))
    return Difference(math.nan, first, math.nan, 0.0)


def _truncation(f: Callable[[float], float], x: float, h: float, value: float) -> float:
    """|D(2h) - D(h)|: the truncation error of D(h) is about c h**2 and that of D(2h) four times it,
    so their gap is three times D(h)'s error: a safe bound where the derivative is 0 but the third
    derivative is not (a relative allowance covers nothing there)."""
    try:
        wider = (f(x + 2 * h) - f(x - 2 * h)) / (4 * h)
    except DOMAIN_ERRORS:
        return 0.0
    gap = abs(wider - value)
    return gap if math.isfinite(gap) else 0.0


def replay(output: Value, wrt: Value, order: list[Value] | None = None) -> Callable[[float], float]:
    """output as a function of wrt's value: the graph's forward pass re-run on floats.

    Every other node keeps its recorded inputs; if wrt is an interior node its value is replaced.
    order: topological_order(output), if the caller has it.
    """
    order = topological_order(output) if order is None else order
    if not any(node is wrt for node in order):
        return lambda x: output.data
    position = {id(node): i for i, node in enumerate(order)}
    plan = [(node is wrt, node.op, node.data, [position[id(p)] for p in node.inputs]) for node in order]

    def f(x: float) -> float:
        values: list[float] = []
        for is_wrt, op, data, inputs in plan:
            if is_wrt:
                values.append(x)
            elif op is None:
                values.append(data)
            else:
                values.append(op.forward(*[values[i] for i in inputs]))
        return values[-1]

    return f


# ------------------------------------------------------------------------------------ gradcheck

@dataclass(repr=False)
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
                "inputs": [{"name": n, "analytic": a, "numeric": d if math.isfinite(d) else None,
                            "agrees": g}
                           for n, a, d, g in zip(self.names, self.analytic, self.numeric, self.agrees)]}

    def __str__(self) -> str:
        rows = [f"gradcheck at value {self.value:.9g}: {'ok' if self.ok else 'DISAGREES'}"]
        rows += [f"  d/d{n}: backward {a:.9g}, central difference {d:.9g} (h={h:g})"
                 f"{'' if g else '  <- disagrees'}"
                 for n, a, d, g, h in zip(self.names, self.analytic, self.numeric, self.agrees, self.h)]
        return "\n".join(rows)

    __repr__ = __str__


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
        def shifted(t: float, i: int = i) -> float:
            return call([Value(t) if j == i else Value(v) for j, v in enumerate(xs)]).data

        d = central_difference(shifted, x, h)
        numeric.append(d.value)
        steps.append(d.h)
        agrees.append(d.agrees(analytic[i], rtol))
    return GradCheck(names, analytic, numeric, agrees, steps, out.data)


# --------------------------------------------------------------------------------- gradcheck_op

# Points an op is tried at besides the random spread: the edges of the usual domains.
EDGE_POINTS = (0.0, -1.0, 1e-300, -1e-300, 800.0, -800.0, 1e200, -1e200)
LINEAR_INPUTS = 5  # gradcheck_op tries an n-ary op with this many inputs (w1, x1, w2, x2, b)


@dataclass
class OpPoint:
    """One point where an op's partial disagrees most with its central difference."""

    inputs: tuple[float, ...]
    position: int  # which input's partial
    analytic: float
    numeric: float

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric) / max(1.0, abs(self.numeric))


@dataclass(repr=False)
class OpCheck:
    """gradcheck_op's result: every point tried, the worst one, and every problem found."""

    op: str
    points_checked: int  # points inside the domain whose partials were compared
    out_of_domain: int  # points the forward refused with a clear error (as it should)
    worst: OpPoint | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.points_checked > 0

    def to_json(self) -> dict:
        worst = self.worst
        return {"op": self.op, "ok": self.ok, "points_checked": self.points_checked,
                "out_of_domain": self.out_of_domain, "problems": self.problems,
                "worst": None if worst is None else {
                    "inputs": list(worst.inputs), "input": worst.position + 1,
                    "analytic": worst.analytic, "numeric": worst.numeric}}

    def __str__(self) -> str:
        head = (f"gradcheck_op {self.op}: {'ok' if self.ok else 'FAILED'}; {self.points_checked} "
                f"points checked, {self.out_of_domain} outside the domain refused")
        lines = [head]
        if self.worst is not None:
            w = self.worst
            at = ", ".join(f"{x:.6g}" for x in w.inputs)
            lines.append(f"  worst: d/d(input {w.position + 1}) at ({at}): partial {w.analytic:.9g}, "
                         f"central difference {w.numeric:.9g}")
        lines += [f"  problem: {p}" for p in self.problems[:3]]
        if len(self.problems) > 3:
            lines.append(f"  ... and {len(self.problems) - 3} more problems")
        return "\n".join(lines)

    __repr__ = __str__


def _op_arity(op: Op) -> int:
    return LINEAR_INPUTS if op.arity < 0 else op.arity


def _spread(n_inputs: int, count: int, seed: int) -> list[tuple[float, ...]]:
    rng = random.Random(seed)
    points = []
    for _ in range(count):  # magnitudes from 0.05 to 3, either sign: away from kinks at 0
        points.append(tuple(rng.choice((-1.0, 1.0)) * rng.uniform(0.05, 3.0) for _ in range(n_inputs)))
    return points


def gradcheck_op(op: Op, points: Sequence[Sequence[Number]] | None = None, *, rtol: float = 1e-6,
                 count: int = 50, seed: int = 0) -> OpCheck:
    """Check an op's partials against central differences of its forward, point by point.

    points: the inputs to try (each a sequence of op.arity numbers); by default `count` seeded
    random points with magnitudes between 0.05 and 3, and the domain's usual edges (0, huge and
    tiny numbers). A point the forward refuses must be refused cleanly: ValueError,
    ZeroDivisionError or OverflowError, or an infinite result, which the engine refuses as an
    overflow (any other exception, or a nan, is a problem). At every other point each partial
    must agree with the central difference of the forward along that input. The result has `ok`
    and the worst point.
    """
    if not isinstance(op, Op):
        raise TypeError(f"gradcheck_op: expected an Op, got {type(op).__name__}")
    tried, edges = _points_to_try(op, points, count, seed)
    problems: list[str] = []
    checked = refused = 0
    worst: OpPoint | None = None
    for point, compare in [*((p, True) for p in tried), *((p, False) for p in edges)]:
        out, problem = _forward_at(op, point)
        if problem is not None:
            problems.append(problem)
            continue
        if out is None:
            refused += 1
            continue
        if not compare:
            continue
        try:
            partials = tuple(op.partials(*point, out))
        except DOMAIN_ERRORS as error:
            problems.append(f"partials{point} raised {type(error).__name__}: {error}")
            continue
        if len(partials) != len(point):
            problems.append(f"partials gave {len(partials)} derivatives for {len(point)} inputs")
            break
        checked += 1
        for here, agrees in _against_differences(op, point, partials, rtol):
            if worst is None or here.error > worst.error:
                worst = here
            if not agrees:
                problems.append(f"d/d(input {here.position + 1}) at {point}: partial {here.analytic:.9g}, "
                                f"central difference {here.numeric:.9g}")
    if checked == 0 and not problems:
        problems.append("no point was inside the domain: give points=")
    return OpCheck(op.name, checked, refused, worst, problems)


def _points_to_try(op: Op, points: Sequence[Sequence[Number]] | None, count: int,
                   seed: int) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
    """The points whose partials are compared (given, or count seeded ones) and the domain's
    edges, where only the forward is tried (none when points are given)."""
    n = _op_arity(op)
    edges = [] if points is not None else [tuple([e] * n) for e in EDGE_POINTS]
    tried = [tuple(float(x) for x in p) for p in points] if points is not None else _spread(n, count, seed)
    for p in tried:
        if op.arity >= 0 and len(p) != op.arity:
            raise ValueError(f"gradcheck_op: {op.name} takes {op.arity} inputs, a point has {len(p)}")
    return tried, edges


def _forward_at(op: Op, point: tuple[float, ...]) -> tuple[float | None, str | None]:
    """(the forward's finite result, None); (None, None) when the point is refused cleanly (a
    domain error, or an infinite result that the engine refuses as an overflow); (None, the
    problem) when it is refused otherwise or the result is not a finite number."""
    try:
        out = op.forward(*point)
    except DOMAIN_ERRORS:
        return None, None
    except Exception as error:  # a forward must refuse its domain's outside cleanly
        return None, (f"forward{point} raised {type(error).__name__}: {error} "
                      "(expected ValueError, ZeroDivisionError or OverflowError)")
    if isinstance(out, (int, float)) and math.isinf(out):
        return None, None  # an overflow: the engine refuses it with an OverflowError naming the op
    if not (isinstance(out, (int, float)) and math.isfinite(out)):
        return None, f"forward{point} returned {out!r}: out of its domain it should raise ValueError"
    return out, None


def _against_differences(op: Op, point: tuple[float, ...], partials: tuple,
                         rtol: float) -> list[tuple[OpPoint, bool]]:
    """Each partial beside the central difference of the forward along its input, where that
    difference is defined, and whether they agree (to rtol, allowing for the difference's error)."""
    found = []
    for i, analytic in enumerate(partials):
        def along(t: float, i: int = i) -> float:
            return op.forward(*point[:i], t, *point[i + 1:])

        d = central_difference(along, point[i])
        if d.defined:
            found.append((OpPoint(point, i, float(analytic), d.value), d.agrees(float(analytic), rtol)))
    return found
