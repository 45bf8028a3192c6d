"""How backward() works, demonstrated with numbers: why +=, why topological order, why zero_grad()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..engine import Value
from ..trace import BackwardTrace, ledger_names, local_derivatives, trace_backward
from . import mazur

MAX_NAIVE_VISITS = 100_000  # a naive recursion visits a node once per path: it can blow up


def mazur_ledger() -> BackwardTrace:
    """The ledger of backward() from E_total on the tutorial's network (targets named target_o1,
    target_o2, as the checker names them)."""
    nodes = mazur.MazurNetwork().forward()
    return trace_backward(nodes["E_total"])


def _table(title: str, columns: tuple[str, ...], rows: dict[str, tuple[float, ...]],
           mark: Callable[[tuple[float, ...]], str] = lambda values: "") -> str:
    """A title, then one line per node: its name and a number per column (9 significant digits)."""
    width = max([4, *map(len, rows)])
    lines = [title, f"  {'node':{width}}" + "".join(f" {c:>16}" for c in columns)]
    for name, values in rows.items():
        lines.append((f"  {name:{width}}" + "".join(f" {v:16.9g}" for v in values) + mark(values)).rstrip())
    return "\n".join(lines)


def _replay(root: Value, combine: Callable[[float, float], float]) -> dict[str, float]:
    """backward()'s order and products, with `combine(old grad, amount)` in place of +=, on fresh
    grads (0 everywhere, 1 at the root); each node's resulting grad, by its ledger name."""
    order, names = ledger_names(root)
    position = {id(node): k for k, node in enumerate(order)}
    grads = [0.0] * len(order)
    grads[-1] = 1.0
    for k in range(len(order) - 1, -1, -1):
        node = order[k]
        if node.op is None or grads[k] == 0.0:
            continue
        for parent, local in zip(node.inputs, node.local_grads):
            j = position[id(parent)]
            grads[j] = combine(grads[j], local * grads[k])
    return dict(zip(names, grads))


@dataclass(frozen=True, repr=False)
class Accumulation:
    """One graph where a node is used twice: its gradient with +=, and what = would give."""

    expression: str
    at: dict[str, float]
    with_add: dict[str, float]  # backward(): every contribution added
    with_assign: dict[str, float]  # the last contribution wins
    ledger: BackwardTrace

    def __repr__(self) -> str:
        at = ", ".join(f"{name}={value:g}" for name, value in self.at.items())
        return _table(f"{self.expression} at {at}: each node's grad", ("with +=", "with ="),
                      {n: (g, self.with_assign[n]) for n, g in self.with_add.items()},
                      lambda v: "   <- = loses a contribution" if v[0] != v[1] else "")


def _accumulation(expression: str, at: dict[str, float], build: Callable[[], Value]) -> Accumulation:
    root = build()
    assign = _replay(root, lambda old, amount: amount)
    ledger = trace_backward(root)
    return Accumulation(expression, at, ledger.final, assign, ledger)


def why_accumulate() -> list[Accumulation]:
    """a + a, a * a and a diamond (f = u*v with u = 2a, v = a + 1): a is used twice, so its
    gradient is the sum of two contributions; an = instead of += keeps only the last one."""
    def plus() -> Value:
        a = Value(3.0, "a")
        return (a + a).named("f")

    def times() -> Value:
        a = Value(3.0, "a")
        return (a * a).named("f")

    def diamond() -> Value:
        a = Value(3.0, "a")
        u, v = (a * 2.0).named("u"), (a + 1.0).named("v")
        return (u * v).named("f")

    return [_accumulation("f = a + a", {"a": 3.0}, plus),
            _accumulation("f = a * a", {"a": 3.0}, times),
            _accumulation("f = u*v, u = a*2, v = a + 1", {"a": 3.0}, diamond)]


def naive_backward(root: Value) -> dict[str, float]:
    """The wrong algorithm: a node, once its own contributions are sent, at once runs the same on
    each input (a recursion, here with an explicit stack), instead of waiting until every consumer
    of the input has sent its share. A node used twice passes its partial sum down too early, and
    its full sum again later. Each node's resulting grad, by ledger name (fresh grads)."""
    order, names = ledger_names(root)
    position = {id(node): k for k, node in enumerate(order)}
    grads = [0.0] * len(order)
    grads[-1] = 1.0
    stack, visits = [root], 0
    while stack:
        node = stack.pop()
        visits += 1
        if visits > MAX_NAIVE_VISITS:
            raise ValueError(f"the naive recursion would visit more than {MAX_NAIVE_VISITS} nodes "
                             "(once per path): choose a smaller graph")
        k = position[id(node)]
        for parent, local in zip(node.inputs, node.local_grads):
            j = position[id(parent)]
            grads[j] += local * grads[k]
        stack.extend(reversed(node.inputs))  # the first input's recursion runs first
    return dict(zip(names, grads))


@dataclass(frozen=True, repr=False)
class OrderComparison:
    """backward() (reverse topological order) against the naive recursion, node by node."""

    title: str
    topological: dict[str, float]
    naive: dict[str, float]

    def wrong(self) -> list[str]:
        """The nodes whose naive gradient differs from backward()'s."""
        return [name for name, g in self.topological.items() if self.naive[name] != g]

    def __repr__(self) -> str:
        return _table(self.title, ("backward()", "naive"),
                      {n: (g, self.naive[n]) for n, g in self.topological.items()},
                      lambda v: "   <- wrong" if v[0] != v[1] else "")


def why_topological_order() -> list[OrderComparison]:
    """f = y*y with y = x + 1 at x = 2 (y used twice), and Mazur's network (out_h1 feeds o1 and
    o2): backward() against a naive recursion."""
    x = Value(2.0, "x")
    y = (x + 1.0).named("y")
    f = (y * y).named("f")
    small = OrderComparison("f = y*y, y = x + 1, at x = 2", trace_backward(f).final, naive_backward(f))
    nodes = mazur.MazurNetwork().forward()
    total = nodes["E_total"]
    naive = naive_backward(total)
    return [small, OrderComparison("Matt Mazur's network, dE_total/d(node)", trace_backward(total).final,
                                   naive)]


@dataclass(frozen=True, repr=False)
class ZeroGradLesson:
    """Mazur's network: one backward(), a second one on the same graph, and zero_grad() then one."""

    first: dict[str, float]
    second: dict[str, float]
    after_zero_grad: dict[str, float]
    second_ledger: BackwardTrace  # it starts from the leaves' grads of the first pass

    def __repr__(self) -> str:
        return _table("Each node's grad after one backward(), a second one, and zero_grad() then one",
                      ("first", "second", "after zero_grad"),
                      {n: (g, self.second[n], self.after_zero_grad[n]) for n, g in self.first.items()},
                      lambda v: "   <- doubled" if v[1] == 2 * v[0] != 0 else "")


def why_zero_grad() -> ZeroGradLesson:
    """A second backward() adds to the leaves' grads (the weights show twice the partial) while
    interior nodes hold this pass's gradient; zero_grad() first gives the partials again."""
    nodes = mazur.MazurNetwork().forward()
    total = nodes["E_total"]
    first = trace_backward(total).final
    second = trace_backward(total)
    total.zero_grad()
    return ZeroGradLesson(first, second.final, trace_backward(total).final, second)


def before_backward(root: Value) -> list[tuple[str, str, str, float]]:
    """What a drawing made before backward() can show: every edge's local derivative (consumer,
    input, formula, value), all known from the forward pass; no gradient yet."""
    return [(edge.node, edge.to, edge.formula_named, edge.local) for edge in local_derivatives(root)]
