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
    "identity_prime_from_output",
    "relu",
    "relu_prime",
    "relu_prime_from_output",
    "sigmoid",
    "sigmoid_prime",
    "sigmoid_prime_from_output",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
    "tanh",
    "tanh_prime",
    "tanh_prime_from_output",
]

Array = NDArray[np.float64]


def sigmoid(z: ArrayLike) -> Array:
    """Logistic function, ``σ(z) = 1 / (1 + exp(−z))``, for every float64 ``z``.

    For ``z < −709.78``, ``exp(−z)`` overflows to ``inf`` and the result is
    ``1 / (1 + inf) = 0``. The true value there is below ``1e−308``: for
    ``z < −745.13`` it rounds to 0 anyway, and in between (subnormal numbers,
    e.g. ``σ(−720) ≈ 2.0e−313``) the error is below ``5.6e−309``. The
    overflow is harmless, so it is silenced rather than avoided. Everywhere
    else the result is within about one unit in the last place, in the tails
    too, because no difference of nearly equal numbers is formed.

    Examples
    --------
    >>> float(sigmoid(0.0))
    0.5
    >>> float(sigmoid(-1000.0))
    0.0
    """
    z = as_float_array(z, "z")
    # The same three operations as 1 / (1 + exp(−z)), done in one new array:
    # large temporaries cost more than the arithmetic on them.
    s = np.negative(z, out=np.empty_like(z))
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)
    return s[()]  # a NumPy scalar for a scalar z, as a ufunc would return


def sigmoid_prime(z: ArrayLike) -> Array:
    """Derivative of the sigmoid: ``σ(z)(1 − σ(z))``, at most 1/4 (at z = 0)."""
    return sigmoid_prime_from_output(sigmoid(z))


def sigmoid_prime_from_output(a: ArrayLike) -> Array:
    """``σ'(z)`` from the activation ``a = σ(z)``: ``a(1 − a)``, with no exponential."""
    a = as_float_array(a, "a")
    slope = 1.0 - a
    slope *= a
    return slope


def tanh(z: ArrayLike) -> Array:
    """Hyperbolic tangent, ``(e^z - e^-z) / (e^z + e^-z)``."""
    return np.tanh(as_float_array(z, "z"))


def tanh_prime(z: ArrayLike) -> Array:
    """Derivative of tanh: ``1 - tanh(z)**2``, at most 1 (at z = 0)."""
    return tanh_prime_from_output(tanh(z))


def tanh_prime_from_output(a: ArrayLike) -> Array:
    """``tanh'(z)`` from the activation ``a = tanh(z)``: ``1 − a²``."""
    a = as_float_array(a, "a")
    slope = np.multiply(a, a, out=np.empty_like(a))
    np.subtract(1.0, slope, out=slope)
    return slope[()]


def relu(z: ArrayLike) -> Array:
    """Rectified linear unit, ``max(0, z)``."""
    return np.maximum(as_float_array(z, "z"), 0.0)


def relu_prime(z: ArrayLike) -> Array:
    """Derivative of ReLU: 1 where ``z > 0``, else 0.

    ReLU has no derivative at exactly 0; like every deep-learning library we use 0
    there (any value in [0, 1] is a valid subgradient).
    """
    return (as_float_array(z, "z") > 0).astype(np.float64)


def relu_prime_from_output(a: ArrayLike) -> Array:
    """``ReLU'(z)`` from ``a = max(0, z)``: 1 where ``a > 0`` (that is, ``z > 0``), else 0."""
    return (as_float_array(a, "a") > 0).astype(np.float64)


def identity(z: ArrayLike) -> Array:
    """The identity, ``g(z) = z``: a linear output for regression."""
    return as_float_array(z, "z").copy()


def identity_prime(z: ArrayLike) -> Array:
    """Derivative of the identity: 1 everywhere."""
    return np.ones_like(as_float_array(z, "z"))


def identity_prime_from_output(a: ArrayLike) -> Array:
    """The identity's derivative from its output: 1 everywhere."""
    return np.ones_like(as_float_array(a, "a"))


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
    """Jacobian of the softmax over the last axis: ``J = diag(p) − p pᵀ``.

    Entry ``J[..., k, j] = ∂p_k/∂z_j = p_k([k = j] − p_j)``, from the quotient rule on
    ``p_k = e^{z_k} / Σ_j e^{z_j}``: the numerator depends on ``z_j`` only when ``j = k``,
    the denominator always. ``J`` is symmetric, and its rows and columns sum to 0
    because the probabilities always sum to 1. Forming it costs ``K²`` numbers per
    example; backpropagation never needs it, only :func:`softmax_backward`.

    Parameters
    ----------
    z : array_like, shape (..., K)

    Returns
    -------
    ndarray, shape (..., K, K)

    Examples
    --------
    >>> softmax_jacobian([0.0, 0.0]).tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    p = softmax(z)
    return p[..., :, None] * (np.eye(p.shape[-1]) - p[..., None, :])


def softmax_backward(p: ArrayLike, grad_p: ArrayLike) -> Array:
    """Vector-Jacobian product of the softmax: ``∂E/∂z`` from ``p̄ = ∂E/∂p``.

    The chain rule through ``p = softmax(z)`` is ``∂E/∂z = Jᵀ p̄``, row by
    row, with ``J = diag(p) − p pᵀ`` (symmetric, see :func:`softmax_jacobian`):
    ``Jᵀ p̄ = p ⊙ p̄ − p (pᵀ p̄) = p ⊙ (p̄ − (p̄ · p))``. That is one dot
    product and one elementwise product, ``O(K)`` work per example, where
    forming ``J`` and multiplying by it costs ``O(K²)``.

    Parameters
    ----------
    p : array_like, shape (..., K)
        Softmax outputs, one distribution per row.
    grad_p : array_like, same shape as ``p``
        Gradient of the loss with respect to ``p``.

    Returns
    -------
    ndarray, same shape as ``p``
        Gradient of the loss with respect to the logits ``z``.

    Raises
    ------
    ValueError
        If ``p`` and ``grad_p`` differ in shape.

    Examples
    --------
    A gradient that is the same for every class moves no logit: the
    probabilities must still sum to 1, so they cannot all rise together.

    >>> softmax_backward([[0.2, 0.3, 0.5]], [[4.0, 4.0, 4.0]]).tolist()
    [[0.0, 0.0, 0.0]]
    """
    p = as_float_array(p, "p")
    grad_p = as_float_array(grad_p, "grad_p")
    if p.shape != grad_p.shape:
        raise ValueError(
            f"p has shape {p.shape} but grad_p has shape {grad_p.shape}"
        )
    return p * (grad_p - np.sum(grad_p * p, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``g`` together with its derivative ``g'``.

    ``derivative(z)`` is ``g'(z)``. ``derivative_from_output(a)`` is the same number
    computed from the activation ``a = g(z)`` instead, which backpropagation has at hand
    from the forward pass; for the sigmoid it is ``a(1 − a)``, which spares recomputing
    ``σ(z)``.
    """

    name: str
    function: Callable[[ArrayLike], Array]
    derivative: Callable[[ArrayLike], Array]
    derivative_from_output: Callable[[ArrayLike], Array]

    def __call__(self, z: ArrayLike) -> Array:
        return self.function(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime, sigmoid_prime_from_output),
    "tanh": Activation("tanh", tanh, tanh_prime, tanh_prime_from_output),
    "relu": Activation("relu", relu, relu_prime, relu_prime_from_output),
    "identity": Activation("identity", identity, identity_prime, identity_prime_from_output),
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
