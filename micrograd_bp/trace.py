"""The backward ledger: the walk of backward() (walk.py), named and annotated for reading."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from .engine import Value, topological_order
from .expr import substitute
from .ops import Op
from .paths import is_numbered, reference  # noqa: F401  (is_numbered: the drawing's test)
from .paths import node_names as expression_names
from .walk import backward_steps

MAX_STEPS = 200  # steps that str() and the CLI print before saying how many were left out


def _formulas(op: Op, n: int) -> tuple[str, ...]:
    """Each local derivative of op (on a node with n inputs) as text over a, b, ... and out."""
    return op.formulas_for(n)


def _named_formula(formula: str, op: Op, n: int, input_names: list[str], out_name: str) -> str:
    """The formula over the nodes' own names: out*(1 - out) -> out_o1*(1 - out_o1)."""
    return substitute(formula, {**dict(zip(op.input_names(n), input_names)), "out": out_name})


def ledger_names(root: Value) -> tuple[list[Value], list[str]]:
    """The graph's nodes in topological order, and the name of each: paths.node_names's (a label,
    else what the node computes: `w1*x1`, `0.5`, `tanh(n1)`, else a number `n1` that the drawing
    shows too), so the ledger, the drawing, the page and explain name every node alike."""
    order = topological_order(root)
    odd = [(node, node.label) for node in order if not isinstance(node.label, str)]
    try:  # a label that is not a string (Value labels are meant to be str) is read as its str()
        for node, label in odd:
            node.label = str(label) if label else ""
        by_id = expression_names(root, order)
    finally:
        for node, label in odd:
            node.label = label
    return order, [str(by_id[id(node)]) for node in order]


def _references(node: Value, names: list[str], position: dict[int, int]) -> list[str]:
    """How the formulas of node's local derivatives name its inputs: constants by their value."""
    return [reference(p, names[position[id(p)]]) for p in node.inputs]


def _check_max_steps(max_steps: int) -> int:
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"max_steps must be None or an integer of at least 0, got {max_steps!r}")
    return max_steps


def _num(x: float) -> str:
    return f"{x:.9g}"


def _signed(x: float) -> str:
    """A number as the right operand of + or x: negative ones in parentheses."""
    return f"({x:.9g})" if x < 0 else f"{x:.9g}"


def _plain(name: str) -> bool:
    """Whether a name reads as one word (an identifier), so it needs no parentheses."""
    return name.replace("_", "a").isalnum() and not name[:1].isdigit()


def _grad_of(name: str) -> str:
    """name.grad, the name in parentheses unless it is a plain identifier."""
    return f"{name}.grad" if _plain(name) else f"({name}).grad"


def _self_partial(name: str) -> str:
    """d(root)/d(root): dE/dE, or d(x*y + x)/d(x*y + x) for a name that is an expression."""
    d = f"d{name}" if _plain(name) else f"d({name})"
    return f"{d}/{d}"


@dataclass(frozen=True, repr=False)
class Send:
    """One edge of a step: the upstream gradient times the local derivative, added to an input."""

    to: str  # the input's name
    position: int  # the input's position in the topological order (#k)
    local: float  # d(node)/d(input), from the forward pass
    formula: str  # the local derivative as text over the op's inputs a, b, ... and out
    formula_named: str  # the same over the nodes' names
    amount: float  # local * upstream: what is added
    before: float  # the input's grad before the +=
    after: float  # and after it
    carried: bool = False  # `before` is a leaf's gradient from an earlier backward() pass

    def to_json(self) -> dict:
        return {"to": self.to, "local": self.local, "formula": self.formula,
                "formula_named": self.formula_named, "amount": self.amount, "before": self.before,
                "after": self.after, "carried_over": self.carried}

    def format(self, upstream: float | None = None) -> str:
        """The += as the ledger prints it; with the upstream grad, the amount as local x upstream."""
        note = " (from an earlier pass)" if self.carried else ""
        product = "" if upstream is None else f"{_num(self.local)} x {_signed(upstream)} = "
        return (f"-> {self.to}: local {self.formula_named or self.formula} = {_num(self.local)}; "
                f"amount {product}{_num(self.amount)}; {_grad_of(self.to)} {_num(self.before)}{note} "
                f"+ {_signed(self.amount)} = {_num(self.after)}")

    __repr__ = format  # in the REPL, the ledger's line


@dataclass(frozen=True, repr=False)
class Step:
    """One node processed by backward(): its gradient, final from now on, and what it sends."""

    number: int  # 1, 2, ...
    node: str
    position: int  # #k in the topological order
    op: str  # the op's symbol
    grad: float  # the upstream gradient: d(root)/d(node), complete when the node is processed
    sends: tuple[Send, ...]

    @property
    def skipped(self) -> bool:
        """An upstream gradient of exactly zero sends nothing (backward() skips the node)."""
        return self.grad == 0.0

    def to_json(self) -> dict:
        return {"step": self.number, "node": self.node, "op": self.op, "grad": self.grad,
                "sends": [s.to_json() for s in self.sends]}

    def format(self) -> str:
        """The step as the ledger prints it: the node and its grad, then one line per +=."""
        lines = [f"step {self.number}: {self.node} ({self.op}), grad {_num(self.grad)}"]
        if self.skipped and self.sends:
            lines.append("  its grad is 0: backward() sends nothing (every amount would be 0)")
        else:
            lines.extend(f"  {s.format(self.grad)}" for s in self.sends)
        return "\n".join(lines)

    __repr__ = format  # in the REPL, the ledger's lines


@dataclass(repr=False)
class BackwardTrace:
    """The ledger of one backward() pass from root, in the engine's order, with its exact numbers."""

    root: str
    steps: list[Step]
    earlier: dict[str, float]  # leaves that held a gradient from an earlier pass, and its value
    final: dict[str, float]  # every node's grad after the pass, by name
    nodes: list[Value] = field(repr=False, compare=False)  # topological order: nodes[k] is #k
    names: list[str] = field(repr=False, compare=False)  # names[k] is the name of #k

    def to_json(self, max_steps: int | None = None) -> dict:
        """{"root", "steps": [...], "earlier_grads", "final"}; with max_steps, the first steps and
        "steps_omitted" (how many were left out)."""
        shown = self.steps if max_steps is None else self.steps[:_check_max_steps(max_steps)]
        data = {"root": self.root, "steps": [s.to_json() for s in shown],
                "earlier_grads": self.earlier, "final": self.final}
        if len(shown) < len(self.steps):
            data["steps_omitted"] = len(self.steps) - len(shown)
        return data

    def format(self, max_steps: int | None = MAX_STEPS) -> str:
        """The ledger as text; at most max_steps steps, then how many were left out."""
        if self.nodes and self.nodes[-1].op is None:
            before = self.earlier.get(self.root, 0.0)
            return (f"backward() from {self.root}: a leaf, so no steps: {_self_partial(self.root)} = 1 "
                    f"is added to its grad, {_num(before)} + 1 = {_num(self.final[self.root])}")
        lines = [f"backward() from {self.root}: {len(self.steps)} step{'s' if len(self.steps) != 1 else ''}"
                 f", each node once, in reverse topological order; {_self_partial(self.root)} = 1"]
        if self.earlier:
            lines.append("leaves holding a gradient from an earlier pass start from it (+= adds to it): "
                         + ", ".join(f"{n} = {_num(g)}" for n, g in self.earlier.items()))
        shown = self.steps if max_steps is None else self.steps[:_check_max_steps(max_steps)]
        lines.extend(step.format() for step in shown)
        left = len(self.steps) - len(shown)
        if left:
            lines.append(f"... {left} more step{'s' if left != 1 else ''} not shown")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    __repr__ = __str__  # in the REPL, the text the CLI prints

    def _repr_html_(self) -> str:
        """Jupyter: one table row per send, the += visible."""
        e = html.escape
        rows = []
        for step in self.steps[:MAX_STEPS]:
            head = (f"<td rowspan='{max(1, len(step.sends))}'>{step.number}</td>"
                    f"<td rowspan='{max(1, len(step.sends))}'><b>{e(step.node)}</b> ({e(step.op)})<br>"
                    f"grad {_num(step.grad)}</td>")
            if not step.sends or step.skipped:
                rows.append(f"<tr>{head}<td colspan='4'>sends nothing</td></tr>")
                continue
            for i, s in enumerate(step.sends):
                rows.append(f"<tr>{head if i == 0 else ''}<td>{e(s.to)}</td>"
                            f"<td><code>{e(s.formula_named or s.formula)}</code> = {_num(s.local)}</td>"
                            f"<td>{_num(s.amount)}</td>"
                            f"<td>{_num(s.before)} + {_num(s.amount)} = {_num(s.after)}</td></tr>")
        more = (f"<p>... {len(self.steps) - MAX_STEPS} more steps not shown</p>"
                if len(self.steps) > MAX_STEPS else "")
        return (f"<p>backward() from <b>{e(self.root)}</b>: {len(self.steps)} steps</p>"
                "<table><tr><th>step</th><th>node</th><th>to</th><th>local derivative</th>"
                "<th>amount = local x grad</th><th>grad += amount</th></tr>"
                + "".join(rows) + "</table>" + more)

    def grads_after(self, k: int) -> list[float | None]:
        """Each node's grad (by position) after k steps; None for an interior node not reached yet.

        Step 0 is the moment backward() starts: the root holds 1, interior nodes nothing yet,
        leaves their gradient from earlier passes (0 if none).
        """
        if not 0 <= k <= len(self.steps):
            raise ValueError(f"step must be from 0 to {len(self.steps)}, got {k!r}")
        grads: list[float | None] = [None] * len(self.nodes)
        for position, node in enumerate(self.nodes):
            if node.op is None:
                grads[position] = self.earlier.get(self.names[position], 0.0)
        grads[-1] = 1.0
        for step in self.steps[:k]:
            for s in step.sends:
                grads[s.position] = s.after
        return grads


@dataclass(frozen=True)
class Edge:
    """An edge as the forward pass leaves it: its local derivative is known, no gradient yet."""

    node: str  # the consumer
    to: str  # its input
    formula: str
    formula_named: str
    local: float


def local_derivatives(root: Value) -> list[Edge]:
    """Every edge of the graph with its local derivative, in topological order of the consumers."""
    order, names = ledger_names(root)
    position = {id(node): k for k, node in enumerate(order)}
    found = []
    for k, node in enumerate(order):
        if node.op is None:
            continue
        n = len(node.inputs)
        formulas = _formulas(node.op, n)
        input_names = _references(node, names, position)
        for i, local in enumerate(node.local_grads):
            found.append(Edge(names[k], names[position[id(node.inputs[i])]], formulas[i],
                              _named_formula(formulas[i], node.op, n, input_names, names[k]), local))
    return found


def _same(a: float, b: float) -> bool:
    """Bit for bit: equal with the same sign (0.0 and -0.0 differ), or both nan."""
    if a != a:
        return b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def trace_backward(root: Value) -> BackwardTrace:
    """Run root.backward() and return its ledger: each node processed, each += it made.

    The ledger is the walk of backward()'s loop (walk.backward_steps: its order, its arithmetic),
    named and annotated; then backward() runs for real and every node's grad is compared with the
    ledger's, bit for bit: the ledger is what backward() did.
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace_backward: expected a Value, got {type(root).__name__}")
    order, names = ledger_names(root)
    position = {id(node): k for k, node in enumerate(order)}
    # backward(): interior nodes start from 0 (this pass), leaves keep what they hold, root + 1.
    grads = [0.0 if node.op is not None else node.grad for node in order]
    earlier = {names[k]: g for k, g in enumerate(grads) if order[k].op is None and g != 0.0}
    carried = {k for k, node in enumerate(order) if node.op is None and node.grad != 0.0}
    grads[-1] += 1.0
    try:
        walked = list(backward_steps(root, order))
    except OverflowError:  # backward() stops at the same +=: it raises the same error, leaving the
        root.backward()  # grads as a failed pass leaves them
        raise RuntimeError("the walk overflowed where backward() did not") from None
    steps: list[Step] = []
    for step in walked:
        node, k = step.node, position[id(step.node)]
        n = len(node.inputs)
        formulas = _formulas(node.op, n)
        input_names = _references(node, names, position)
        named = [_named_formula(f, node.op, n, input_names, names[k]) for f in formulas]
        if step.skipped:  # backward() sends nothing: each edge shown with an amount of 0
            sends = [Send(names[j], j, local, formulas[i], named[i], 0.0, grads[j], grads[j])
                     for i, (j, local) in enumerate(zip((position[id(p)] for p in node.inputs),
                                                        node.local_grads))]
        else:
            sends = []
            for i, add in enumerate(step.adds):
                j = position[id(add.target)]
                sends.append(Send(names[j], j, add.local, formulas[i], named[i], add.amount, add.before,
                                  add.after, carried=j in carried))
                grads[j] = add.after
                carried.discard(j)
        steps.append(Step(len(steps) + 1, names[k], k, node.op.symbol, step.upstream, tuple(sends)))
    root.backward()
    for k, node in enumerate(order):
        if not _same(node.grad, grads[k]):
            raise RuntimeError(f"the ledger disagrees with backward() at {names[k]}: {grads[k]!r} "
                               f"against {node.grad!r} (the engine's order has changed)")
    return BackwardTrace(names[-1], steps, earlier, {names[k]: g for k, g in enumerate(grads)},
                         order, names)
