"""register_op and unregister_op: a new op record checked whole, then added to the op table."""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable

from . import engine
from .expr import formula_value, parse
from .ops import _BUILTIN, OPS, Op

_SAMPLES = (0.7, -1.3, 2.1, 0.35, -0.45, 1.6)


def sample_points(arity: int) -> list[tuple[float, ...]]:
    """A few points spread around zero, each input taking different values."""
    return [tuple(_SAMPLES[(i + j) % len(_SAMPLES)] for j in range(arity)) for i in range(len(_SAMPLES))]


def _refuse(op: Op, field: str, problem: str) -> ValueError:
    return ValueError(f"register_op: {op.name}: {field}: {problem}")


# ------------------------------------------------------------------------ one check per field

def _check_name(op: Op) -> None:
    if not isinstance(op.name, str) or not op.name.isidentifier() or keyword.iskeyword(op.name) \
            or op.name.startswith("_"):
        raise ValueError(f"register_op: {op.name!r} is not a usable op name (an identifier, not a "
                         "keyword, not starting with '_')")
    if op.name in ("out", "powc") or len(op.name) == 1:
        raise ValueError(f"register_op: {op.name!r} is reserved (a name the formulas use)")
    if op.name in OPS:
        raise ValueError(f"register_op: an op named {op.name!r} exists already")


def _check_shape(op: Op) -> None:
    """arity, forward and partials: what every other check evaluates."""
    if isinstance(op.arity, bool) or not isinstance(op.arity, int) or op.arity < 1:
        raise _refuse(op, "arity", f"must be a positive int, got {op.arity!r}")
    if not callable(op.forward):
        raise _refuse(op, "forward", "must be a callable")
    if not callable(op.partials):
        raise _refuse(op, "partials", "must be a callable")
    if op.infix:
        raise _refuse(op, "infix", "a registered op is called by name; the operators are fixed")


def _check_formulas(op: Op) -> None:
    """One formula per input, over the input names and out, that parses."""
    try:
        formulas = op.formulas_for(op.arity)
    except Exception as error:
        raise _refuse(op, "formulas", f"gives no formulas for {op.arity} inputs: {error}") from None
    if isinstance(formulas, str) or len(formulas) != op.arity:
        raise _refuse(op, "formulas", f"needs one formula per input ({op.arity}), got {formulas!r}")
    allowed = {*op.input_names(op.arity), "out"}
    for formula in formulas:
        try:
            used = parse(formula).variables
        except ValueError as error:
            raise _refuse(op, "formulas", f"the formula {formula!r} does not parse: {error}") from None
        unknown = [name for name in used if name not in allowed]
        if unknown:
            raise _refuse(op, "formulas", f"the formula {formula!r} uses {unknown[0]!r}; it may use "
                          f"{', '.join(sorted(allowed))}")


# Each check takes the record; registry.FIELD_CHECKS runs them in order (the shape first: the
# later checks evaluate forward and partials).
FIELD_CHECKS: list[Callable[[Op], None]] = [_check_name, _check_shape, _check_formulas]


def check_record(op: Op) -> None:
    """ValueError, naming the field, unless every field of op is consistent with its forward and
    partials; TypeError if op is not an Op."""
    if not isinstance(op, Op):
        raise TypeError(f"register_op: expected an Op, got {type(op).__name__}")
    for check in FIELD_CHECKS:
        check(op)
    _check_partials(op)


def _points(op: Op) -> list[tuple[tuple[float, ...], float, tuple]]:
    """(inputs, out, partials) at the sample points inside the op's domain."""
    found = []
    for xs in sample_points(op.arity):
        try:
            out = float(op.forward(*xs))
        except (ValueError, ArithmeticError):
            continue  # outside the op's domain
        if not math.isfinite(out):
            continue
        partials = tuple(op.partials(*xs, out))
        if len(partials) != op.arity:
            raise _refuse(op, "partials", f"gave {len(partials)} local derivatives for {op.arity} inputs")
        found.append((xs, out, partials))
    return found


def _check_partials(op: Op) -> None:
    """The formulas agree with the partials wherever the forward is defined."""
    names = op.input_names(op.arity)
    for xs, out, partials in _points(op):
        values = dict(zip(names, xs), out=out)
        for name, formula, local in zip(names, op.formulas_for(op.arity), partials):
            try:
                expected = formula_value(formula, values)
            except ValueError:
                continue
            if not math.isclose(float(local), expected, rel_tol=1e-9, abs_tol=1e-12):
                raise _refuse(op, "formulas", f"the formula {formula!r} for d(out)/d({name}) gives "
                              f"{expected!r} at {values}, but partials gives {float(local)!r}")


# ------------------------------------------------------------------------ registering

def register_op(op: Op) -> Op:
    """Add an op for every feature at once: Value.apply and op(x), x.NAME() for a one-input op,
    expressions (called by name), MLP activations, drawings, explain and check,
    grad(create_graph=True) when its partials work on Values, the compiled replay. A name that is
    taken, or a field that disagrees with forward and partials, is a ValueError naming the field.
    """
    check_record(op)
    OPS[op.name] = op
    engine.add_op_method(op)  # x.NAME(); the fast layer builds a user's op the plain way
    return op


def unregister_op(name: str) -> None:
    """Remove an op added by register_op (the built-in ones stay)."""
    if any(op.name == name for op in _BUILTIN):
        raise ValueError(f"unregister_op: {name!r} is a built-in op")
    if name not in OPS:
        raise ValueError(f"unregister_op: no op named {name!r}")
    del OPS[name]
    engine.remove_op_method(name)
