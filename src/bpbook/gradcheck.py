"""Gradient checking: compare backpropagation with finite differences.

The central difference ``(f(x + h) − f(x − h)) / 2h`` has error ``O(h²)`` (the one-sided
difference only ``O(h)``), and ``h = 1e-5`` balances that truncation error against the
rounding error ``~ ε/h`` of float64 arithmetic (ε ≈ 2.2e-16). With both, a correct
gradient agrees to a relative error around 1e-8 or better on smooth functions; an error
above 1e-4 almost always means a bug. Near a kink (ReLU at 0) the difference straddles
the kink and disagrees for a legitimate reason.

Two relative errors are reported, because they answer different questions:

- :func:`relative_error`, ``‖a − b‖ / max(‖a‖, ‖b‖)`` over a whole array (one layer's
  weights, say): the size of the error *compared with the whole gradient*. Small entries
  hardly count, so one small entry can be completely wrong while the ratio stays tiny.
- :func:`elementwise_relative_error`, ``|a_k − b_k| / max(|a_k|, |b_k|)`` for every
  entry ``k``, and its maximum: every entry must be right *compared with itself*. This is
  the quantity to which the usual thresholds (1e-7 correct, 1e-4 suspicious, 1e-2 wrong)
  refer. It is stricter, and noisier: an entry far smaller than the rest is computed by
  the finite difference with fewer correct digits, since the rounding error ``~ ε|f|/h``
  does not shrink with the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook._checks import as_float_array, check_count

__all__ = [
    "GradientCheck",
    "check_gradients",
    "elementwise_relative_error",
    "numerical_gradient",
    "numerical_partials",
    "relative_error",
]

Array = NDArray[np.float64]


class Network(Protocol):
    """What :func:`check_gradients` needs of a network: an MLP, or a deliberately broken one."""

    @property
    def weights(self) -> Sequence[Array]: ...

    @property
    def biases(self) -> Sequence[Array]: ...

    def loss(self, X: ArrayLike, Y: ArrayLike, loss: str = ..., l2: float = ...) -> float: ...

    def gradients(
        self, X: ArrayLike, Y: ArrayLike, loss: str = ..., l2: float = ...
    ) -> tuple[float, Sequence[Array], Sequence[Array]]: ...


def _check_point(f: object, x: object) -> None:
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 numpy array (it is perturbed in place), "
            f"got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )


def _check_step(h: object) -> float:
    if isinstance(h, bool) or not (isinstance(h, (int, float)) and np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    return float(h)


def numerical_partials(
    f: Callable[[Array], float],
    x: Array,
    indices: Sequence[int] | NDArray[np.integer],
    h: float = 1e-5,
) -> Array:
    """Partial derivatives of a scalar function at chosen entries, by central differences.

    Entry ``x.flat[k]`` for each ``k`` in ``indices`` (the position in ``x.ravel()``,
    whatever the memory layout of ``x``) is nudged *in place* by ``±h``,
    ``f(x)`` evaluated, and the entry restored: ``2 len(indices)`` evaluations of ``f``.
    ``f`` may read ``x`` through a closure (for instance a network's weight matrix) as
    well as through its argument. ``x`` is unchanged on return, even if ``f`` raises.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real number.
    x : ndarray of float64
        The point; modified temporarily, restored on return.
    indices : sequence of int, or integer ndarray
        Positions in ``x.ravel()`` at which to differentiate.
    h : float
        Step size, > 0.

    Returns
    -------
    ndarray, shape (len(indices),)
        ``∂f/∂x.flat[k]`` for each ``k``, in the order of ``indices``.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> np.round(numerical_partials(lambda v: float(np.sum(v ** 2)), x, [3, 0]), 6).tolist()
    [8.0, 2.0]
    """
    _check_point(f, x)
    h = _check_step(h)
    positions = [int(k) for k in indices]
    for k in positions:
        if not -x.size <= k < x.size:
            raise IndexError(f"index {k} is out of range for x of size {x.size}")
    partials = np.empty(len(positions))
    for i, k in enumerate(positions):
        # Index x itself, not x.reshape(-1): for an array in Fortran order or a strided
        # view, the reshape is a copy, and a nudge of the copy would not reach x.
        entry = np.unravel_index(k % x.size, x.shape)
        original = x[entry]
        try:
            x[entry] = original + h
            f_plus = float(f(x))
            x[entry] = original - h
            f_minus = float(f(x))
        finally:
            x[entry] = original
        partials[i] = (f_plus - f_minus) / (2.0 * h)
    return partials


def numerical_gradient(f: Callable[[Array], float], x: Array, h: float = 1e-5) -> Array:
    """Gradient of a scalar function by central differences, every entry of ``x``.

    Each entry of ``x`` is nudged *in place* by ``±h``, ``f(x)`` evaluated, and the entry
    restored, so ``f`` may read ``x`` through a closure (for instance a network's weight
    matrix) as well as through its argument. ``x`` is unchanged on return. It costs
    ``2 x.size`` evaluations of ``f``; :func:`numerical_partials` computes a few entries.

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
    _check_point(f, x)
    return numerical_partials(f, x, range(x.size), h).reshape(x.shape)


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Array, Array]:
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}")
    return a, b


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """``‖a − b‖ / max(‖a‖, ‖b‖)``, with ``‖·‖`` the Euclidean norm for arrays.

    The norm form compares the gradients as whole vectors: it is the error relative to the
    size of the gradient, so entries much smaller than the largest ones hardly count (see
    :func:`elementwise_relative_error` for the entry-by-entry comparison). Two exact zeros
    give 0, not a division by zero.

    Examples
    --------
    >>> relative_error([1.0, 0.0], [1.0, 0.0])
    0.0
    >>> relative_error(0.0, 0.0)
    0.0
    >>> round(relative_error(1.0, 1.1), 6)
    0.090909
    >>> relative_error([1.0, 1e-9], [1.0, 0.0]) < 1e-7   # the small entry is 100% wrong
    True
    """
    a, b = _pair(a, b)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b)) / scale


def elementwise_relative_error(a: ArrayLike, b: ArrayLike) -> Array:
    """``|a_k − b_k| / max(|a_k|, |b_k|)`` for every entry ``k`` (0 where both are 0).

    Each entry is compared with its own size, the form of the relative error for which
    the thresholds of CS231n's gradient-checking notes are stated. Its maximum is the
    stricter test: :func:`relative_error` is never more than √2 times it, while a wrong
    small entry that the norm ratio hardly notices shows here at full size. Values lie in
    ``[0, 2]``: 1 means an entry is 100% wrong (for example 0 instead of a non-zero
    value), 2 that it has the wrong sign and the right size.

    Examples
    --------
    >>> elementwise_relative_error([1.0, 1e-9, 0.0], [1.0, 0.0, 0.0]).tolist()
    [0.0, 1.0, 0.0]
    >>> float(elementwise_relative_error(2.0, -2.0))
    2.0
    """
    a, b = _pair(a, b)
    scale = np.maximum(np.abs(a), np.abs(b))
    difference = np.abs(a - b)
    # Where both entries are exactly 0 the difference is 0 too: report 0, not 0/0.
    return np.divide(difference, scale, out=np.zeros_like(difference), where=scale > 0)


@dataclass(frozen=True)
class GradientCheck:
    """Relative errors between backpropagation and finite differences, per layer.

    Entry ``l − 1`` of each tuple belongs to layer ``l`` (``W^(l)`` and ``b^(l)``).

    Attributes
    ----------
    weight_errors, bias_errors : tuple of float
        :func:`relative_error` (norm ratio) of each layer's weights and biases.
    weight_elementwise, bias_elementwise : tuple of float
        The largest :func:`elementwise_relative_error` in each layer's weights and biases.
    coordinates : int
        How many partial derivatives were compared (each cost two evaluations of the loss).
    """

    weight_errors: tuple[float, ...]
    bias_errors: tuple[float, ...]
    weight_elementwise: tuple[float, ...]
    bias_elementwise: tuple[float, ...]
    coordinates: int

    @property
    def max_error(self) -> float:
        """The largest norm-ratio relative error over all layers."""
        return max(self.weight_errors + self.bias_errors)

    @property
    def max_elementwise_error(self) -> float:
        """The largest elementwise relative error over every compared entry."""
        return max(self.weight_elementwise + self.bias_elementwise)

    def passed(self, tolerance: float = 1e-7, *, elementwise: bool = False) -> bool:
        """Whether every layer's error is at most ``tolerance``.

        With ``elementwise=True`` every single entry must pass, which is the stricter test.
        """
        error = self.max_elementwise_error if elementwise else self.max_error
        return error <= tolerance

    def __str__(self) -> str:
        rows = ["layer l   ‖error‖/‖∇‖: W   b          max elementwise: W   b"]
        columns = zip(
            self.weight_errors, self.bias_errors, self.weight_elementwise,
            self.bias_elementwise, strict=True,
        )
        for l, (ew, eb, mw, mb) in enumerate(columns, start=1):
            rows.append(f"{l:>7}   {ew:12.2e} {eb:10.2e}   {mw:17.2e} {mb:10.2e}")
        return "\n".join(rows)


def check_gradients(
    net: Network,
    X: ArrayLike,
    Y: ArrayLike,
    loss: str = "mse",
    l2: float = 0.0,
    h: float = 1e-5,
    *,
    n_checked: int | None = None,
    seed: int = 0,
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
    n_checked : int, optional
        Compare only this many randomly chosen entries of each weight matrix and bias
        vector (all of them if it has fewer). A full check costs two loss evaluations per
        parameter, which for a large network is more than the training itself; a few
        random coordinates per array catch any bug that affects a whole layer.
    seed : int
        Seed of the choice of entries when ``n_checked`` is given.

    Returns
    -------
    GradientCheck
        Per layer, the norm-ratio :func:`relative_error` and the largest
        :func:`elementwise_relative_error`, for the weights and for the biases.

    Examples
    --------
    >>> from bpbook import MLP
    >>> net = MLP([2, 3, 1], activation="tanh", seed=0)
    >>> report = check_gradients(net, [[0.5, -1.0], [1.0, 2.0]], [[1.0], [0.0]])
    >>> report.passed(1e-7), report.coordinates == net.n_parameters
    (True, True)
    """
    if n_checked is not None:
        n_checked = check_count(n_checked, "n_checked", 1)
    _, grad_w, grad_b = net.gradients(X, Y, loss=loss, l2=l2)
    rng = np.random.default_rng(seed)

    def f(_: Array) -> float:
        return net.loss(X, Y, loss=loss, l2=l2)

    def compare(gradient: Array, parameter: Array) -> tuple[float, float, int]:
        if n_checked is None or n_checked >= parameter.size:
            indices = np.arange(parameter.size)
        else:
            indices = np.sort(rng.choice(parameter.size, size=n_checked, replace=False))
        analytic = np.asarray(gradient).reshape(-1)[indices]
        numeric = numerical_partials(f, parameter, indices, h)
        worst = float(np.max(elementwise_relative_error(analytic, numeric), initial=0.0))
        return relative_error(analytic, numeric), worst, indices.size

    weights = [compare(g, W) for g, W in zip(grad_w, net.weights, strict=True)]
    biases = [compare(g, b) for g, b in zip(grad_b, net.biases, strict=True)]
    return GradientCheck(
        weight_errors=tuple(w[0] for w in weights),
        bias_errors=tuple(b[0] for b in biases),
        weight_elementwise=tuple(w[1] for w in weights),
        bias_elementwise=tuple(b[1] for b in biases),
        coordinates=sum(c[2] for c in weights + biases),
    )
