"""Compiled replay: trace a graph once, then replay forward and backward as generated Python."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable

from .engine import Number, Value, finite_float, topological_order
from .nn import descend
from .ops import OPS, Op, Replay, _literal

# The largest graph compile_graph takes: compiling the generated code peaks at 12-30 KB a node
# (tracemalloc: 12 KB for a chain, 28 KB for the moons MLP step), so 20,000 nodes stay under 600 MB.
MAX_NODES = 20_000


class ShapeError(ValueError):
    """The replay cannot reproduce the traced graph: wrong inputs, or a graph of another shape."""


class _Redo(Exception):
    """Raised by generated code where the eager engine would raise: the checked path takes over."""


class _General(Exception):
    """Raised by the usual forward_backward when a leaf's .grad is not zero: the general one runs."""


# ----------------------------------------------------------------------------- the templates
# Each op's replay template is a field of its record (Op.replay, an ops.Replay); an op without one
# (a user's) is replayed by calling its own forward and partials: the same floats, bit for bit.

# Python's own errors (division by zero, log of 0, exp and ** overflow) also send the pass to the
# checked path, which raises the eager engine's exception and message.
_FAST_ERRORS = (_Redo, ArithmeticError, ValueError)
_NAMESPACE = {**{name: getattr(math, name) for name in dir(math) if not name.startswith("_")},  # all of math
              "_Redo": _Redo, "_General": _General}
_FAST_NAMES = ", exp=exp, log=log, tanh=tanh"  # the math functions as fast locals


def _calling_template(op: Op, arity: int) -> Replay:
    """Replay of an op with no template: a call of its forward, and of its partials per input."""
    args = ", ".join(f"{{{i}}}" for i in range(arity))
    return Replay(f"{{out}} = _forward_{op.name}({args})",
                  tuple(f"_partials_{op.name}({args}, {{out}})[{i}]" for i in range(arity)),
                  overflows=True, partials_raise=True, finite_partials=False)


def _op_functions() -> dict[str, Callable]:
    """The forwards and partials of the ops replayed by calling them, by the names the code uses."""
    functions: dict[str, Callable] = {}
    for op in OPS.values():
        if op.replay is None:
            functions[f"_forward_{op.name}"] = op.forward
            functions[f"_partials_{op.name}"] = op.partials
    return functions


def template_for(op: Op, arity: int) -> Replay:
    """The replay template of one node's op (linear and powc depend on the node)."""
    if op.name == "powc" and op.exponent is None:
        raise ValueError("compile_graph: a powc op without its exponent (build it with ops.power_op)")
    if op.replay is None:
        if OPS.get(op.name) is not op:
            raise ValueError(f"compile_graph: the op {op.name!r} is not registered (register_op) and "
                             "has no replay template")
        return _calling_template(op, arity)
    return op.replay if isinstance(op.replay, Replay) else op.replay(op, arity)


def _number_or_none(text: str) -> float | None:
    """The number a partial's source text is, if it is one (a constant input, 1.0, -1.0)."""
    try:
        return float(text.strip("()"))
    except ValueError:
        return None


# ----------------------------------------------------------------------------- code generation


_Term = tuple[int, str, str, "float | None"]  # input, sign, local * upstream as code, or its number


@dataclass
class _Pass:
    """Writing one backward pass: each node's grad variable, whether leaves' .grad accumulate (G)
    or start the pass (from_grads), the grads started (written once) and those known as numbers."""

    grad: dict[int, str]
    accumulate: bool
    from_grads: bool
    started: set[int] = field(default_factory=set)
    known: dict[int, float] = field(default_factory=dict)


class _Code:
    """The generated source of a graph, from its structure and repr()'d numbers only."""

    def __init__(self, order: list[Value], index: dict[int, int], inputs: list[int],
                 folded: dict[int, float]) -> None:
        self.order, self.index, self.inputs = order, index, inputs
        self.slot = {k: i for i, k in enumerate(inputs)}
        self.names = [_literal(folded[k]) if k in folded else f"v{k}" for k in range(len(order))]
        self.root = len(order) - 1
        self.live = [k for k, node in enumerate(order) if node.op is not None and k not in folded]
        self.templates = {k: template_for(order[k].op, len(order[k].inputs)) for k in self.live}
        needs = [False] * len(order)  # does the node's gradient reach a leaf of the replay?
        for k, node in enumerate(order):
            needs[k] = k in self.slot or (k not in folded and any(needs[index[id(p)]] for p in node.inputs))
        self.needs = needs
        self.forward = self._forward_lines()

    def _args(self, k: int) -> tuple[list[str], dict[str, str]]:
        return [self.names[self.index[id(p)]] for p in self.order[k].inputs], {"out": f"v{k}", "t": f"t{k}"}

    def _forward_lines(self) -> list[str]:
        lines: list[str] = []
        for k in self.live:
            tpl = self.templates[k]
            args, fmt = self._args(k)
            if tpl.redo_if:
                lines.append(f"if {tpl.redo_if.format(*args, **fmt)}: raise _Redo")
            lines += tpl.forward.format(*args, **fmt).split("\n")
        return lines + self._finite_check()

    def _finite_check(self) -> list[str]:
        """Eager raises OverflowError at the first inf or nan; here one sum of the values that may be
        non-finite (a leaf's data, a result of + - * / or linear), leaving out those that would make
        a checked later value non-finite too, is checked once after the forward pass."""
        covered = [False] * len(self.order)
        covered[self.root] = True
        risky = {k for k in self.live if self.templates[k].overflows} | set(self.inputs)
        for k in reversed(self.live):
            if not (covered[k] or k in risky):  # a risky node is checked or covered itself
                continue
            positions = self.templates[k].propagates
            for i, parent in enumerate(self.order[k].inputs):
                if positions is None or i in positions:
                    covered[self.index[id(parent)]] = True
        checked = sorted({self.root, *(k for k in risky if not covered[k])})
        return _sum_check([self.names[k] for k in checked if self.names[k][0] not in "(0123456789"])

    def _partials_check(self) -> list[str]:
        """Partials that can raise (pow, powc): forward() computes them, as eager does."""
        lines = []
        for k in self.live:
            args, fmt = self._args(k)
            if self.templates[k].partials_raise:
                lines += [f"_ = {p.format(*args, **fmt)}" for p in self.templates[k].partials]
        return lines

    def _backward_lines(self, accumulate: bool, from_grads: bool = False) -> list[str]:
        """Reverse topological order; each edge adds local * upstream to its input's grad, in input
        order, as Value.backward. Eager skips a node whose grad is exactly 0.0: here too, wherever
        skipping could change a bit (a partial that may be inf, a leaf .grad that may be -0.0);
        elsewhere the terms it skips are +-0.0 added to a grad that is never -0.0: no change.
        P is this pass's gradient of leaf i, from 0.0 (from_grads: from G, the .grad read before);
        G (accumulate) its .grad plus the pass."""
        grads = {k: f"g{k}" for k in self.live}
        grads.update({k: f"P{i}" for k, i in self.slot.items()})
        state = _Pass(grads, accumulate, from_grads)
        lines = self._seed_lines(state)
        for k in reversed(self.live):
            if not self.needs[k]:
                continue
            up = state.known.pop(k, None)
            if up == 0.0 or (up is None and k not in state.started):
                continue  # its grad is exactly 0.0 (nothing reached it): eager skips it too
            upstream = state.grad[k] if up is None else _literal(up)
            lines += self._node_lines(k, up, upstream, state)
        lines += [f"P{i} = {_literal(state.known.get(k, 0.0))}" for k, i in self.slot.items()
                  if k not in state.started]
        return lines

    def _seed_lines(self, state: _Pass) -> list[str]:
        """The pass's start: G read from the leaves (accumulate), P from G (from_grads), and the
        output's own gradient 1.0 (written when the output is a leaf, known otherwise).

        Every grad starts at 0.0, as in Value.backward: the first term written unguarded is
        "g = 0.0 + term" (0.0 + -0.0 is 0.0: the same bits); a grad first reached inside a guard
        is set to 0.0 before it. A grad known here (the seed 1.0, times constant partials) is
        summed here, by the same float operations, and written as a number."""
        root, slot, n = self.root, self.slot, len(self.inputs)
        lines = [f"G{i} = L{i}.grad" for i in range(n)] if state.accumulate else []
        if state.from_grads:
            lines += [f"P{i} = G{i}" for i in range(n)]
            state.started.update(slot)
        if root in slot:  # the output is itself a leaf
            lines += [f"P{slot[root]} = 1.0"] + ([f"G{slot[root]} += 1.0"] if state.accumulate else [])
            state.started.add(root)
        elif self.needs[root]:
            state.known[root] = 1.0
        return lines

    def _edge_terms(self, k: int, up: float | None, upstream: str) -> list[_Term]:
        """Node k's terms, one per input that needs a grad: (input, sign, local * upstream as code,
        or as a number when both are known here)."""
        args, fmt = self._args(k)
        terms: list[_Term] = []
        for parent, partial in zip(self.order[k].inputs, self.templates[k].partials):
            j = self.index[id(parent)]
            if not self.needs[j]:
                continue
            local = partial.format(*args, **fmt)
            value = None if up is None else _number_or_none(local)
            if value is not None:
                terms.append((j, "+", "", value * up))
            elif partial in ("1.0", "-1.0"):
                terms.append((j, "-" if partial == "-1.0" else "+", upstream, None))
            else:
                terms.append((j, "+", f"({local}) * {upstream}", None))
        return terms

    def _node_lines(self, k: int, up: float | None, upstream: str, state: _Pass) -> list[str]:
        """Node k's += to each input, guarded by `if upstream:` where skipping could change a bit,
        and where it saves work (a relu that is off zeroes the grads of its whole neuron)."""
        terms = self._edge_terms(k, up, upstream)
        touches_leaf = (state.accumulate or state.from_grads) and any(j in self.slot for j, *_ in terms)
        guard = up is None and (touches_leaf or not self.templates[k].finite_partials or len(terms) > 8)
        lines = []
        if guard:
            for j in dict.fromkeys(j for j, *_ in terms):
                if j not in state.started:
                    lines.append(f"{state.grad[j]} = {_literal(state.known.pop(j, 0.0))}")
                    state.started.add(j)
            lines.append(f"if {upstream}:")
        pad = "    " if guard else ""
        for term in terms:
            lines += [pad + line for line in self._term_lines(term, upstream, state)]
        return lines

    def _term_lines(self, term: _Term, upstream: str, state: _Pass) -> list[str]:
        """One input's += (and its G +=, accumulating into a leaf); a number known here is summed
        here until the input's grad is started."""
        j, sign, code, value = term
        lines = []
        if value is not None:
            code = _literal(value)
            if j not in state.started:
                state.known[j] = state.known.get(j, 0.0) + value
        if state.accumulate and j in self.slot:
            if code not in (upstream, _literal(value) if value is not None else ""):
                lines.append(f"t = {code}")
                code = "t"
            lines.append(f"G{self.slot[j]} {sign}= {code}")
        if value is not None and j not in state.started:
            return lines
        if j in state.started:
            lines.append(f"{state.grad[j]} {sign}= {code}")
        else:
            lines.append(f"{state.grad[j]} = {_literal(state.known.pop(j, 0.0))} {sign} {code}")
            state.started.add(j)
        return lines

    def _unpack(self) -> list[str]:
        n = len(self.inputs)
        return [", ".join(f"L{i}" for i in range(n)) + ", = L"] if n else []

    def _reads(self) -> list[str]:
        return [f"v{k} = L{i}.data" for i, k in enumerate(self.inputs)]

    def forward_source(self) -> str:
        body = self._unpack() + self._reads() + self.forward + self._partials_check()
        return _function("forward", "L" + _FAST_NAMES, body + [f"return {self.names[self.root]}"])

    def forward_backward_source(self, general: bool = False) -> str:
        """Forward and backward, the grads added into the leaves' .grad, the pass's returned.

        Most passes start from zeroed grads: then one sum per leaf, started from its .grad (0.0
        or -0.0), is both the new .grad and, after 0.0 + (which turns -0.0 into 0.0 and changes
        nothing else), the pass's gradient from 0.0. A leaf .grad that is not zero raises
        _General, and the general version keeps the two sums apart.
        """
        n = len(self.inputs)
        # Eager raises OverflowError where a gradient leaves the float range; here a non-finite
        # gradient reaches some leaf's (inf and nan propagate down every edge): one check at the end.
        if general:
            backward = (self._backward_lines(True) + _sum_check([f"P{i}" for i in range(n)]
                                                               + [f"G{i}" for i in range(n)])
                        + [f"L{i}.grad = G{i}" for i in range(n)])
            grads = "".join(f"P{i}, " for i in range(n))
            check = []
        else:
            backward = (self._backward_lines(False, from_grads=True) + _sum_check([f"P{i}" for i in range(n)])
                        + [f"L{i}.grad = P{i}" for i in range(n)])
            grads = "".join(f"0.0 + P{i}, " for i in range(n))
            check = [f"G{i} = L{i}.grad" for i in range(n)]
            check += [f"if {' or '.join(f'G{i}' for i in range(n))}: raise _General"] if n else []
        body = (self._unpack() + check + self._reads() + self.forward + backward
                + [f"return {self.names[self.root]}, ({grads})"])
        return _function("forward_backward", "L" + _FAST_NAMES, body)

    def sgd_source(self, trained: list[int]) -> str:
        """steps times: forward, backward from zero grads, the output appended, p.data -= lr * p.grad.

        The leaves are read once and kept in locals. A step that raises stops the loop: the steps
        completed are written back (and appended), and the caller redoes that step on the eager path
        (which raises the eager engine's error, or says the learning rate is too large).
        """
        n = len(self.inputs)
        # The new values are checked before they are kept: one sum of them and of the untrained
        # leaves' gradients (a trained leaf's inf or nan gradient makes its new value one too).
        updates = [f"u{i} = v{self.inputs[i]} - lr * P{i}" for i in trained]
        untrained = [f"P{i}" for i in range(n) if i not in set(trained)]
        step = (self.forward + self._backward_lines(False) + updates
                + _sum_check([f"u{i}" for i in trained] + untrained) + [f"append({self.names[self.root]})"]
                + [f"v{self.inputs[i]} = u{i}" for i in trained])
        body = (self._unpack() + self._reads() + [f"P{i} = L{i}.grad" for i in range(n)]
                + ["try:", "    for _ in range(steps):"] + ["        " + line for line in step]
                + ["except (_Redo, ArithmeticError, ValueError):", "    pass"]
                + [f"L{i}.data = v{self.inputs[i]}" for i in trained]
                + [f"L{i}.grad = P{i}" for i in range(n)])
        return _function("sgd", "L, steps, lr, append" + _FAST_NAMES, body)


def _sum_check(terms: list[str]) -> list[str]:
    """Lines raising _Redo unless every term is finite: one sum, checked by c - c (0.0 for a finite c,
    nan otherwise). A sum that overflows with finite terms also redoes the pass on the eager path,
    which then finds nothing wrong: slower, the same numbers."""
    if not terms:
        return []
    chunks = [" + ".join(terms[i:i + 50]) for i in range(0, len(terms), 50)]  # shallow trees
    return [f"c = {chunks[0]}"] + [f"c += {chunk}" for chunk in chunks[1:]] + ["if c - c != 0.0: raise _Redo"]


def _function(name: str, params: str, body: list[str]) -> str:
    return f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)


def _build(source: str, name: str) -> Callable:
    namespace = {**_NAMESPACE, **_op_functions()}
    exec(compile(source, f"<compiled replay: {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]
# ----------------------------------------------------------------------------- the API


class _Slot:
    """A leaf's stand-in when values are given: the data to use and the grad to add into."""

    __slots__ = ("data", "grad")

    def __init__(self, data: float, grad: float) -> None:
        self.data, self.grad = data, grad


class CompiledGraph:
    """A traced graph replayed by generated code: forward, forward_backward, gradients, sgd_steps."""

    def __init__(self, root: Value, order: list[Value], index: dict[int, int], inputs: list[int],
                 constants: dict[int, float], folded: dict[int, float]) -> None:
        self.root = root
        self.leaves = [order[k] for k in inputs]
        self.n_nodes = len(order)
        self._order = order
        self._index = index
        self._inputs = inputs
        self._constants = constants  # leaf position -> its value, baked in at compile time
        self._code = _Code(order, index, inputs, folded)
        self._forward_backward: Callable | None = None  # each function is built on first use
        self._forward_backward_general: Callable | None = None
        self._forward: Callable | None = None
        self._sgd: dict[tuple[int, ...], Callable] = {}
        self._grads: tuple[float, ...] | None = None

    @property
    def source(self) -> str:
        """The generated Python of forward_backward (leaves are L0, L1, ...; node k's value vk)."""
        return self._code.forward_backward_source()

    # -- replay

    def forward(self, values: Sequence[Number] | Mapping[str | Value, Number] | None = None) -> float:
        """The output for the leaves' current data (values=None) or the values given."""
        if self._forward is None:
            self._forward = _build(self._code.forward_source(), "forward")
        slots = self.leaves if values is None else self._slots(values)
        try:
            return self._forward(slots)
        except _FAST_ERRORS:
            return self._eager(slots, backward=False)[0]

    def forward_backward(self, values: Sequence[Number] | Mapping[str | Value, Number] | None = None
                         ) -> float:
        """Forward and backward: adds d(output)/d(leaf) into each leaf's .grad; returns the output."""
        if values is None:
            slots = self.leaves
        else:
            slots = self._slots(values)
        if self._forward_backward is None:
            self._forward_backward = _build(self._code.forward_backward_source(), "forward_backward")
        try:
            try:
                out, self._grads = self._forward_backward(slots)
            except _General:  # a leaf's .grad is not zero: the sums of .grad and of the pass differ
                if self._forward_backward_general is None:
                    self._forward_backward_general = _build(
                        self._code.forward_backward_source(general=True), "forward_backward")
                out, self._grads = self._forward_backward_general(slots)
        except _FAST_ERRORS:
            out, self._grads = self._eager(slots, backward=True)
        if values is not None:
            for leaf, slot in zip(self.leaves, slots):
                leaf.grad = slot.grad
        return out

    def gradients(self) -> list[float]:
        """The last pass's d(output)/d(leaf), aligned with .leaves (whatever .grad had before)."""
        if self._grads is None:
            raise RuntimeError("gradients: no backward pass yet (call forward_backward() first)")
        return list(self._grads)

    def sgd_steps(self, steps: int, lr: float, params: Sequence[Value] | None = None) -> list[float]:
        """steps steps of gradient descent in one generated loop; the output before each update.

        Each step is exactly: every leaf's grad set to 0.0, forward_backward(), then
        p.data -= lr * p.grad for each of params (default: every leaf). Afterwards the leaves'
        .grad hold the last step's gradients.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"sgd_steps: steps must be a non-negative integer, got {steps!r}")
        lr = finite_float(lr, "sgd_steps: the learning rate")
        trained = tuple(range(len(self.leaves))) if params is None else self._positions(params)
        if trained not in self._sgd:
            self._sgd[trained] = _build(self._code.sgd_source(list(trained)), "sgd")
        losses: list[float] = []
        while len(losses) < steps:
            self._sgd[trained](self.leaves, steps - len(losses), lr, losses.append)
            if len(losses) < steps:  # a step the fast loop could not finish: the checked path
                for leaf in self.leaves:
                    leaf.grad = 0.0
                loss = self.forward_backward()
                descend([self.leaves[i] for i in trained], lr)  # raises if lr is too large
                losses.append(loss)
        if steps:
            self._grads = tuple(leaf.grad for leaf in self.leaves)
        return losses

    def check(self, root: Value) -> None:
        """Raise ShapeError unless root's graph has this graph's shape, leaf labels and constants."""
        order = topological_order(root)
        if len(order) != len(self._order):
            raise ShapeError(f"the graph has {len(order)} nodes, the compiled one {len(self._order)}: "
                             "its shape changed (Python control flow on data?)")
        old_index = {id(n): k for k, n in enumerate(self._order)}
        new_index = {id(n): k for k, n in enumerate(order)}
        for k, (old, new) in enumerate(zip(self._order, order)):
            if (old.op is None) != (new.op is None) or (
                    old.op is not None and (old.op.name != new.op.name
                                            or _signature(old.op) != _signature(new.op))):
                raise ShapeError(f"node {k} is {_describe(new)}, it was {_describe(old)} when compiled")
            if old.op is None and old.label != new.label:  # the same place, another variable
                raise ShapeError(f"leaf {k} is {_describe(new)}, it was {_describe(old)} when compiled")
            if [old_index[id(p)] for p in old.inputs] != [new_index[id(p)] for p in new.inputs]:
                raise ShapeError(f"node {k} ({_describe(new)}) has other inputs than when compiled")
            if k in self._constants and new.data != self._constants[k]:
                raise ShapeError(f"the constant at node {k} is {new.data!r}, it was compiled as "
                                 f"{self._constants[k]!r}")

    # -- helpers

    def _positions(self, params: Sequence[Value]) -> tuple[int, ...]:
        position = {id(leaf): i for i, leaf in enumerate(self.leaves)}
        out = []
        for p in params:
            if id(p) not in position:
                raise ShapeError(f"sgd_steps: {p!r} is not one of the compiled graph's leaves")
            out.append(position[id(p)])
        return tuple(out)

    def _slots(self, values: Sequence[Number] | Mapping[str | Value, Number]) -> list[_Slot]:
        leaves = self.leaves
        if isinstance(values, Mapping):
            data = [leaf.data for leaf in leaves]
            position = {id(leaf): i for i, leaf in enumerate(leaves)}
            by_label: dict[str, list[int]] = {}
            for i, leaf in enumerate(leaves):
                by_label.setdefault(leaf.label, []).append(i)
            for key, value in values.items():
                if isinstance(key, Value):
                    if id(key) not in position:
                        raise ShapeError(f"{key!r} is not one of the compiled graph's leaves")
                    i = position[id(key)]
                else:
                    found = by_label.get(key, []) if isinstance(key, str) and key else []
                    if len(found) != 1:
                        known = ", ".join(sorted(label for label, ks in by_label.items()
                                                 if label and len(ks) == 1))
                        what = "names several leaves (pass the Value)" if found else "is not a leaf's label"
                        raise ShapeError(f"{key!r} {what}; the leaves' labels: {known or 'none'}")
                    i = found[0]
                data[i] = _number(value, key)
        else:
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ShapeError(f"values must be a sequence, a mapping or None, got "
                                 f"{type(values).__name__}")
            if len(values) != len(leaves):
                raise ShapeError(f"{len(values)} values for the {len(leaves)} leaves of the compiled graph")
            data = [_number(v, leaf.label or f"leaf {i}") for i, (v, leaf) in enumerate(zip(values, leaves))]
        return [_Slot(d, leaf.grad) for d, leaf in zip(data, leaves)]

    def _eager(self, slots: Sequence, backward: bool) -> tuple[float, tuple[float, ...]]:
        """The pass on the eager engine: its exceptions and messages, bit-identical otherwise."""
        new: list[Value] = []
        fresh: list[Value] = [None] * len(self._inputs)  # type: ignore[list-item]
        position = {k: i for i, k in enumerate(self._inputs)}
        for k, node in enumerate(self._order):
            if node.op is None:
                leaf = Value(0.0)  # set after construction, as an SGD loop sets .data
                leaf.data = slots[position[k]].data if k in position else self._constants[k]
                new.append(leaf)
                if k in position:
                    fresh[position[k]] = leaf
            else:
                index = self._index
                new.append(Value.apply(node.op, *(new[index[id(p)]] for p in node.inputs)))
        root = new[-1]
        if not backward:
            return root.data, ()
        root.backward()
        grads = tuple(leaf.grad for leaf in fresh)
        for leaf, slot in zip(fresh, slots):
            leaf.grad = slot.grad
        root.backward()
        for leaf, slot in zip(fresh, slots):
            slot.grad = leaf.grad
        return root.data, grads

    def __repr__(self) -> str:
        return f"CompiledGraph({self.n_nodes} nodes, {len(self.leaves)} leaves)"


def _signature(op: Op) -> object:
    return op.exponent if op.name == "powc" else op.arity


def _describe(node: Value) -> str:
    if node.op is None:
        return f"the leaf {node.label!r}" if node.label else "an unlabelled leaf"
    return f"a {node.op.name!r} node"


def _number(value: object, name: object) -> float:
    try:
        return finite_float(value, f"the value for {name!r}")
    except (TypeError, ValueError) as error:
        raise ShapeError(str(error)) from None


def compile_graph(root: Value, leaves: Sequence[Value] | None = None) -> CompiledGraph:
    """Trace root's graph once; leaves (default: every leaf) are the replay's inputs.

    Every other leaf is a constant, baked in with its current data; nodes that depend on
    constants only are computed once here.
    """
    if not isinstance(root, Value):
        raise TypeError(f"compile_graph: root must be a Value, got {type(root).__name__}")
    order = topological_order(root)
    if len(order) > MAX_NODES:
        raise ValueError(f"compile_graph: the graph has {len(order):,} nodes, more than the replay takes "
                         f"({MAX_NODES:,}): Python's compiler needs up to 30 KB a node for the generated "
                         "code; train a graph this size with backward()")
    index = {id(node): k for k, node in enumerate(order)}
    if leaves is None:
        inputs = [k for k, node in enumerate(order) if node.op is None]
    else:
        inputs = []
        for leaf in leaves:
            if not isinstance(leaf, Value):
                raise TypeError(f"compile_graph: leaves must be Values, got {type(leaf).__name__}")
            k = index.get(id(leaf))
            if k is None:
                raise ValueError(f"compile_graph: {leaf!r} is not in the graph of {root!r}")
            if leaf.op is not None:
                raise ValueError(f"compile_graph: {leaf!r} is not a leaf (it is the result of "
                                 f"{leaf.op.name!r})")
            if k in inputs:
                raise ValueError(f"compile_graph: {leaf!r} is given twice")
            inputs.append(k)
    is_input = set(inputs)
    constants = {k: node.data for k, node in enumerate(order) if node.op is None and k not in is_input}
    folded = dict(constants)
    for k, node in enumerate(order):
        if node.op is not None:
            template_for(node.op, len(node.inputs))  # every op has a template, or a clear error
            if all(index[id(p)] in folded for p in node.inputs):
                args = [Value(folded[index[id(p)]]) for p in node.inputs]
                folded[k] = Value.apply(node.op, *args).data
    return CompiledGraph(root, order, index, inputs, constants, folded)
