"""The catalogue of hand-derivation mistakes: each one's stable id, its wrong values, its message.

One catalogue serves the checker (diagnose.py: a claimed partial d output/d wrt) and the exercises
(exercise.py: a node's gradient d root/d node). Both look at the same thing, a PathGraph of the
partial, and ask: which wrong value, computed from the chain rule's pieces, did the learner write?

`candidates(subject)` lists every wrong value the catalogue knows for one partial, in the order
the mistakes are tried (CATALOGUE's order); the first that matches a learner's number names the
mistake. Each candidate has a `key`, stable across the same graph rebuilt at other points (nodes
by their position in the topological order), so a diagnosis can be required to hold at every
point the checker evaluates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from .engine import Value
from .expr import Expression, parse
from .paths import PathGraph, d, explain, product_text

SUBSET_LIMIT = 10  # subsets of paths (or of a node's terms) are tried up to this many
TERM_LIMIT = 8  # subsets of a node's gradient terms are tried up to this many terms
NEAR = 1e-3  # the checker's near miss: within this, relative
CONFUSABLE_USERS = 8  # a factor replaced by a node beside it: in up to this many other users


@dataclass(frozen=True)
class Mistake:
    """One entry of the catalogue: its stable id, who meets it, and what the learner did."""

    id: str
    where: str  # "both", "checker" or "exercise"
    summary: str


# In the order they are tried: the first that matches names the mistake.
CATALOGUE: tuple[Mistake, ...] = (
    Mistake("right", "exercise", "the answer agrees with the key to 1e-9 relative"),
    Mistake("close", "both", "off only by rounding: an exercise counts it right (within its "
            "tolerance, not to the digits of the key); the checker, whose tolerance is tighter, says "
            "rounded? when it is within 1e-3"),
    Mistake("not-answered", "exercise", "no answer was given"),
    Mistake("carried", "exercise", "wrong only because an upstream answer of the learner's was wrong: "
            "right from the learner's own upstream answers"),
    Mistake("numeric-only", "checker", "equals the central difference but not autograd: the engine's "
            "rule for an op on the way may be wrong"),
    Mistake("no-path", "checker", "the output does not depend on the variable: the partial is 0"),
    Mistake("sign", "both", "the right magnitude with the wrong sign"),
    Mistake("missing-path", "both", "the sum of a strict subset of the chain-rule paths"),
    Mistake("double-count", "both", "one path (or group of paths) counted twice"),
    Mistake("local-only", "both", "one edge's local derivative without the upstream gradient"),
    Mistake("wrong-point", "both", "an activation's derivative evaluated at its input instead of "
            "its output, or the other way round"),
    Mistake("stopped-early", "both", "the chain stops at a node every path passes: the factor from "
            "that node down to the variable is missing"),
    Mistake("missing-upstream", "both", "the chain starts at a node every path passes: the factor "
            "from the output down to that node is missing"),
    Mistake("missing-factor", "both", "off by exactly one edge's local derivative (left out)"),
    Mistake("extra-factor", "both", "off by exactly one edge's local derivative (used twice)"),
    Mistake("wrong-factor", "both", "one factor of a path replaced: by another node's value, or by "
            "part of its own formula (a factor dropped)"),
    Mistake("factor", "both", "off by a constant factor 2, 1/2, n or 1/n (n the number of paths)"),
    Mistake("other-variable", "both", "the partial with respect to another variable (or another "
            "node's gradient)"),
    Mistake("update-step", "exercise", "the step -lr * grad, or the updated weight, instead of the "
            "gradient"),
    Mistake("unknown", "both", "none of the above"),
)
IDS: tuple[str, ...] = tuple(m.id for m in CATALOGUE)
MISTAKES: dict[str, Mistake] = {m.id: m for m in CATALOGUE}


def fmt(x: float) -> str:
    """A number in a message: 9 significant digits (Python's format(x, ".9g")), never -0."""
    return f"{x + 0.0:.9g}"


class Candidate:
    """A wrong value a mistake gives: its id, a key naming exactly which mistake (stable across
    the graph rebuilt at other points), the value, and the message naming nodes and numbers (a
    string, or a function that writes it when it is first read: most candidates never match)."""

    __slots__ = ("id", "key", "value", "_message")

    def __init__(self, id: str, key: str, value: float, message: str | Callable[[], str]) -> None:
        self.id, self.key, self.value, self._message = id, key, value, message

    @property
    def message(self) -> str:
        if not isinstance(self._message, str):
            self._message = self._message()
        return self._message

    def __repr__(self) -> str:
        return f"Candidate({self.id!r}, {self.key!r}, {self.value!r}, {self.message!r})"

    def to_json(self) -> dict:
        return {"id": self.id, "key": self.key, "value": self.value, "message": self.message}


@dataclass
class Subject:
    """One partial to diagnose: its PathGraph (d output/d wrt), and what else a wrong value may be.

    waypoints: the nodes a path is read over (None: every node). others: name -> value of the
    partials (or gradients) a wrong value may equal instead. lr: the learning rate, for
    update-step (None: not tried). numeric: the central difference, when it disagrees with
    autograd (numeric-only)."""

    graph: PathGraph
    waypoints: Collection[Value] | None = None
    others: Mapping[str, float] | None = None
    lr: float | None = None
    numeric: float | None = None
    _positions: dict[int, int] | None = field(default=None, init=False, repr=False)
    _name: str | None = field(default=None, init=False, repr=False)

    @property
    def total(self) -> float:
        return self.graph.partial

    @property
    def name(self) -> str:
        if self._name is None:
            g = self.graph
            self._name = f"d{d(g.name(g.output))}/d{d(g.name(g.wrt))}"
        return self._name

    def position(self, node: Value) -> int:
        """node's position in the graph's topological order (the same in a rebuilt graph)."""
        if self._positions is None:
            self._positions = {id(n): i for i, n in enumerate(self.graph.order)}
        return self._positions[id(node)]


def matches(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    """Does a learner's a match a candidate b: within rtol of the larger, or atol? (finite only)"""
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), atol)


def candidates(s: Subject, ids: Collection[str] | None = None) -> list[Candidate]:
    """Every wrong value the catalogue knows for this partial (of the mistakes `ids` only, if
    given), in the catalogue's order, duplicate keys dropped. An empty list when no path joins
    output and wrt (then the partial is 0)."""
    found: list[Candidate] = []
    keys: set[str] = set()
    if s.graph.n_paths == 0:
        return found
    for mistake, generate in GENERATORS:
        if ids is not None and mistake not in ids:
            continue
        for c in generate(s):
            if c.key not in keys and math.isfinite(c.value):
                keys.add(c.key)
                found.append(c)
    return found


def first_match(found: list[Candidate], value: float, rtol: float, atol: float = 0.0) -> Candidate | None:
    """The first candidate a learner's value matches (the mistake it names), or None."""
    return next((c for c in found if matches(value, c.value, rtol, atol)), None)


# ----------------------------------------------------------------------------- the generators

def _sign(s: Subject) -> Iterator[Candidate]:
    if s.total != 0:
        yield Candidate("sign", "sign", -s.total, f"your value has the wrong sign: {s.name} = "
                        f"{fmt(s.total)}")


def _paths_word(n: int) -> str:
    return "path" if n == 1 else "paths"


def _terms(s: Subject) -> list[tuple[Value, int, float]]:
    """The gradient's terms at wrt: (consumer, input position, d output/d consumer * local)."""
    g = s.graph
    return [(c, i, g.adjoint[id(c)] * local) for c, i, p, local in g.edges() if p is g.wrt]


def _edge_text(s: Subject, consumer: Value, position: int) -> str:
    g = s.graph
    twice = sum(1 for p in consumer.inputs if p is consumer.inputs[position]) > 1
    return g.name(consumer) + (f" (by input {position + 1})" if twice else "")


def _group_message(s: Subject, groups: list[tuple[str, int, float]], through: str, count: int,
                   rest: float) -> str:
    """missing-path's message for the paths through one node alone (the other group named if
    there is one: a search written only for the message that is read)."""
    n = s.graph.n_paths
    other = next((t for t, k, v in groups if k == n - count and matches(v, rest, 1e-12)), None)
    rest_text = (f"the {_paths_word(n - count)} through {other}" if other
                 else f"the other {n - count} {_paths_word(n - count)}")
    return (f"you added only the {_paths_word(count)} through {through} ({count} of {n}); "
            f"{rest_text} {'contributes' if n - count == 1 else 'contribute'} {fmt(rest)}; "
            f"{'both' if n == 2 else f'all {n}'} together give {s.name} = {fmt(s.total)}")


def _missing_path(s: Subject) -> Iterator[Candidate]:
    g, total, n = s.graph, s.total, s.graph.n_paths
    ex = explain(g.output, g.wrt, waypoints=s.waypoints, max_paths=SUBSET_LIMIT + 1, graph=g,
                 formulas=False)
    by_name = {g.name(node): node for node in g.order}
    for through, count, value in ex.groups:
        rest = total - value
        key = f"missing-path:group:{s.position(by_name[through])}" if through in by_name else \
            f"missing-path:group:{through}"
        yield Candidate("missing-path", key, value,
                        lambda through=through, count=count, rest=rest: _group_message(
                            s, ex.groups, through, count, rest))
    terms = _terms(s)
    if 2 <= len(terms) <= TERM_LIMIT:
        for size in range(1, len(terms)):
            for subset in combinations(range(len(terms)), size):
                value = math.fsum(terms[i][2] for i in subset)
                left = [terms[i] for i in range(len(terms)) if i not in subset]
                kept = ", ".join(_edge_text(s, c, i) for c, i, _ in (terms[j] for j in subset))
                missing = ", ".join(f"{_edge_text(s, c, i)} ({fmt(t)})" for c, i, t in left)
                key = "missing-path:terms:" + ",".join(f"{s.position(terms[j][0])}.{terms[j][1]}"
                                                        for j in subset)
                yield Candidate("missing-path", key, value,
                                f"you added only the {_paths_word(size)} through {kept}; the "
                                f"{_paths_word(len(left))} through {missing} "
                                f"{'is' if len(left) == 1 else 'are'} missing: {s.name} = {fmt(total)}")
    if 2 <= n <= SUBSET_LIMIT:
        products = [p.product for p in ex.paths]
        for size in range(1, n):
            for subset in combinations(range(n), size):
                value = math.fsum(products[i] for i in subset)
                listed = ", ".join(str(i + 1) for i in subset)
                rest = [i + 1 for i in range(n) if i not in subset]
                yield Candidate("missing-path", f"missing-path:paths:{listed}", value,
                                f"your value is {_paths_word(size)} {listed} alone (of {n}, see explain); "
                                f"the {_paths_word(len(rest))} {', '.join(map(str, rest))} contribute "
                                f"{fmt(total - value)}: {s.name} = {fmt(total)}")


def _double_count(s: Subject) -> Iterator[Candidate]:
    g, total = s.graph, s.total
    if g.n_paths < 2:
        return
    terms = _terms(s)
    if len(terms) >= 2:
        for c, i, t in terms:
            yield Candidate("double-count", f"double-count:term:{s.position(c)}.{i}", total + t,
                            f"the path through {_edge_text(s, c, i)} ({fmt(t)}) is counted twice: "
                            f"{s.name} = {fmt(total)}")
    for node in reversed(g.order):
        if node is g.output or node is g.wrt or (s.waypoints is not None and node not in s.waypoints
                                                 and not node.label):
            continue
        count, value = g.through(node)
        if 0 < count < g.n_paths:
            yield Candidate("double-count", f"double-count:group:{s.position(node)}", total + value,
                            f"the {_paths_word(count)} through {g.name(node)} ({fmt(value)}) "
                            f"{'is' if count == 1 else 'are'} counted twice: {s.name} = {fmt(total)}")


def _local_only(s: Subject) -> Iterator[Candidate]:
    g = s.graph
    for c, i, p, local in g.edges():
        if p is g.wrt and c is not g.output:
            yield Candidate("local-only", f"local-only:{s.position(c)}.{i}", local,
                            lambda c=c, i=i, p=p, local=local:
                            f"your value is the local derivative d{d(g.name(c))}/d{d(g.name(p))} = "
                            f"{_formula_and_value(g, c, i, local)} alone: the upstream gradient "
                            f"d{d(g.name(g.output))}/d{d(g.name(c))} = {fmt(g.adjoint[id(c)])} is missing "
                            f"(local times upstream); {s.name} = {fmt(s.total)}")


def _replaced(s: Subject, consumer: Value, inp: Value, local: float, new: float) -> float:
    """The partial with the local derivative of one edge replaced by `new`."""
    g = s.graph
    upstream, downstream = g.adjoint[id(consumer)], g.tangent[id(inp)]
    return s.total - upstream * local * downstream + upstream * new * downstream


def _where(s: Subject, consumer: Value, inp: Value, before: str = " (", after: str = ")") -> str:
    """Which paths an edge is on, wrapped in before/after: 'on every path', 'on the 2 of 4 paths
    through a -> b'; nothing when there is one path."""
    g = s.graph
    count, n = g.above[id(consumer)] * g.below[id(inp)], g.n_paths
    if n == 1:
        return ""
    if count == n:
        text = "on every path"
    elif count > 1:
        text = f"on the {count} of {n} paths through {g.name(consumer)} -> {g.name(inp)}"
    else:
        text = f"on the path through {g.name(consumer)} -> {g.name(inp)} (1 of {n})"
    return before + text + after


@lru_cache(maxsize=512)
def _parsed(formula: str) -> Expression:
    return parse(formula)


def _formula_value(formula: str, consumer: Value, bindings: Mapping[str, float] | None = None) -> float:
    """A formula of consumer's op over its inputs' names and out, evaluated at consumer's values (or
    at `bindings` where given)."""
    op = consumer.op
    assert op is not None
    values = dict(zip(op.input_names(len(consumer.inputs)), (p.data for p in consumer.inputs)))
    values["out"] = consumer.data
    values.update(bindings or {})
    expression = _parsed(formula)
    return expression.value({k: v for k, v in values.items() if k in expression.variables})


def _wrong_point(s: Subject) -> Iterator[Candidate]:
    g = s.graph
    for c, i, p, local in g.edges():
        op = c.op
        if op is None or len(c.inputs) != 1:
            continue
        formula = op.formulas_for(1)[0]
        if "out" not in _parsed(formula).variables:
            continue
        a = op.input_names(1)[0]
        try:
            at_input = _formula_value(formula, c, {"out": p.data})
            at_output = _formula_value(formula, c, {a: c.data, "out": op.forward(c.data)})
        except (ValueError, OverflowError, ZeroDivisionError):
            continue
        for label, new in (("input", at_input), ("output", at_output)):
            if not matches(new, local, 1e-12):
                yield Candidate("wrong-point", f"wrong-point:{s.position(c)}.{label}",
                                _replaced(s, c, p, local, new),
                                lambda c=c, i=i, p=p, local=local, label=label, new=new:
                                _wrong_point_message(s, c, i, p, local, label, new))


def _wrong_point_message(s: Subject, c: Value, i: int, p: Value, local: float, label: str,
                         new: float) -> str:
    g = s.graph
    name, inner = g.name(c), g.name(p)
    how = f"at its input {inner} = {fmt(p.data)}" if label == "input" else \
        f"at its output {name} = {fmt(c.data)}"
    assert c.op is not None
    return (f"{c.op.name}'s derivative taken {how}: you used {fmt(new)} where "
            f"d{d(name)}/d{d(inner)} = {_formula_and_value(g, c, i, local)}{_where(s, c, p)}; "
            f"{s.name} = {fmt(s.total)}")


def _chain_cuts(s: Subject) -> Iterator[tuple[Value, float, float]]:
    """Nodes every path passes (nearest the output first), with d output/d node and d node/d wrt."""
    g = s.graph
    ways = None if s.waypoints is None else {id(w) for w in s.waypoints}
    for node in reversed(g.order):
        if node is g.output or node is g.wrt or g.through(node)[0] != g.n_paths or \
                (ways is not None and id(node) not in ways):
            continue
        yield node, g.adjoint[id(node)], g.tangent[id(node)]


def _below_formula(s: Subject, node: Value) -> str:
    """d node/d wrt as a formula over the names, when one path joins them; else ''."""
    g = s.graph
    if g.below[id(node)] != 1:
        return ""
    texts, current = [], node
    while current is not g.wrt:
        i = next(i for i, p in enumerate(current.inputs) if g.reach[id(p)])
        texts.append(g.formula(current, i))
        current = current.inputs[i]
    return product_text(texts)


def _stopped_early(s: Subject) -> Iterator[Candidate]:
    g = s.graph
    out, wrt = d(g.name(g.output)), d(g.name(g.wrt))

    def message(node: Value, upper: float, lower: float) -> str:
        v = d(g.name(node))
        formula = _below_formula(s, node)
        shown = f" = {formula}" if formula and formula != fmt(lower) else ""
        return (f"your value is d{out}/d{v} = {fmt(upper)}: the chain stops at {g.name(node)}; "
                f"the factor d{v}/d{wrt}{shown} = {fmt(lower)} is missing; {s.name} = {fmt(s.total)}")

    for node, upper, lower in _chain_cuts(s):
        yield Candidate("stopped-early", f"stopped-early:{s.position(node)}", upper,
                        lambda node=node, upper=upper, lower=lower: message(node, upper, lower))


def _missing_upstream(s: Subject) -> Iterator[Candidate]:
    g = s.graph
    out, wrt = d(g.name(g.output)), d(g.name(g.wrt))
    for node, upper, lower in _chain_cuts(s):
        yield Candidate("missing-upstream", f"missing-upstream:{s.position(node)}", lower,
                        lambda node=node, upper=upper, lower=lower:
                        f"your value is d{d(g.name(node))}/d{wrt} = {fmt(lower)}: the factor "
                        f"d{out}/d{d(g.name(node))} = {fmt(upper)} above {g.name(node)} is missing; "
                        f"{s.name} = {fmt(s.total)}")


def _edge_factors(s: Subject, kind: str) -> Iterator[Candidate]:
    g = s.graph
    for c, i, p, local in g.edges():
        if local in (1.0, 0.0) or (local == -1.0 and kind == "extra-factor"):
            continue
        new = 1.0 if kind == "missing-factor" else local * local
        what = "is missing" if kind == "missing-factor" else "is used twice"
        yield Candidate(kind, f"{kind}:{s.position(c)}.{i}", _replaced(s, c, p, local, new),
                        lambda c=c, i=i, p=p, local=local, what=what:
                        f"the factor d{d(g.name(c))}/d{d(g.name(p))} = {_formula_and_value(g, c, i, local)} "
                        f"{what}{_where(s, c, p)}; {s.name} = {fmt(s.total)}")


def _formula_and_value(g: PathGraph, consumer: Value, position: int, local: float) -> str:
    """"w = 0.5", or "0.5" alone when the formula is the number."""
    text = g.formula(consumer, position)
    return fmt(local) if text == fmt(local) else f"{text} = {fmt(local)}"


def _formula_is(text: str, value: float) -> str:
    """"out_h1 = 0.593" ; a number alone when the text is that number."""
    return text if text == fmt(value) else f"{text} = {fmt(value)}"


def _missing_factor(s: Subject) -> Iterator[Candidate]:
    return _edge_factors(s, "missing-factor")


def _extra_factor(s: Subject) -> Iterator[Candidate]:
    return _edge_factors(s, "extra-factor")


def _split_product(formula: str) -> list[str]:
    """A formula's factors at its top level: "out*(1 - out)" -> ["out", "(1 - out)"] (not at **)."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(formula):
        ch = formula[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "*" and depth == 0:
            if formula[i:i + 2] == "**" or formula[i - 1] == "*":
                i += 2 if formula[i:i + 2] == "**" else 1
                continue
            pieces.append(formula[start:i])
            start = i + 1
        elif ch in "+-/" and depth == 0 and i > 0:
            return [formula]  # a sum or a quotient at the top: not a product
        i += 1
    pieces.append(formula[start:])
    return [p.strip() for p in pieces]


def _bare(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _wrong_factor(s: Subject) -> Iterator[Candidate]:
    g = s.graph
    labelled = {g.name(n): n for n in g.order if n.label}
    users = _users(g.order)
    for c, i, p, local in g.edges():
        assert c.op is not None
        edge = f"d{d(g.name(c))}/d{d(g.name(p))}"
        text, where = g.formula(c, i), _where(s, c, p, "", ", the factor ") or "the factor "
        named = labelled.get(text)  # the factor is one named node (w7): another may be written for it
        head = f"{where}{edge} = {_formula_is(text, local)}"
        for node in _confusable(named, c, p, users) if named is not None else ():
            if node.data == local:
                continue
            yield Candidate("wrong-factor", f"wrong-factor:{s.position(c)}.{i}:node{s.position(node)}",
                            _replaced(s, c, p, local, node.data),
                            lambda head=head, node=node: f"{head} was replaced by {g.name(node)} = "
                            f"{fmt(node.data)}; {s.name} = {fmt(s.total)}")
        raw = c.op.formulas_for(len(c.inputs))[i]
        pieces = _split_product(raw)
        if len(pieces) < 2:
            continue
        names = {name: g.name(q) for name, q in zip(c.op.input_names(len(c.inputs)), c.inputs)}
        names["out"] = g.name(c)
        for j, piece in enumerate(pieces):
            rest = "*".join(q for k, q in enumerate(pieces) if k != j)
            try:
                new = _formula_value(rest, c)
                dropped = _formula_value(piece, c)
            except (ValueError, OverflowError, ZeroDivisionError):
                continue
            shown_piece = _parsed(_bare(piece)).render(names)
            shown_rest = _parsed(rest).render(names)
            yield Candidate("wrong-factor", f"wrong-factor:{s.position(c)}.{i}:drop{j}",
                            _replaced(s, c, p, local, new),
                            f"{where}{edge} = {_formula_is(text, local)} lost its factor "
                            f"{_formula_is(shown_piece, dropped)}: you used {_formula_is(shown_rest, new)}; "
                            f"{s.name} = {fmt(s.total)}")


def _users(order: list[Value]) -> dict[int, list[Value]]:
    """The nodes that use each node, by id."""
    users: dict[int, list[Value]] = {}
    for node in order:
        for p in node.inputs:
            users.setdefault(id(p), []).append(node)
    return users


def _confusable(named: Value, consumer: Value, inp: Value, users: Mapping[int, list[Value]]) -> list[Value]:
    """The labelled nodes a learner may write for `named` (the local derivative of consumer's edge
    from inp), of the same role: the consumer's other inputs, and in up to CONFUSABLE_USERS other
    nodes that use inp, the inputs next to it (w6 or w8 for w7 at net_o2 -> out_h1)."""
    found: dict[int, Value] = {}

    def take(nodes: Iterable[Value]) -> None:
        for q in nodes:
            if q.label and q is not named and q is not inp and _role(q) == _role(named):
                found.setdefault(id(q), q)

    take(consumer.inputs)
    for user in [u for u in users.get(id(inp), []) if u is not consumer][:CONFUSABLE_USERS]:
        for k, q in enumerate(user.inputs):
            if q is inp:
                take(user.inputs[max(0, k - 2):k + 3])
    return list(found.values())


def _role(node: Value) -> str:
    """What a node is, for a slip that writes one name for another: a leaf, or an op's output."""
    return "leaf" if node.op is None else node.op.name


def _factor(s: Subject) -> Iterator[Candidate]:
    n = s.graph.n_paths
    factors = [(2.0, "2", "twice"), (0.5, "1/2", "half")]
    if n >= 3:
        factors += [(float(n), str(n), f"{n} times"), (1.0 / n, f"1/{n}", f"1/{n} of")]
    square = _has_square(s.graph)
    for k, text, word in factors:
        hint = (" (a squared error's 1/2 is there to cancel the 2 of the square: is it missing?)"
                if square and text == "2" else "")
        yield Candidate("factor", f"factor:{text}", k * s.total,
                        f"your value is {word} {s.name} = {fmt(s.total)}: off by a factor of {text}{hint}")


def _has_square(graph: PathGraph) -> bool:
    return any(n.op is not None and (n.op.exponent == 2 or (len(n.inputs) == 2 and n.op.name == "mul"
                                                            and n.inputs[0] is n.inputs[1]))
               for n in graph.order)


def _other_variable(s: Subject) -> Iterator[Candidate]:
    wrt = s.graph.name(s.graph.wrt)
    for name, value in (s.others or {}).items():
        if name != wrt and value != 0.0:
            yield Candidate("other-variable", f"other-variable:{name}", value,
                            f"your value is the partial with respect to {name} ({fmt(value)}), "
                            f"not {wrt}: {s.name} = {fmt(s.total)}")


def _update_step(s: Subject) -> Iterator[Candidate]:
    g, lr = s.graph, s.lr
    if lr is None or not g.wrt.is_leaf:
        return
    w, grad, name = g.wrt.data, s.total, g.name(g.wrt)
    for key, value, what in (("step", -lr * grad, f"the step -lr*{s.name} = -{lr:g}*{fmt(grad)}"),
                             ("scaled", lr * grad, f"lr*{s.name} = {lr:g}*{fmt(grad)}"),
                             ("updated", w - lr * grad,
                              f"the updated {name} = {fmt(w)} - {lr:g}*{fmt(grad)}")):
        yield Candidate("update-step", f"update-step:{key}", value,
                        f"your value is {what} = {fmt(value)}, not the gradient {s.name} = {fmt(grad)}")


# Each mistake's candidates, in the catalogue's order.
GENERATORS: tuple[tuple[str, Callable[[Subject], Iterator[Candidate]]], ...] = (
    ("sign", _sign), ("missing-path", _missing_path), ("double-count", _double_count),
    ("local-only", _local_only), ("wrong-point", _wrong_point), ("stopped-early", _stopped_early),
    ("missing-upstream", _missing_upstream), ("missing-factor", _missing_factor),
    ("extra-factor", _extra_factor), ("wrong-factor", _wrong_factor), ("factor", _factor),
    ("other-variable", _other_variable), ("update-step", _update_step),
)


def near_miss(s: Subject, value: float, rtol: float) -> Candidate | None:
    """The checker's near miss: within NEAR (relative) of the partial, but outside rtol."""
    total = s.total
    if math.isfinite(total) and total != 0 and matches(value, total, NEAR):
        off = abs(value - total) / max(abs(value), abs(total))
        mantissa, _, exponent = f"{off:.0e}".partition("e")
        return Candidate("close", "close", total, f"close: off by {mantissa}e{int(exponent)} relative; "
                         f"rounded? {s.name} = {fmt(total)} (the tolerance is {rtol:g} relative)")
    return None
