"""What a network's starting weights do to its forward pass, measured layer by layer.

Chapter 1 asks why the weights a network starts from are random, and why their standard
deviation is ``1/sqrt(n_{l-1})``. Both answers are measurements on one forward pass, and
this module makes them.

Notation as on the book's Notation page: ``W^(l)`` (shape ``(n_l, n_{l-1})``) is
``net.weights[l-1]``, ``Z^(l)`` is ``zs[l-1]`` and ``A^(l)`` is ``activations[l]``, with
examples as rows. If the weights ``w^(l)_{jk}`` are drawn independently of each other and
of the activations they multiply, with mean 0 and variance ``Var(w^(l))``, then for
every example, because the cross terms have mean 0,

    E_W[(z^(l)_j)²] = n_{l-1} Var(w^(l)) · mean_k (a^(l-1)_k)² + (b^(l)_j)²        (1)

(``E_W`` is the expectation over the random weights). Applied to the part of
``a^(l-1)`` that varies from example to example, the same computation gives

    E_W[Var_i z^(l)_{ij}] = n_{l-1} Var(w^(l)) · mean_k Var_i a^(l-1)_{ik}        (2)

(``Var_i`` is the variance over the examples of the minibatch), so a layer with
``n_{l-1} Var(w^(l)) = 1`` passes the variation between examples on at the same size,
and the activation function then multiplies it by its slope.

:func:`layer_statistics` measures both sides of (1) and (2) on a minibatch; it uses the
mean square of each weight matrix for ``Var(w^(l))``, which for freshly drawn weights is
``Var(w^(l))`` up to sampling noise. (For trained weights the independence behind (1)
and (2) no longer holds, and the "prediction" is just the formula evaluated.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook._checks import as_float_array, check_finite
from bpbook.network import MLP

__all__ = ["LayerStatistics", "layer_statistics", "spread"]

Array = NDArray[np.float64]


def spread(A: ArrayLike) -> float:
    """How much a layer's values vary from example to example.

    The root of the mean, over the units (columns), of the variance over the examples
    (rows): ``sqrt(mean_j Var_i A_ij)``, a root-mean-square standard deviation. It is 0
    exactly when every example gives the layer the same values.

    Parameters
    ----------
    A : array_like, shape (m, n_l)
        One example per row, e.g. ``Z^(l)`` or ``A^(l)`` of a forward pass.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``A`` is not a 2-d array with at least one row and one column, or holds NaN
        or infinity.

    Examples
    --------
    >>> spread([[0.0, 1.0], [2.0, 1.0]])  # variances 1 and 0, mean 1/2
    0.7071067811865476
    """
    A = as_float_array(A, "A", ndim=2)
    if A.size == 0:
        raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
    check_finite(A, "A")
    return float(np.sqrt(A.var(axis=0).mean()))


class LayerStatistics(NamedTuple):
    """Measurements of one forward pass, per layer.

    Arrays over ``l = 1 .. L`` have ``L`` entries (entry ``l-1`` is layer ``l``, as with
    ``zs``); arrays over ``l = 0 .. L`` have ``L + 1`` (entry ``l`` is layer ``l``, as
    with ``activations``).

    Attributes
    ----------
    z_second_moment : ndarray, shape (L,)
        ``mean(Z^(l)²)`` over examples and units: the measured left side of (1).
    z_second_moment_predicted : ndarray, shape (L,)
        ``n_{l-1} · mean(W^(l)²) · mean(A^(l-1)²) + mean(b^(l)²)``: the right side of (1).
    a_second_moment : ndarray, shape (L + 1,)
        ``mean(A^(l)²)``; entry 0 is the inputs'.
    z_spread : ndarray, shape (L,)
        :func:`spread` of ``Z^(l)``: the measured left side of (2), as a root.
    z_spread_predicted : ndarray, shape (L,)
        ``sqrt(n_{l-1} · mean(W^(l)²)) · spread(A^(l-1))``: the right side of (2), as a root.
    a_spread : ndarray, shape (L + 1,)
        :func:`spread` of ``A^(l)``; entry 0 is the inputs'.
    """

    z_second_moment: Array
    z_second_moment_predicted: Array
    a_second_moment: Array
    z_spread: Array
    z_spread_predicted: Array
    a_spread: Array


def layer_statistics(net: MLP, X: ArrayLike) -> LayerStatistics:
    """Run ``net`` on the minibatch ``X`` and measure the size of ``Z`` and ``A`` per layer.

    Parameters
    ----------
    net : MLP
    X : array_like, shape (m, n_0)
        One example per row; with ``m = 1`` every spread is 0.

    Returns
    -------
    LayerStatistics
        Measured and predicted second moments and spreads, layer by layer.

    Raises
    ------
    TypeError
        If ``net`` is not an :class:`~bpbook.network.MLP`.
    ValueError
        If ``X`` does not fit ``net`` (see :meth:`MLP.check_inputs`).

    Examples
    --------
    >>> net = MLP([3, 4, 2], activation="tanh", seed=0)
    >>> stats = layer_statistics(net, np.eye(3))
    >>> stats.z_second_moment.shape, stats.a_spread.shape
    ((2,), (3,))
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP, got {type(net).__name__}")
    zs, acts = net.forward_pass(X)
    L = net.n_layers
    z_moment, z_moment_predicted, z_spread, z_spread_predicted = (np.empty(L) for _ in range(4))
    for l in range(1, L + 1):
        W, b, A_before = net.weights[l - 1], net.biases[l - 1], acts[l - 1]
        n_before = W.shape[1]
        weight_variance = float(np.mean(W**2))  # the weights' mean square stands in for Var(w)
        z_moment[l - 1] = np.mean(zs[l - 1] ** 2)
        z_moment_predicted[l - 1] = (
            n_before * weight_variance * np.mean(A_before**2) + np.mean(b**2)
        )
        z_spread[l - 1] = spread(zs[l - 1])
        z_spread_predicted[l - 1] = np.sqrt(n_before * weight_variance) * spread(A_before)
    return LayerStatistics(
        z_second_moment=z_moment,
        z_second_moment_predicted=z_moment_predicted,
        a_second_moment=np.array([np.mean(A**2) for A in acts]),
        z_spread=z_spread,
        z_spread_predicted=z_spread_predicted,
        a_spread=np.array([spread(A) for A in acts]),
    )
