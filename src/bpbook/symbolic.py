"""SymPy counterparts of the package's formulas, and a check that the two agree.

Chapters derive a derivative symbolically (``sympy.diff``), then ask whether the numeric
code computes the same thing. :func:`assert_matches` answers that on random points, so
"the formula in the text" and "the code that runs" are tied together by a test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

__all__ = ["ACTIVATIONS", "activation", "assert_matches"]

z = sp.Symbol("z", real=True)

#: The elementwise activations as SymPy expressions in the real symbol ``z``.
#: ReLU is ``Max(0, z)``. SymPy differentiates it to ``Heaviside(z)``, to which it gives
#: the value 1/2 at 0 (``Heaviside(0) == 1/2``); the package's ``relu_prime`` uses 0
#: there. ReLU has no derivative at 0, every value in [0, 1] is a subgradient, and a
#: comparison at random points never lands on ``z = 0`` exactly.
ACTIVATIONS: dict[str, sp.Expr] = {
    "sigmoid": 1 / (1 + sp.exp(-z)),
    "tanh": sp.tanh(z),
    "relu": sp.Max(0, z),
    "identity": z,
}


def activation(name: str, argument: sp.Expr | None = None) -> sp.Expr:
    """The activation ``name`` as a SymPy expression, of ``z`` or of ``argument``."""
    try:
        expr = ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; known activations: {known}") from None
    return expr if argument is None else expr.subs(z, argument)


def assert_matches(
    expr: sp.Expr,
    symbols: Sequence[sp.Symbol],
    numeric: Callable[..., object],
    samples: int = 20,
    low: float = -3.0,
    high: float = 3.0,
    seed: int = 0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> float:
    """Check that ``numeric`` computes ``expr`` at random points; return the worst error.

    Each symbol gets an independent uniform sample in ``[low, high]``; ``expr`` is turned
    into a numpy function with ``sympy.lambdify`` and compared with
    ``numeric(*values)`` elementwise.

    Raises
    ------
    AssertionError
        With the worst point, if the two differ by more than ``atol + rtol·|expected|``.
    """
    rng = np.random.default_rng(seed)
    values = [rng.uniform(low, high, samples) for _ in symbols]
    expected = np.broadcast_to(
        np.asarray(sp.lambdify(list(symbols), expr, "numpy")(*values), dtype=np.float64),
        (samples,),
    )
    actual = np.broadcast_to(np.asarray(numeric(*values), dtype=np.float64), (samples,))
    error = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    if np.any(error > bound):
        worst = int(np.argmax(error - bound))
        point = {str(s): float(v[worst]) for s, v in zip(symbols, values, strict=True)}
        raise AssertionError(
            f"numeric value {actual[worst]!r} differs from symbolic {expected[worst]!r} "
            f"at {point} (error {error[worst]:.3e})"
        )
    return float(error.max())
