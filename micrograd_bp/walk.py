"""The chain rule, one step at a time: backward()'s loop as a generator of the steps it makes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .engine import Value, _not_finite, topological_order


@dataclass(frozen=True)
class Add:
    """One += of backward(): target.grad goes from before to after, by local * upstream."""

    target: Value  # the input whose gradient grows
    local: float  # d(node)/d(target), from the forward pass
    amount: float  # local * upstream
    before: float
    after: float  # before + amount


@dataclass(frozen=True)
class Step:
    """One node of backward()'s loop: its upstream gradient, final now, and the += it makes."""

    node: Value
    upstream: float  # d(root)/d(node)
    adds: tuple[Add, ...]  # one per input, in order; none when upstream is 0 (backward() skips it)

    @property
    def skipped(self) -> bool:
        return self.upstream == 0.0


def backward_steps(root: Value, order: Sequence[Value] | None = None) -> Iterator[Step]:
    """The steps root.backward() makes, in its order, with its arithmetic, bit for bit.

    It starts where backward() starts (interior nodes at 0, leaves at their .grad, root + 1) but
    keeps the gradients in a dict of its own: no .grad is touched. `order` is
    topological_order(root), if the caller has it. Raises backward()'s OverflowError where a
    gradient would leave the float range. A leaf root makes no steps.
    """
    order = topological_order(root) if order is None else order
    grads = {node: 0.0 if node.op is not None else node.grad for node in order}
    grads[root] += 1.0
    for node in reversed(order):
        if node.op is None:
            continue
        upstream = grads[node]
        if upstream == 0.0:
            yield Step(node, upstream, ())
            continue
        adds = []
        for parent, local in zip(node.inputs, node.local_grads):
            before = grads[parent]
            amount = local * upstream
            after = before + amount
            if not math.isfinite(after):
                _not_finite("backward", node, upstream)
            grads[parent] = after
            adds.append(Add(parent, local, amount, before, after))
        yield Step(node, upstream, tuple(adds))
