"""Input checks shared by the public functions.

Every public entry point converts its array arguments here, so a bad argument fails
at the door with a message that names it, instead of deep inside a numpy expression.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_float_array", "check_count", "check_finite", "check_nonnegative", "check_positive",
    "is_integer", "is_real",
]


# Why not isinstance(x, numbers.Real) at the call sites: a type checker does not count
# int and float as subclasses of the numbers ABCs, so on an argument annotated `float` it
# takes the check for impossible and skips the rest of the function. These guards take
# any object and tell the checker what a True means.

def is_integer(value: object) -> TypeGuard[int]:
    """True for an integer (``int``, a NumPy integer), False for a bool and the rest."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    """True for a real number (``int``, ``float``, NumPy's), False for a bool and the rest."""
    return isinstance(value, Real) and not isinstance(value, bool)


def as_float_array(
    value: ArrayLike,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
) -> NDArray[np.float64]:
    """Return ``value`` as a float64 array, or raise naming ``name``.

    Integers and booleans are converted exactly. Floating types narrower than float64
    (float16, float32) are refused rather than silently mixed into float64 arithmetic:
    the book promises float64 throughout, and a gradient check at 1e-7 cannot pass in
    single precision.

    Raises
    ------
    TypeError
        If the values are not real numbers, or are floats narrower than float64.
    ValueError
        If the number of dimensions is not one of ``ndim``.
    """
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype != np.float64:
            raise TypeError(
                f"{name} has dtype {array.dtype}, but bpbook computes in float64; "
                f"convert it first, e.g. {name}.astype(np.float64)"
            )
    elif kind in "iub":
        array = array.astype(np.float64)
    else:
        raise TypeError(f"{name} must contain real numbers, got dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            wanted = " or ".join(str(d) for d in allowed)
            raise ValueError(
                f"{name} must be a {wanted}-dimensional array, got shape {array.shape}"
            )
    return array


def check_finite(array: NDArray[np.float64], name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``array`` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or infinity (first at index {where}); "
            "clean the data before passing it in"
        )


def check_nonnegative(value: object, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite real number >= 0."""
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_count(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if not is_integer(value):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
