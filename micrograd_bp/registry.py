"""register_op and unregister_op: a new op record checked whole, then added to the op table."""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable

from . import engine
from .expr import formula_value, parse
from .ops import _BUILTIN, OPS, ArrayForm, Op, Replay

_SAMPLES = (0.7, -1.3, 2.1, 0.35, -0.45, 1.6)


def sample_points(arity: int) -> list[tuple[float, ...]]:
    """A few points spread around zero, each input taking different values."""
    return [tuple(_SAMPLES[(i + j) % len(_SAMPLES)] for j in range(arity)) for i in range(len(_SAMPLES))]


def _refuse(op: Op, field: str, problem: str) -> ValueError:
    return ValueError(f"register_op: {op.name}: {field}: {problem}")


# ------------------------------------------------------------------------ one check per field

def _check_name(op: Op) -> None:
    """A name free for a new op; no operator or fixed exponent (those are the package's own)."""
    if not isinstance(op.name, str) or not op.name.isidentifier() or keyword.iskeyword(op.name) \
            or op.name.startswith("_"):
        raise ValueError(f"register_op: {op.name!r} is not a usable op name (an identifier, not a "
                         "keyword, not starting with '_')")
    if op.name in ("out", "powc") or len(op.name) == 1:
        raise ValueError(f"register_op: {op.name!r} is reserved (a name the formulas use)")
    if op.name in OPS:
        raise ValueError(f"register_op: an op named {op.name!r} exists already")
    if op.infix:
        raise _refuse(op, "infix", "a registered op is called by name; the operators are fixed")
    if op.exponent is not None:
        raise _refuse(op, "exponent", "is for the fixed powers of ops.power_op only")


def _check_shape(op: Op) -> None:
    """arity, forward and partials: what every other check evaluates."""
    if isinstance(op.arity, bool) or not isinstance(op.arity, int) or op.arity < 1:
        raise _refuse(op, "arity", f"must be a positive int, got {op.arity!r}")
    if not callable(op.forward):
        raise _refuse(op, "forward", "must be a callable")
    if not callable(op.partials):
        raise _refuse(op, "partials", "must be a callable")


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


def _check_text_fields(op: Op) -> None:
    """symbol, doc: text; precedence: 1 to 5; function: a bool; exponent: only the fixed powers'."""
    for field in ("symbol", "doc"):
        if not isinstance(getattr(op, field), str):
            raise _refuse(op, field, f"must be a str, got {getattr(op, field)!r}")
    if isinstance(op.precedence, bool) or op.precedence not in (1, 2, 3, 4, 5):
        raise _refuse(op, "precedence", f"must be 1 to 5 (see Op), got {op.precedence!r}")
    if not isinstance(op.function, bool):
        raise _refuse(op, "function", f"must be True or False, got {op.function!r}")


def _check_templates(op: Op) -> None:
    """latex and js: text with one placeholder {0}, {1}, ... per input and no other."""
    for field in ("latex", "js"):
        value = getattr(op, field)
        if field == "js" and not value:
            continue  # no JavaScript: the page says so when it meets the op
        marks = [f"<{i}>" for i in range(op.arity)]
        try:
            template = value(op.arity) if callable(value) else value
            filled = template.format(*marks)
        except (IndexError, KeyError, ValueError, AttributeError, TypeError) as error:
            slots = ", ".join(f"{{{i}}}" for i in range(op.arity))
            raise _refuse(op, field, f"must be a template over the inputs {slots}: {error!r}") from None
        missing = [i for i, mark in enumerate(marks) if mark not in filled]
        if missing:
            raise _refuse(op, field, f"{template!r} does not use input {{{missing[0]}}}")


def _check_array_form(op: Op) -> None:
    """ValueError unless op.array (if any) is an ArrayForm that agrees with the float forward and
    partials at the sample points, and is non-finite or invalid wherever the float forward raises.
    Without numpy only its shape is checked (numpy is imported here, only when it is installed)."""
    form = op.array
    if form is None:
        return
    if not isinstance(form, ArrayForm) or not callable(form.forward) or not all(
            f is None or callable(f) for f in (form.partials, form.invalid)):
        raise _refuse(op, "array", f"must be an ArrayForm of callables, got {form!r}")
    try:
        import numpy as np
    except ImportError:
        return
    points = sample_points(op.arity)
    xs = [np.array(column, dtype=float) for column in zip(*points)]
    with np.errstate(all="ignore"):
        try:
            out = np.broadcast_to(np.asarray(form.forward(np, *xs), dtype=float), xs[0].shape)
            bad = np.zeros(len(points), bool) if form.invalid is None else np.broadcast_to(
                form.invalid(np, *xs), xs[0].shape)
            partials = form.partials(np, *xs, out) if form.partials else op.partials(*xs, out)
        except Exception as error:  # a float-only function (math.exp) given arrays
            raise _refuse(op, "array", f"the array form fails on arrays: {error!r}") from None
    for i, point in enumerate(points):
        try:
            expected = float(op.forward(*point))
        except (ValueError, ArithmeticError):
            expected = math.nan
        if not math.isfinite(expected):
            if math.isfinite(out[i]) and not bad[i]:
                raise _refuse(op, "array", f"the array form gives {out[i]!r} at {point}, "
                                 "where forward raises (give an invalid mask)")
            continue
        if bad[i] or not math.isclose(out[i], expected, rel_tol=1e-9, abs_tol=1e-12):
            raise _refuse(op, "array", f"the array forward gives {out[i]!r} at {point}, "
                             f"forward gives {expected!r}")
        for j, (local, want) in enumerate(zip(partials, op.partials(*point, expected))):
            got = float(np.broadcast_to(local, xs[0].shape)[i])
            if not math.isclose(got, float(want), rel_tol=1e-9, abs_tol=1e-12):
                raise _refuse(op, "array", f"the array partial {j + 1} gives {got!r} at "
                                 f"{point}, partials gives {float(want)!r}")


# Each check takes the record; check_record runs them in order (the shape first: the later checks
# evaluate forward and partials). A new field of Op gets its own check here.
FIELD_CHECKS: list[Callable[[Op], None]] = [_check_shape, _check_text_fields, _check_formulas,
                                            _check_templates, _check_array_form]


def check_record(op: Op) -> None:
    """ValueError, naming the field, unless every field of op is consistent with its forward and
    partials; TypeError if op is not an Op."""
    if not isinstance(op, Op):
        raise TypeError(f"register_op: expected an Op, got {type(op).__name__}")
    _check_name(op)
    check_fields(op)


def check_fields(op: Op) -> None:
    """Every field of op against its forward and partials (what check_record adds to the name
    check; the built-in records pass it too)."""
    for check in FIELD_CHECKS:
        check(op)
    points = _points(op)
    for check_at in POINT_CHECKS:
        check_at(op, points)


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


Point = tuple[tuple[float, ...], float, tuple]


def _check_partials(op: Op, points: list[Point]) -> None:
    """The formulas agree with the partials wherever the forward is defined."""
    names = op.input_names(op.arity)
    for xs, out, partials in points:
        values = dict(zip(names, xs), out=out)
        for name, formula, local in zip(names, op.formulas_for(op.arity), partials):
            try:
                expected = formula_value(formula, values)
            except ValueError:
                continue
            if not math.isclose(float(local), expected, rel_tol=1e-9, abs_tol=1e-12):
                raise _refuse(op, "formulas", f"the formula {formula!r} for d(out)/d({name}) gives "
                              f"{expected!r} at {values}, but partials gives {float(local)!r}")


_MATH = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}  # as the replay has


def _run_replay(op: Op, replay: Replay, xs: tuple[float, ...]) -> tuple[float, tuple] | None:
    """The replay code's forward and partials at xs, in a namespace holding all of math (None
    where its redo condition sends the replay back to the op's own forward)."""
    names = [f"x{i}" for i in range(len(xs))]
    scope: dict = {**_MATH, **dict(zip(names, xs))}
    fmt = {"out": "out", "t": "t"}
    try:
        if replay.redo_if and eval(replay.redo_if.format(*names, **fmt), scope):  # noqa: S307 (the op's own code)
            return None
        exec(replay.forward.format(*names, **fmt), scope)  # noqa: S102 (the op's own code, not user text)
        partials = tuple(eval(p.format(*names, **fmt), scope) for p in replay.partials)  # noqa: S307
    except Exception as error:
        raise _refuse(op, "replay", f"its code fails at {xs}: {type(error).__name__}: {error}") from None
    return scope.get("out"), partials


def _check_replay(op: Op, points: list[Point]) -> None:
    """The replay code gives forward's and partials' floats, bit for bit (the compiled replay's promise)."""
    if op.replay is None:
        return
    replay = op.replay(op, op.arity) if callable(op.replay) else op.replay
    if not isinstance(replay, Replay) or len(replay.partials) != op.arity:
        raise _refuse(op, "replay", f"must be an ops.Replay with one partial per input ({op.arity})")
    for xs, out, partials in points:
        ran = _run_replay(op, replay, xs)
        if ran is None:
            continue
        if ran[0] != out:
            raise _refuse(op, "replay", f"its forward gives {ran[0]!r} at {xs}, forward gives {out!r}")
        for i, (got, want) in enumerate(zip(ran[1], partials)):
            if got != float(want):
                raise _refuse(op, "replay", f"its partial for input {i} gives {got!r} at {xs}, partials "
                              f"gives {float(want)!r}")


def _check_sympy(op: Op, points: list[Point]) -> None:
    """The SymPy form's value agrees with forward (checked when SymPy is installed)."""
    if op.sympy is None:
        return
    try:
        import sympy
    except ImportError:
        return  # the field is read when diff or to_sympy first meet the op, which need SymPy anyway
    for xs, out, _ in points:
        try:
            value = complex(op.sympy(sympy, *(sympy.Float(x, 30) for x in xs)).evalf(30))
        except Exception as error:
            raise _refuse(op, "sympy", f"fails at {xs}: {type(error).__name__}: {error}") from None
        if abs(value.imag) > 1e-12 or not math.isclose(value.real, out, rel_tol=1e-9, abs_tol=1e-12):
            raise _refuse(op, "sympy", f"gives {value.real!r} at {xs}, forward gives {out!r}")


POINT_CHECKS: list[Callable[[Op, list[Point]], None]] = [_check_partials, _check_replay, _check_sympy]


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
