"""Gradient checking: compare backpropagation with finite differences.

The central difference ``(f(x + h) − f(x − h)) / 2h`` has error ``O(h²)`` (the one-sided
difference only ``O(h)``), and ``h = 1e-5`` balances that truncation error against the
rounding error ``~ ε/h`` of float64 arithmetic (ε ≈ 2.2e-16). With both, a correct
gradient agrees to a relative error around 1e-8 or better on smooth functions; an error
above 1e-4 almost always means a bug. Near a kink (ReLU at 0) the difference straddles
the kink and disagrees for a legitimate reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook._checks import as_float_array

__all__ = ["GradientCheck", "check_gradients", "numerical_gradient", "relative_error"]

Array = NDArray[np.float64]


def numerical_gradient(f: Callable[[Array], float], x: Array, h: float = 1e-5) -> Array:
    """Gradient of a scalar function by central differences.

    Each entry of ``x`` is nudged *in place* by ``±h``, ``f(x)`` evaluated, and the entry
    restored, so ``f`` may read ``x`` through a closure (for instance a network's weight
    matrix) as well as through its argument. ``x`` is unchanged on return.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real number.
    x : ndarray of float64
        The point; modified temporarily, restored on return.
    h : float
        Step size, > 0.

    Returns
    -------
    ndarray, same shape as ``x``

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient(lambda v: float(v[0] ** 2 + 3 * v[1]), x), 6).tolist()
    [2.0, 3.0]
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 numpy array (it is perturbed in place), "
            f"got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    if not (isinstance(h, (int, float)) and np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)  # views, so writes reach x
    for i in range(flat.size):
        original = flat[i]
        try:
            flat[i] = original + h
            f_plus = float(f(x))
            flat[i] = original - h
            f_minus = float(f(x))
        finally:
            flat[i] = original
        grad_flat[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """``|a − b| / max(|a|, |b|)``, with ``|·|`` the Euclidean norm for arrays.

    The norm form compares the gradients as vectors, so a single entry that is zero up to
    rounding in both cannot dominate. Two exact zeros give 0, not a division by zero.

    Examples
    --------
    >>> relative_error([1.0, 0.0], [1.0, 0.0])
    0.0
    >>> relative_error(0.0, 0.0)
    0.0
    >>> round(relative_error(1.0, 1.1), 6)
    0.090909
    """
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}")
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b)) / scale


@dataclass(frozen=True)
class GradientCheck:
    """Relative errors between backpropagation and finite differences, per layer."""

    weight_errors: tuple[float, ...]
    bias_errors: tuple[float, ...]

    @property
    def max_error(self) -> float:
        """The largest relative error over all layers."""
        return max(self.weight_errors + self.bias_errors)

    def passed(self, tolerance: float = 1e-7) -> bool:
        """Whether every layer's relative error is at most ``tolerance``."""
        return self.max_error <= tolerance

    def __str__(self) -> str:
        rows = ["layer   rel. error W   rel. error b"]
        for l, (ew, eb) in enumerate(zip(self.weight_errors, self.bias_errors)):
            rows.append(f"{l:>5}   {ew:12.2e}   {eb:12.2e}")
        return "\n".join(rows)


def check_gradients(
    net, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0, h: float = 1e-5
) -> GradientCheck:
    """Compare ``net.gradients`` with central differences of ``net.loss``, layer by layer.

    Parameters
    ----------
    net : bpbook.network.MLP
        Any object with ``weights``, ``biases``, ``loss(X, Y, loss, l2)`` and
        ``gradients(X, Y, loss, l2)`` works, so a deliberately broken network can be
        checked the same way.
    X, Y, loss, l2
        As for :meth:`bpbook.network.MLP.gradients`.
    h : float
        Finite-difference step.

    Returns
    -------
    GradientCheck
        Relative error (:func:`relative_error`) for each layer's weights and biases.
    """
    _, grad_w, grad_b = net.gradients(X, Y, loss=loss, l2=l2)

    def f(_: Array) -> float:
        return net.loss(X, Y, loss=loss, l2=l2)

    weight_errors = tuple(
        relative_error(g, numerical_gradient(f, W, h)) for g, W in zip(grad_w, net.weights)
    )
    bias_errors = tuple(
        relative_error(g, numerical_gradient(f, b, h)) for g, b in zip(grad_b, net.biases)
    )
    return GradientCheck(weight_errors, bias_errors)
