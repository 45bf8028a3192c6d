"""Batch replay: one sample's scalar graph, replayed over a whole batch at once with numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine import Value, topological_order
from .ops import Op

try:  # numpy is the `batch` extra: `import micrograd_bp` works without it, compile_batch needs it
    import numpy as np
except ImportError:  # pragma: no cover - exercised only where numpy is missing
    np = None  # type: ignore[assignment]

NUMPY_MISSING = "the batch replay needs numpy: pip install 'micrograd_bp[batch]'"
REDUCTIONS = ("mean", "sum")


class _Redo(Exception):
    """Raised by the generated code where the eager engine would raise: the eager path takes over.
    It carries the samples (columns) found at fault, when it knows them."""

    def __init__(self, columns: Any = None) -> None:
        super().__init__()
        self.columns = columns


# ----------------------------------------------------------------------------- the plan
# Every node of the sample's graph is a leaf (a parameter, a datum, a constant), a folded node
# (computed from constants only: its value is fixed), or a live node. A live node is batched if it
# depends on a datum (one value per sample: a row of V, n wide) or scalar (one value for the whole
# batch: an entry of S, beside the parameters). Live nodes are grouped by (depth, op, arity,
# batched, where each input lives), so one numpy call computes a whole group; a layer's `linear`
# nodes that read the same batched inputs become one matrix product, W @ X + b.


@dataclass
class _Operand:
    """Where a group reads one of its inputs (or writes its output): rows of V or entries of S."""

    buf: str  # "V" (one row per node, n samples wide) or "S" (one entry per node)
    idx: Any  # int array: V rows (k,) or S entries (k,), (k, 1), (k, m)
    name: str
    needs: bool = True  # does a parameter's gradient flow through it?


@dataclass
class _Group:
    kind: str  # "matmul", "dot" (a scalar linear), "each" (elementwise through the op's array form)
    op: Op
    depth: int
    nodes: list[int]
    batched: bool
    out: _Operand | None = None
    ins: list[_Operand] = field(default_factory=list)
    bias: _Operand | None = None


def _require_numpy() -> None:
    if np is None:
        raise ImportError(NUMPY_MISSING)


def _positions(what: str, values: Sequence[Value], index: dict[int, int], order: list[Value],
               missing_ok: bool = False) -> list[int | None]:
    """Each Value's position in the order (None for a datum the loss does not read: its column is
    ignored); a TypeError or ValueError for anything else than distinct leaves of the graph."""
    if isinstance(values, Value) or not isinstance(values, Sequence):
        raise TypeError(f"compile_batch: {what} must be a list of Values, got {type(values).__name__}")
    out: list[int] = []
    seen: set[int] = set()
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"compile_batch: {what} must be Values, got {type(v).__name__}")
        k = index.get(id(v))
        if k is None and missing_ok:
            out.append(None)
            continue
        if k is None:
            raise ValueError(f"compile_batch: {v!r} (in {what}) is not in the graph of the loss")
        if order[k].op is not None:
            raise ValueError(f"compile_batch: {v!r} (in {what}) is not a leaf (it is the result of "
                             f"{order[k].op.name!r})")
        if k in seen or (k is None and any(v is w for w in values[:len(out)])):
            raise ValueError(f"compile_batch: {v!r} is given twice in {what}")
        seen.add(k)
        out.append(k)
    return out


def _classify(order: list[Value], inputs: list[list[int]], params: list[int], data: list[int]
              ) -> tuple[list[str], list[bool], list[int]]:
    """Each node's kind ("param", "data", "const", "batched", "scalar"), whether a parameter's
    gradient flows through it, and its depth (leaves and folded nodes 0)."""
    is_param, is_data = set(params), set(data)
    kinds: list[str] = []
    needs: list[bool] = []
    depth: list[int] = []
    for k, node in enumerate(order):
        ins = inputs[k]
        if k in is_param or k in is_data:
            kinds.append("param" if k in is_param else "data")
        elif node.op is None or all(kinds[j] == "const" for j in ins):
            kinds.append("const")  # a constant, or computed from constants only: node.data is its value
        else:
            kinds.append("batched" if any(kinds[j] in ("data", "batched") for j in ins) else "scalar")
        needs.append(k in is_param or (kinds[k] in ("batched", "scalar") and any(needs[j] for j in ins)))
        depth.append(1 + max(depth[j] for j in ins) if kinds[k] in ("batched", "scalar") else 0)
    return kinds, needs, depth


def _linear_kind(ins: list[int], kinds: list[str], batched: bool) -> tuple:
    """("matmul", x rows) for a batched linear node whose weights are scalars and inputs batched,
    ("dot",) for a scalar linear node; () otherwise (it is replayed elementwise)."""
    scalar = [kinds[j] not in ("data", "batched") for j in ins]
    n = len(ins)
    if n < 2:
        return ()
    if not batched:
        return ("dot", n % 2)
    weights, xs = scalar[0:n - n % 2:2], scalar[1:n - n % 2:2]
    if all(weights) and not any(xs) and (n % 2 == 0 or scalar[-1]):
        return ("matmul", n % 2, tuple(ins[1:n - n % 2:2]))
    return ()


def _groups(order: list[Value], inputs: list[list[int]], kinds: list[str], depth: list[int]
            ) -> list[_Group]:
    """The live nodes grouped by (depth, op, arity, batched, where each input lives, linear's form),
    in order of depth, then of first appearance; within a group in topological order."""
    groups: dict[tuple, _Group] = {}
    for k, node in enumerate(order):
        if kinds[k] not in ("batched", "scalar"):
            continue
        batched = kinds[k] == "batched"
        where = tuple(kinds[j] in ("data", "batched") for j in inputs[k])
        form = _linear_kind(inputs[k], kinds, batched) if node.op.name == "linear" else ()
        key = (depth[k], id(node.op), len(inputs[k]), batched, where, form)
        group = groups.get(key)
        if group is None:
            kind = form[0] if form else "each"
            group = groups[key] = _Group(kind, node.op, depth[k], [], batched)
        group.nodes.append(k)
    return sorted(groups.values(), key=lambda g: (g.depth, g.nodes[0]))


def _affine(idx: Any) -> tuple[int, tuple[int, ...]] | None:
    """(base, strides) if idx[i, j, ...] == base + i*s0 + j*s1 + ... with strides >= 0, else None."""
    base = int(idx.flat[0])
    strides = []
    expected = np.full(idx.shape, base)
    for axis, size in enumerate(idx.shape):
        step = 0
        if size > 1:
            step = int(np.take(idx, 1, axis=axis).flat[0]) - base
        if step < 0:
            return None
        strides.append(step)
        shape = [1] * idx.ndim
        shape[axis] = size
        expected = expected + step * np.arange(size).reshape(shape)
    return (base, tuple(strides)) if np.array_equal(expected, idx) else None


class _Layout:
    """Where every node lives: rows of V for data and batched nodes (the data first, in the order
    given), entries of S for the parameters (first, in the order given), constants and scalar nodes."""

    def __init__(self, order: list[Value], kinds: list[str], params: list[int], data: list[int],
                 groups: list[_Group], root: int, inputs: list[list[int]]) -> None:
        self.at: dict[int, tuple[str, int]] = {}
        for i, k in enumerate(data):
            if k is not None:  # a datum the loss does not read has its row all the same
                self.at[k] = ("V", i)
        for i, k in enumerate(params):
            self.at[k] = ("S", i)
        rows, entries = len(data), len(params)
        used = {j for g in groups for k in g.nodes for j in inputs[k]} | {root}
        self.constants: dict[int, float] = {}
        for k in sorted(used):
            if kinds[k] == "const":
                self.at[k] = ("S", entries)
                self.constants[entries] = order[k].data
                entries += 1
        for g in groups:
            for k in g.nodes:
                if g.batched:
                    self.at[k], rows = ("V", rows), rows + 1
                else:
                    self.at[k], entries = ("S", entries), entries + 1
        self.rows, self.entries = rows, entries


def _operands(groups: list[_Group], ins: list[list[int]], layout: _Layout,
              needs: list[bool]) -> None:
    """Each group's output and input operands (index arrays into V or S)."""
    for g, group in enumerate(groups):
        nodes = group.nodes
        buf = "V" if group.batched else "S"
        group.out = _Operand(buf, np.array([layout.at[k][1] for k in nodes]), f"o{g}")
        inputs = [ins[k] for k in nodes]  # (k, arity)
        n_in = len(inputs[0])

        def operand(columns: list[list[int]], name: str, shape: tuple[int, ...]) -> _Operand:
            ks = [k for row in columns for k in row]
            where = layout.at[ks[0]][0]
            idx = np.array([layout.at[k][1] for k in ks]).reshape(shape)
            return _Operand(where, idx, name, any(needs[k] for k in ks))

        k_ = len(nodes)
        if group.kind in ("matmul", "dot"):
            m = n_in // 2
            group.ins.append(operand([row[0:2 * m:2] for row in inputs], f"w{g}", (k_, m)))
            if group.kind == "matmul":
                group.ins.append(operand([inputs[0][1:2 * m:2]], f"x{g}", (m,)))
            else:
                group.ins.append(operand([row[1:2 * m:2] for row in inputs], f"x{g}", (k_, m)))
            if n_in % 2:
                shape = (k_, 1) if group.batched else (k_,)
                group.bias = operand([[row[-1]] for row in inputs], f"b{g}", shape)
            continue
        for j in range(n_in):
            column = [[row[j]] for row in inputs]
            where = layout.at[column[0][0]][0]
            shape = (k_, 1) if group.batched and where == "S" else (k_,)
            group.ins.append(operand(column, f"a{g}_{j}", shape))


def _grid(buffer: Any, base: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A view of a 1-D buffer: element [i, j] is buffer[base + i*strides[0] + j*strides[1]]."""
    size = buffer.itemsize
    return np.lib.stride_tricks.as_strided(buffer[base:], shape, tuple(s * size for s in strides))


def _slice(base: int, step: int, count: int) -> str:
    stop = base + step * (count - 1) + 1
    return f"{base}:{stop}" if step == 1 or count == 1 else f"{base}:{stop}:{step}"


class _Code:
    """The generated source: the views of the buffers (made once per batch size), forward() and
    backward(). Index arrays too irregular for a view are gathered (and scattered) at run time."""

    def __init__(self, groups: list[_Group], layout: _Layout, root: int, n_params: int) -> None:
        self.views: list[str] = []
        self.names: dict[str, Any] = {}  # index arrays and the ops' functions, by the names the code uses
        self.reads: dict[str, str] = {}
        self.forward: list[str] = []
        self.backward: list[str] = []
        for g, group in enumerate(groups):
            self._group_forward(g, group)
        self.forward += ["c = V.sum() + S.sum()  # one sum: inf or nan anywhere makes it non-finite",
                         "if c - c != 0.0: raise _Redo()"]
        seed_buf, seed_at = layout.at[root]
        self.written: set[tuple[str, int]] = {(seed_buf, seed_at)}  # gradient entries set so far
        self.backward += ["GV.fill(0.0)", "GS.fill(0.0)", f"G{seed_buf}[{seed_at}] = seed"]
        for g in reversed(range(len(groups))):
            group = groups[g]
            if any(op.needs for op in [*group.ins, group.bias] if op is not None):
                self._group_backward(g, group)
        self.backward += [f"c = GS[:{n_params}].sum()", "if c - c != 0.0: raise _Redo()"]

    def source(self) -> str:
        def function(name: str, lines: list[str]) -> str:
            return f"def {name}():\n" + "".join(f"    {line}\n" for line in lines)
        return ("# views of the buffers V, S (values) and GV, GS (gradients), made once per batch size\n"
                + "".join(f"{line}\n" for line in self.views) + "\n\n" + function("forward", self.forward)
                + "\n\n" + function("backward", self.backward or ["pass"]))

    # -- operands

    def read(self, op: _Operand) -> str:
        """The expression reading op: a view made once per batch size, or a gather."""
        if op.name not in self.reads:
            view = self._view(op, op.buf)
            if view is None:
                self.names[f"i_{op.name}"] = op.idx
                self.reads[op.name] = f"{op.buf}[i_{op.name}]"
            else:
                self.views.append(f"{op.name} = {view}")
                self.reads[op.name] = op.name
        return self.reads[op.name]

    def add(self, op: _Operand, term: str, sign: str = "+", product: tuple[str, str] | None = None) -> str:
        """The statement adding (or with sign "-", subtracting) term into op's gradient: into a
        view, by index, or by np.add.at where an index repeats. The first term written into a
        view's entries (still the zeros of the fill) is stored, not added: `=`, or for a matrix
        product (`product`: its two factors) np.matmul writing into the view."""
        unique = np.unique(op.idx).size == op.idx.size
        view = self._view(op, "G" + op.buf) if unique else None
        positions = {(op.buf, int(i)) for i in op.idx.flat}
        first = view is not None and sign == "+" and not positions & self.written
        self.written |= positions
        if view is not None:
            line = f"g{op.name} = {view}"
            if line not in self.views:
                self.views.append(line)
            if first and product is not None:
                return f"np.matmul({product[0]}, {product[1]}, out=g{op.name})"
            return f"g{op.name}[...] {'=' if first else sign + '='} {term}"
        self.names[f"i_{op.name}"] = op.idx
        if unique:
            return f"G{op.buf}[i_{op.name}] {sign}= {term}"
        return f"np.{'add' if sign == '+' else 'subtract'}.at(G{op.buf}, i_{op.name}, {term})"

    def _view(self, op: _Operand, buf: str) -> str | None:
        found = _affine(op.idx)
        if found is None:
            return None
        base, strides = found
        shape = op.idx.shape
        if len(shape) == 1 or shape[1] == 1:  # rows of V, entries of S, or a column of entries
            if shape[0] > 1 and strides[0] == 0:
                return None
            return f"{buf}[{_slice(base, strides[0], shape[0])}{', None' if len(shape) == 2 else ''}]"
        if shape[0] == 1:  # one row: a plain row view (a stride of 0 would keep BLAS away)
            return f"{buf}[{_slice(base, strides[1], shape[1])}][None, :]"
        return f"_grid({buf}, {base}, {shape}, {strides})"

    # -- groups

    def _group_forward(self, g: int, group: _Group) -> None:
        out = group.out
        nodes = f"{len(group.nodes)} {group.op.name} node{'s' * (len(group.nodes) > 1)}"
        self.forward.append(f"# group {g}: {nodes}, depth {group.depth}, "
                            f"{'one row per sample' if group.batched else 'one value per batch'}")
        self.views.append(f"o{g} = {out.buf}[{_slice(int(out.idx[0]), 1, len(out.idx))}]")
        self.views.append(f"go{g} = G{out.buf}[{_slice(int(out.idx[0]), 1, len(out.idx))}]")
        if group.kind in ("matmul", "dot"):
            w, x = (self.read(op) for op in group.ins)
            self.forward.append(f"np.matmul({w}, {x}, out=o{g})" if group.kind == "matmul"
                                else f"np.einsum('ij,ij->i', {w}, {x}, out=o{g})")
            if group.bias is not None:
                self.forward.append(f"o{g}[...] += {self.read(group.bias)}")
            return
        args = ", ".join(self.read(op) for op in group.ins)
        form = group.op.array
        if form is None:  # no array form: its own forward, sample by sample
            self.names[f"op{g}"] = group.op
            self.forward.append(f"o{g}[...] = _each(op{g}, o{g}.shape, {args})")
            return
        self.names[f"F{g}"] = form.forward
        if form.invalid is not None:
            self.names[f"I{g}"] = form.invalid
            self.forward += [f"bad = I{g}(np, {args})", "if bad.any(): raise _Redo(bad)"]
        self.forward.append(f"o{g}[...] = F{g}(np, {args})")

    def _group_backward(self, g: int, group: _Group) -> None:
        self.backward.append(f"# group {g}: {group.op.name}")
        if group.kind in ("matmul", "dot"):
            (w_op, x_op), bias = group.ins, group.bias
            w, x = self.read(w_op), self.read(x_op)
            matmul = group.kind == "matmul"
            self.backward.append(f"up = go{g}" if matmul else f"up = go{g}[:, None]")
            if w_op.needs:
                self.backward.append(self.add(w_op, f"up @ {x}.T" if matmul else f"{x} * up"))
            if bias is not None and bias.needs:
                self.backward.append(self.add(bias, "up.sum(1, keepdims=True)" if matmul else f"go{g}"))
            if x_op.needs:
                self.backward.append(self.add(x_op, f"{w}.T @ up", product=(f"{w}.T", "up")) if matmul
                                     else self.add(x_op, f"{w} * up"))
            return
        args = ", ".join(self.read(op) for op in group.ins)
        form = group.op.array
        constant = _constant_partials(group.op, len(group.ins))
        if not all(j in constant for j, op in enumerate(group.ins) if op.needs):
            if form is None:
                self.backward.append(f"p = _each_partials(op{g}, o{g}, {args})")
            elif form.partials is not None:
                self.names[f"P{g}"] = form.partials
                self.backward.append(f"p = P{g}(np, {args}, o{g})")
            else:
                self.names[f"P{g}"] = group.op.partials
                self.backward.append(f"p = P{g}({args}, o{g})")
        self.backward.append(f"up = go{g}")
        for j, op in enumerate(group.ins):
            if op.needs:
                c = constant.get(j)
                sign = "-" if c == -1.0 else "+"
                term = "up" if c in (1.0, -1.0) else f"{c!r} * up" if c is not None else f"p[{j}] * up"
                if group.batched and op.buf == "S":  # a scalar meets a batched gradient: summed
                    term = "up.sum(1, keepdims=True)" if term == "up" else f"({term}).sum(1, keepdims=True)"
                self.backward.append(self.add(op, term, sign))


def _constant_partials(op: Op, n: int) -> dict[int, float]:
    """The partials of op that are constants (add's 1.0, sub's -1.0), found by calling its array
    form's partials on arrays: a number where an array was expected is a constant. The code then
    adds the upstream gradient itself, with no multiplication."""
    form = op.array
    if form is None:
        return {}
    ones = [np.ones(2) for _ in range(n)]
    try:
        with np.errstate(all="ignore"):
            partials = form.partials(np, *ones, ones[0]) if form.partials else op.partials(*ones, ones[0])
    except Exception:  # noqa: BLE001  (a form that fails here is simply called at run time)
        return {}
    return {j: float(p) for j, p in enumerate(partials)
            if isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) and p != 0.0}


# ----------------------------------------------------------------------------- ops without an array form
# Replayed through their own float forward and partials, one sample at a time: correct, slower.
# Where the float form raises, the pass is redone on the eager engine, which raises its error.


def _columns(shape: tuple[int, ...], flat: int) -> Any:
    """A mask of the sample (column) that element `flat` of an array of this shape belongs to."""
    mask = np.zeros(shape, bool)
    mask.flat[flat] = True
    return mask


def _each(op: Op, shape: tuple[int, ...], *xs: Any) -> Any:
    columns = [np.broadcast_to(x, shape).ravel().tolist() for x in xs]
    out = np.empty(len(columns[0]) if columns else 0)
    for i, point in enumerate(zip(*columns)):
        try:
            out[i] = op.forward(*point)
        except (ValueError, ArithmeticError):
            raise _Redo(_columns(shape, i)) from None
    return out.reshape(shape)


def _each_partials(op: Op, out: Any, *xs: Any) -> tuple:
    columns = [np.broadcast_to(x, out.shape).ravel().tolist() for x in xs]
    partials = np.empty((len(xs), out.size))
    for i, point in enumerate(zip(*columns, out.ravel().tolist())):
        try:
            partials[:, i] = [float(p) for p in op.partials(*point)]
        except (ValueError, ArithmeticError):
            raise _Redo(_columns(out.shape, i)) from None
    return tuple(p.reshape(out.shape) for p in partials)


# ----------------------------------------------------------------------------- the API


def _as_batch(batch: Any, width: int) -> Any:
    """batch as a float array (n_samples, width): every number finite, or a ValueError naming it."""
    if isinstance(batch, (str, bytes)):
        raise TypeError(f"the batch must be an array or a list of rows, got {type(batch).__name__}")
    try:
        array = np.array(batch, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the batch must be rows of {width} numbers: {error}") from None
    if array.ndim == 1 and width == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != width or array.shape[0] == 0:
        raise ValueError(f"the batch must be rows of {width} number{'s' * (width != 1)} (one per "
                         f"data leaf), at least one row; got an array of shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(f"row {row} of the batch: column {column} is {float(array[row, column])!r}, not a "
                         "finite number")
    return array


def _positive_lr(lr: object) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"sgd_steps: the learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


def _named(error: Exception, row: int) -> Exception:
    """The eager engine's error, its message prefixed with the sample's row (the same type)."""
    message = f"row {row} of the batch: {error}"
    try:
        return type(error)(message)
    except TypeError:  # an exception type that takes other arguments
        return ValueError(message)


class BatchReplay:
    """One sample's graph, compiled to run a whole batch at once (see compile_batch).

    It owns the parameters as a numpy vector, `theta` (the Values are not touched until
    write_back()). `params` and `data` are the leaves given, in order: a batch has one column per
    data leaf.
    """

    def __init__(self, order: list[Value], inputs: list[list[int]], params: list[int],
                 data: list[int | None], data_values: list[Value], kinds: list[str], groups: list[_Group],
                 layout: _Layout, reduce: str) -> None:
        self.params = [order[k] for k in params]
        self.data = list(data_values)
        self.reduce = reduce
        self.n_nodes, self.n_groups = len(order), len(groups)
        self._order, self._inputs, self._kinds = order, inputs, kinds
        self._param_pos = {k: i for i, k in enumerate(params)}
        self._data_pos = {k: i for i, k in enumerate(data) if k is not None}
        self._root = layout.at[len(order) - 1]
        self._code = _Code(groups, layout, len(order) - 1, len(params))
        self._source = self._code.source()
        self._compiled = compile(self._source, "<batch replay>", "exec")
        self._rows = layout.rows
        self._S, self._GS = np.zeros(layout.entries), np.zeros(layout.entries)
        self._S[:len(params)] = [p.data for p in self.params]
        for at, value in layout.constants.items():
            self._S[at] = value
        self.theta = self._S[:len(params)]  # a view: the replay's own parameters
        self._grads = self._GS[:len(params)]
        self._n: int | None = None
        self._ns: dict[str, Any] = {}

    # -- the public API

    def forward_backward(self, batch: Any) -> tuple[float, Any]:
        """The loss of the batch (the mean or the sum of the samples' losses) and its gradient with
        respect to each parameter (a new numpy array, aligned with .params)."""
        loss, grads, _ = self._pass(_as_batch(batch, len(self.data)), backward=True)
        return loss, grads.copy()

    def forward(self, batch: Any) -> float:
        """The loss of the batch alone."""
        return self._pass(_as_batch(batch, len(self.data)), backward=False)[0]

    def outputs(self, batch: Any) -> Any:
        """Each sample's value of the graph's output (a numpy array, one per row), not reduced."""
        array = _as_batch(batch, len(self.data))
        _, _, each = self._pass(array, backward=False)
        if each is not None:  # computed on the eager engine
            return each
        buf, at = self._root
        return self._ns["V"][at].copy() if buf == "V" else np.full(len(array), self._S[at])

    def sgd_steps(self, batch: Any, steps: int, lr: float) -> list[float]:
        """steps steps of gradient descent on theta: theta -= lr * gradient; the loss before each.

        A step that would make a parameter non-finite raises OverflowError (the learning rate is
        too large) and leaves theta as the last good step left it."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"sgd_steps: steps must be a non-negative integer, got {steps!r}")
        lr = _positive_lr(lr)
        array = _as_batch(batch, len(self.data))
        losses: list[float] = []
        theta = self.theta
        for _ in range(steps):
            loss, grads, _ = self._pass(array, backward=True)
            with np.errstate(all="ignore"):
                new = theta - lr * grads
                total = new.sum()
                finite = total - total == 0.0
            if not finite and not np.isfinite(new).all():  # (a sum can overflow on finite terms)
                self._diverged(new, grads, lr)
            theta[...] = new
            losses.append(loss)
        return losses

    def values(self) -> Any:
        """A copy of the parameters, aligned with .params."""
        return self.theta.copy()

    def load(self, values: Sequence[float]) -> None:
        """Set the parameters (one finite number per parameter, aligned with .params)."""
        array = np.array(values, dtype=float)
        if array.shape != self.theta.shape or not np.isfinite(array).all():
            raise ValueError(f"load: expected {len(self.theta)} finite numbers, got shape {array.shape}")
        self.theta[...] = array

    def write_back(self) -> None:
        """Copy the parameters into the Values' .data (so drawings, pages and the checker see them)."""
        for p, x in zip(self.params, self.theta.tolist()):
            p.data = x

    def source(self) -> str:
        """The generated Python: the buffers' views, forward() and backward()."""
        return self._source

    def __repr__(self) -> str:
        return (f"BatchReplay({self.n_nodes} nodes in {self.n_groups} groups, {len(self.params)} "
                f"parameters, {len(self.data)} data leaves, reduce={self.reduce!r})")

    # -- the passes

    def _bind(self, array: Any) -> dict[str, Any]:
        """The namespace of the generated code for this batch size (buffers made once per size),
        with the batch's data in the first rows of V."""
        n = len(array)
        if n != self._n:
            self._ns = {"np": np, "V": np.zeros((self._rows, n)), "GV": np.zeros((self._rows, n)),
                        "S": self._S, "GS": self._GS, "_grid": _grid, "_Redo": _Redo, "_each": _each,
                        "_each_partials": _each_partials, **self._code.names}
            exec(self._compiled, self._ns)  # noqa: S102  (our own generated code)
            for name, read in self._code.reads.items():
                if read == name:  # an input's view: an array form cannot write into the buffers
                    self._ns[name].flags.writeable = False
            self._n = n
        self._ns["V"][:len(self.data)] = array.T
        return self._ns

    def _pass(self, array: Any, backward: bool) -> tuple[float, Any, Any]:
        """(loss, gradient view, None) by the generated code; where it finds an inf, a nan or an
        op's domain left, (loss, gradient, each sample's output) on the eager engine, which
        raises its own error for the first sample at fault."""
        ns = self._bind(array)
        n = len(array)
        buf, at = self._root
        mean = self.reduce == "mean"
        ns["seed"] = (1.0 / n if mean else 1.0) if buf == "V" else (1.0 if mean else float(n))
        with np.errstate(all="ignore"):
            try:
                ns["forward"]()
                loss = float(ns["V"][at].sum()) / (n if mean else 1) if buf == "V" else \
                    float(self._S[at]) * (1 if mean else n)
                if loss - loss != 0.0:
                    raise _Redo()
                if backward:
                    ns["backward"]()
                return loss, self._grads, None
            except _Redo as redo:
                return self._redo(array, redo, backward)

    def _redo(self, array: Any, redo: _Redo, backward: bool) -> tuple[float, Any, Any]:
        """The samples at fault replayed on the eager engine, in row order (the first raises its
        error); if none raises (an infinite derivative met by a zero gradient, which eager skips),
        the whole batch on the eager engine."""
        n = len(array)
        bad = ~np.isfinite(self._ns["V"]).all(axis=0)
        if backward:
            bad |= ~np.isfinite(self._ns["GV"]).all(axis=0)
        columns = redo.columns
        if columns is not None and columns.ndim == 2 and columns.shape[1] == n:
            bad |= columns.any(axis=0)
        elif columns is not None or not bad.any():
            bad[0] = True  # a value shared by every sample: the first one raises
        for row in np.nonzero(bad)[0].tolist():
            self._eager_sample(array[row], row, backward)
        return self._eager_batch(array, backward)

    def _eager_sample(self, row: Any, i: int, backward: bool) -> tuple[float, list[float]]:
        """One sample on the eager engine: its loss and its gradients (raises its errors, naming
        the row)."""
        order, inputs, kinds = self._order, self._inputs, self._kinds
        theta, values = self.theta.tolist(), row.tolist()
        new: list[Value] = []
        try:
            for k, node in enumerate(order):
                kind = kinds[k]
                if kind in ("param", "data", "const"):
                    leaf = Value(0.0)
                    leaf.data = theta[self._param_pos[k]] if kind == "param" else \
                        values[self._data_pos[k]] if kind == "data" else node.data
                    new.append(leaf)
                else:
                    new.append(Value.apply(node.op, *(new[j] for j in inputs[k])))
            if backward:
                new[-1].backward()
        except (ValueError, ArithmeticError) as error:
            raise _named(error, i) from None
        return new[-1].data, [new[k].grad for k in self._param_pos]

    def _eager_batch(self, array: Any, backward: bool) -> tuple[float, Any, Any]:
        n = len(array)
        each = np.empty(n)
        grads = np.zeros(len(self.params))
        for i in range(n):
            each[i], g = self._eager_sample(array[i], i, backward)
            grads += g
        with np.errstate(all="ignore"):
            scale = 1.0 / n if self.reduce == "mean" else 1.0
            loss, grads = float(each.sum()) * scale, grads * scale
        if not (math.isfinite(loss) and np.isfinite(grads).all()):
            raise OverflowError(f"the batch's {self.reduce} of {n} samples' losses or gradients is past "
                                "the float range, though each sample's is finite")
        return loss, grads, each

    def _diverged(self, new: Any, grads: Any, lr: float) -> None:
        i = int(np.nonzero(~np.isfinite(new))[0][0])
        p = self.params[i]
        name = repr(p.label) if p.label else f"parameter {i}"
        raise OverflowError(f"gradient descent diverged: the step would make {name} {new[i]!r} "
                            f"(value {self.theta[i]!r}, gradient {grads[i]!r}, learning rate {lr!r}): "
                            "the learning rate is too large")


def compile_batch(loss: Value, params: Sequence[Value], data: Sequence[Value],
                  reduce: str = "mean") -> BatchReplay:
    """One sample's graph, compiled to replay a whole batch at once with numpy.

    loss is the sample's scalar output; params the leaves to train (their current .data is the
    starting point); data the leaves that take a different value per sample (the inputs and the
    target: the batch's columns, in this order). Every other leaf is a constant. The loss of a
    batch is the mean (reduce="mean") or the sum of its samples' losses.
    """
    _require_numpy()
    if not isinstance(loss, Value):
        raise TypeError(f"compile_batch: the loss must be a Value, got {type(loss).__name__}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"compile_batch: reduce must be 'mean' or 'sum', got {reduce!r}")
    order = topological_order(loss)
    index = {id(node): k for k, node in enumerate(order)}
    param_at = _positions("params", params, index, order)
    data_at = _positions("data", data, index, order, missing_ok=True)
    both = set(param_at) & set(data_at)  # type: ignore[arg-type]
    if both:
        raise ValueError(f"compile_batch: {order[min(both)]!r} is in both params and data")
    inputs = [[index[id(p)] for p in node.inputs] for node in order]  # each node's inputs' positions
    kinds, needs, depth = _classify(order, inputs, param_at, [k for k in data_at if k is not None])
    groups = _groups(order, inputs, kinds, depth)
    layout = _Layout(order, kinds, param_at, data_at, groups, len(order) - 1, inputs)
    _operands(groups, inputs, layout, needs)
    return BatchReplay(order, inputs, param_at, data_at, list(data), kinds, groups, layout, reduce)
