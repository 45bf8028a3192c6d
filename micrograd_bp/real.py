"""The one check of a number: what the engine takes as data, a constant or an exponent."""

from __future__ import annotations

import numbers
import operator
from typing import Union

# A number the engine takes: int, float, or any other real number type (fractions.Fraction,
# numpy's float32 and int64 ...): every numbers.Real but bool, read with float() or operator.index.
Number = Union[int, float, numbers.Real]

_BIG = 2**1000  # ints below this in size convert to finite floats


def finite_float(x: object, what: str = "the number") -> float:
    """x as a float if it is a finite real number; TypeError if it is no real number, ValueError if
    it is not finite (inf, nan, or an integer too large for a float). The one check of a number."""
    cls = x.__class__
    if cls is float:
        if x - x == 0.0:  # finite (inf - inf and nan - nan are nan)
            return x
    elif cls is int and -_BIG < x < _BIG:  # the common cases first, before the ABC checks
        return float(x)
    elif isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {cls.__name__}: {x!r}")
    else:
        try:
            x = float(operator.index(x)) if isinstance(x, numbers.Integral) else float(x)
        except OverflowError:
            raise ValueError(f"{what} must be finite, got an integer of {int(x).bit_length()} bits, "
                             "too large for a float") from None
        if x - x == 0.0:
            return x
    raise ValueError(f"{what} must be finite, got {float(x)!r}")


def is_finite_real(x: object) -> bool:
    """True for a finite real number (what finite_float accepts), False for anything else."""
    try:
        finite_float(x)
    except (TypeError, ValueError):
        return False
    return True
