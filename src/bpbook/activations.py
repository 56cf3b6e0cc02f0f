"""Activation functions g and their derivatives g'.

A neuron computes ``a = g(z)`` from its weighted input ``z``. Backpropagation needs
``g'(z)``, the slope of the activation at the same ``z``; each function below therefore
sits next to its derivative, so the two can be checked against each other at a glance.

The elementwise activations can be looked up by name with :func:`get_activation`.
The softmax is not elementwise (every output depends on every input), so it has a
Jacobian, :func:`softmax_jacobian`, and a vector-Jacobian product,
:func:`softmax_backward`, instead of a derivative of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook._checks import as_float_array

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "identity",
    "identity_prime",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
    "tanh",
    "tanh_prime",
]

Array = NDArray[np.float64]


def sigmoid(z: ArrayLike) -> Array:
    """Logistic function, ``1 / (1 + exp(-z))``, without overflow.

    ``exp(-z)`` overflows for ``z < -709``; we only ever exponentiate ``-|z|``, which
    lies in ``(0, 1]``, and pick the algebraically equal form that suits the sign of z.

    Examples
    --------
    >>> float(sigmoid(0.0))
    0.5
    >>> float(sigmoid(-1000.0))
    0.0
    """
    z = as_float_array(z, "z")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(z: ArrayLike) -> Array:
    """Derivative of the sigmoid: ``sigmoid(z) * (1 - sigmoid(z))``, at most 1/4."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: ArrayLike) -> Array:
    """Hyperbolic tangent, ``(e^z - e^-z) / (e^z + e^-z)``."""
    return np.tanh(as_float_array(z, "z"))


def tanh_prime(z: ArrayLike) -> Array:
    """Derivative of tanh: ``1 - tanh(z)**2``, at most 1 (at z = 0)."""
    t = tanh(z)
    return 1.0 - t * t


def relu(z: ArrayLike) -> Array:
    """Rectified linear unit, ``max(0, z)``."""
    return np.maximum(as_float_array(z, "z"), 0.0)


def relu_prime(z: ArrayLike) -> Array:
    """Derivative of ReLU: 1 where ``z > 0``, else 0.

    ReLU has no derivative at exactly 0; like every deep-learning library we use 0
    there (any value in [0, 1] is a valid subgradient).
    """
    return (as_float_array(z, "z") > 0).astype(np.float64)


def identity(z: ArrayLike) -> Array:
    """The identity, ``g(z) = z``: a linear output for regression."""
    return as_float_array(z, "z").copy()


def identity_prime(z: ArrayLike) -> Array:
    """Derivative of the identity: 1 everywhere."""
    return np.ones_like(as_float_array(z, "z"))


def softmax(z: ArrayLike, axis: int = -1) -> Array:
    """Softmax along ``axis``: ``exp(z_k) / sum_j exp(z_j)``.

    Subtracting ``max_j z_j`` first changes nothing mathematically (it cancels between
    numerator and denominator) but keeps every exponent <= 0, so nothing overflows.

    Examples
    --------
    >>> softmax([1000.0, 1000.0]).tolist()
    [0.5, 0.5]
    """
    z = as_float_array(z, "z")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(z: ArrayLike) -> Array:
    """Jacobian of the softmax over the last axis: ``J[..., k, j] = p_k (δ_kj - p_j)``.

    Parameters
    ----------
    z : array_like, shape (..., K)

    Returns
    -------
    ndarray, shape (..., K, K)
    """
    p = softmax(z)
    return p[..., :, None] * (np.eye(p.shape[-1]) - p[..., None, :])


def softmax_backward(p: ArrayLike, grad_p: ArrayLike) -> Array:
    """Vector-Jacobian product of the softmax: ``dE/dz`` from ``dE/dp``.

    With ``J = diag(p) - p pᵀ`` (symmetric), ``Jᵀ g = p ⊙ (g - (g · p))`` for each row;
    computing it this way costs O(K) per example instead of the O(K²) of the Jacobian.

    Parameters
    ----------
    p : array_like, shape (m, K)
        Softmax outputs.
    grad_p : array_like, shape (m, K)
        Gradient of the loss with respect to ``p``.
    """
    p = as_float_array(p, "p")
    grad_p = as_float_array(grad_p, "grad_p")
    if p.shape != grad_p.shape:
        raise ValueError(f"p has shape {p.shape} but grad_p has shape {grad_p.shape}")
    return p * (grad_p - np.sum(grad_p * p, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``g`` together with its derivative ``g'``."""

    name: str
    function: Callable[[ArrayLike], Array]
    derivative: Callable[[ArrayLike], Array]

    def __call__(self, z: ArrayLike) -> Array:
        return self.function(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime),
    "tanh": Activation("tanh", tanh, tanh_prime),
    "relu": Activation("relu", relu, relu_prime),
    "identity": Activation("identity", identity, identity_prime),
}


def get_activation(name: str) -> Activation:
    """Look up an elementwise activation by name.

    Parameters
    ----------
    name : {"sigmoid", "tanh", "relu", "identity"}

    Raises
    ------
    ValueError
        If ``name`` is not one of the known activations.

    Examples
    --------
    >>> g = get_activation("tanh")
    >>> float(g.derivative(0.0))
    1.0
    """
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; known activations: {known}") from None
