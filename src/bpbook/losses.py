"""Loss functions E: one number that says how wrong the network is.

Notation (the book's): ``m`` examples are the rows of every array; ``A`` (shape ``(m, K)``)
holds the network's outputs ``h(x_i)``, ``Z`` the output layer's weighted inputs (the
*logits*, with ``A = g(Z)``), and ``Y`` the targets. Every loss is a *mean over the m
examples of a sum over the K outputs*, so its gradients carry a factor ``1/m``.

=========================  =====================================================
name                       E
=========================  =====================================================
``"mse"``                  (1/m) Σ_i ‖a_i − y_i‖²
``"binary_cross_entropy"`` −(1/m) Σ_i Σ_k [y log a + (1 − y) log(1 − a)], a = σ(z)
``"softmax_cross_entropy"`` −(1/m) Σ_i Σ_k y_ik log softmax(z_i)_k
=========================  =====================================================

Backpropagation starts from the *output delta* ``δ^(L) = ∂E/∂Z``, which
:func:`loss_and_output_delta` returns together with the value of E. The two
cross-entropies are computed from the logits ``Z``, never from ``log(A)``: a saturated
sigmoid or softmax rounds ``A`` to exactly 0 or 1, and ``log(0)`` is ``-inf``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations
from bpbook._checks import as_float_array, check_finite, check_nonnegative

__all__ = [
    "LOSSES",
    "binary_cross_entropy",
    "binary_cross_entropy_gradient",
    "binary_cross_entropy_with_logits",
    "check_loss_and_output",
    "check_targets",
    "l2_penalty",
    "logsumexp",
    "loss_and_output_delta",
    "mse",
    "mse_gradient",
    "softmax_cross_entropy",
    "softmax_cross_entropy_gradient",
    "softplus",
]

Array = NDArray[np.float64]

LOSSES = ("mse", "binary_cross_entropy", "softmax_cross_entropy")

# Which output activations each loss is defined for (None: any elementwise one).
_OUTPUTS_FOR_LOSS: dict[str, tuple[str, ...] | None] = {
    "mse": None,
    "binary_cross_entropy": ("sigmoid",),
    "softmax_cross_entropy": ("identity", "softmax"),
}


def _pair(A: ArrayLike, Y: ArrayLike, a_name: str = "A") -> tuple[Array, Array]:
    """Check that outputs and targets are 2-D float arrays of one shape."""
    A = as_float_array(A, a_name, ndim=2)
    Y = as_float_array(Y, "Y", ndim=2)
    if A.shape != Y.shape:
        raise ValueError(f"{a_name} has shape {A.shape} but Y has shape {Y.shape}; they must match")
    return A, Y


def mse(A: ArrayLike, Y: ArrayLike) -> float:
    """Mean squared error, ``E = (1/m) Σ_i ‖a_i − y_i‖²``.

    Parameters
    ----------
    A, Y : array_like, shape (m, K)
        Outputs and targets, one example per row.

    Examples
    --------
    >>> mse([[1.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]])
    3.0
    """
    A, Y = _pair(A, Y)
    return float(np.sum((A - Y) ** 2) / A.shape[0])


def mse_gradient(A: ArrayLike, Y: ArrayLike) -> Array:
    """``∂E/∂A = (2/m)(A − Y)`` for :func:`mse`."""
    A, Y = _pair(A, Y)
    return 2.0 * (A - Y) / A.shape[0]


def binary_cross_entropy(A: ArrayLike, Y: ArrayLike) -> float:
    """Binary cross-entropy from probabilities ``A`` in [0, 1].

    ``E = −(1/m) Σ_i Σ_k [y log a + (1 − y) log(1 − a)]``, with ``0 log 0 = 0``.
    Returns ``inf`` when a prediction is certain and wrong; the network uses
    :func:`binary_cross_entropy_with_logits`, which has no such cliff.
    """
    A, Y = _pair(A, Y)
    if np.any((A < 0) | (A > 1)):
        raise ValueError("A must hold probabilities in [0, 1] for binary_cross_entropy")
    with np.errstate(divide="ignore"):
        log_a = np.where(Y > 0, np.log(A), 0.0)
        log_1ma = np.where(Y < 1, np.log1p(-A), 0.0)
    # 0.0 − x rather than −x: a perfect prediction then gives 0.0, not −0.0.
    return float(0.0 - np.sum(Y * log_a + (1.0 - Y) * log_1ma) / A.shape[0])


def binary_cross_entropy_gradient(A: ArrayLike, Y: ArrayLike) -> Array:
    """``∂E/∂A = (1/m)(A − Y) / (A (1 − A))`` for :func:`binary_cross_entropy`."""
    A, Y = _pair(A, Y)
    return (A - Y) / (A * (1.0 - A)) / A.shape[0]


def softplus(z: ArrayLike) -> Array:
    """``log(1 + e^z)`` computed as ``max(z, 0) + log1p(e^−|z|)`` so it never overflows."""
    z = as_float_array(z, "z")
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def binary_cross_entropy_with_logits(Z: ArrayLike, Y: ArrayLike) -> float:
    """Binary cross-entropy of ``A = σ(Z)``, computed from the logits ``Z``.

    Since ``−log σ(z) = softplus(−z)`` and ``−log(1 − σ(z)) = softplus(z)``, the loss per
    output is ``softplus(z) − y z``, which stays finite for any finite ``z``.
    """
    Z, Y = _pair(Z, Y, "Z")
    return float(np.sum(softplus(Z) - Y * Z) / Z.shape[0])


def logsumexp(Z: ArrayLike, axis: int = -1) -> Array:
    """``log Σ_k exp(z_k)`` along ``axis``, shifted by the maximum so nothing overflows."""
    Z = as_float_array(Z, "Z")
    zmax = np.max(Z, axis=axis, keepdims=True)
    return np.squeeze(zmax, axis=axis) + np.log(np.sum(np.exp(Z - zmax), axis=axis))


def check_targets(Y: ArrayLike, m: int, K: int, loss: str) -> Array:
    """Return targets as a float array of shape ``(m, K)``, or raise naming the problem.

    Accepted forms: an ``(m, K)`` array; an ``(m,)`` array when ``K == 1``; and, for
    ``"softmax_cross_entropy"``, integer class labels of shape ``(m,)`` in ``[0, K)``,
    which are turned into one-hot rows.
    """
    raw = np.asarray(Y)
    if loss == "softmax_cross_entropy" and raw.ndim == 1 and raw.dtype.kind in "iu":
        if raw.shape[0] != m:
            raise ValueError(f"Y has {raw.shape[0]} labels but X has {m} examples")
        if raw.size and (raw.min() < 0 or raw.max() >= K):
            raise ValueError(
                f"integer labels in Y must lie in [0, {K}) for {K} output classes, "
                f"got values from {raw.min()} to {raw.max()}"
            )
        return np.eye(K)[raw]
    Y = as_float_array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        if K != 1:
            raise ValueError(
                f"Y has shape {Y.shape} but the network has {K} outputs; "
                f"pass Y with shape ({m}, {K})"
                + (" or integer class labels" if loss == "softmax_cross_entropy" else "")
            )
        Y = Y[:, None]
    if Y.shape[0] != m:
        raise ValueError(f"Y has {Y.shape[0]} rows (labels) but X has {m} examples")
    if Y.shape[1] != K:
        raise ValueError(f"Y has {Y.shape[1]} columns but the network has {K} outputs")
    check_finite(Y, "Y")
    if loss != "mse" and np.any((Y < 0) | (Y > 1)):
        raise ValueError(f"{loss} needs targets Y in [0, 1]")
    if loss == "softmax_cross_entropy" and not np.allclose(Y.sum(axis=1), 1.0):
        raise ValueError(
            "softmax_cross_entropy needs each row of Y to sum to 1 (one-hot rows), "
            "or integer class labels"
        )
    return Y


def softmax_cross_entropy(Z: ArrayLike, Y: ArrayLike) -> float:
    """Categorical cross-entropy of ``softmax(Z)`` against targets ``Y``.

    ``E = −(1/m) Σ_i Σ_k y_ik log softmax(z_i)_k``, with
    ``log softmax(z)_k = z_k − logsumexp(z)`` so that large logits do not overflow.

    Parameters
    ----------
    Z : array_like, shape (m, K)
        Logits.
    Y : array_like, shape (m, K) or (m,)
        One-hot rows, or integer class labels in ``[0, K)``.

    Examples
    --------
    >>> round(softmax_cross_entropy([[1000.0, 0.0]], [0]), 12)
    0.0
    """
    Z = as_float_array(Z, "Z", ndim=2)
    Y = check_targets(Y, Z.shape[0], Z.shape[1], "softmax_cross_entropy")
    log_p = Z - logsumexp(Z)[:, None]
    return float(0.0 - np.sum(Y * log_p) / Z.shape[0])  # 0.0 − x: no −0.0


def softmax_cross_entropy_gradient(Z: ArrayLike, Y: ArrayLike) -> Array:
    """``∂E/∂Z = (1/m)(softmax(Z) − Y)`` for :func:`softmax_cross_entropy`."""
    Z = as_float_array(Z, "Z", ndim=2)
    Y = check_targets(Y, Z.shape[0], Z.shape[1], "softmax_cross_entropy")
    return (activations.softmax(Z) - Y) / Z.shape[0]


def l2_penalty(weights: Sequence[ArrayLike], l2: float) -> float:
    """The L2 penalty ``(α/2) Σ_l ‖W^(l)‖²_F``, with ``α = l2``; biases are not included.

    Its gradient with respect to ``W^(l)`` is ``α W^(l)`` (weight decay). The penalty does
    not depend on the number of examples, so the objective ``mean loss + penalty`` is the
    same whether its gradient is taken on the whole training set or on a minibatch.
    Nielsen's and Ng's ``λ/(2N) Σ w²`` is this with ``α = λ/N``.
    """
    l2 = check_nonnegative(l2, "l2")
    if l2 == 0.0:
        return 0.0
    return l2 / 2.0 * sum(float(np.sum(np.square(W))) for W in weights)


def loss_and_output_delta(
    loss: str, Z: Array, A: Array, Y: Array, output_activation: str
) -> tuple[float, Array]:
    """Value of the loss and the output delta ``δ^(L) = ∂E/∂Z`` of the last layer.

    Parameters
    ----------
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    Z, A : ndarray, shape (m, K)
        Weighted input and activation of the output layer (``A = g(Z)``).
    Y : ndarray, shape (m, K)
        Targets, already checked by :func:`check_targets`.
    output_activation : str
        Name of ``g``: an elementwise activation or ``"softmax"``.

    Notes
    -----
    For ``mse`` the chain rule gives ``δ = ∂E/∂A ⊙ g'(Z)``: the factor ``g'`` stays. For
    sigmoid + binary cross-entropy and softmax + categorical cross-entropy it cancels,
    leaving ``δ = (A − Y)/m``; that cancellation is why those pairs are used together.
    """
    check_loss_and_output(loss, output_activation)
    m = Z.shape[0]
    if loss == "mse":
        grad_a = 2.0 * (A - Y) / m
        if output_activation == "softmax":
            delta = activations.softmax_backward(A, grad_a)
        else:
            delta = grad_a * activations.get_activation(output_activation).derivative(Z)
        return float(np.sum((A - Y) ** 2) / m), delta
    if loss == "binary_cross_entropy":
        return binary_cross_entropy_with_logits(Z, Y), (A - Y) / m
    log_p = Z - logsumexp(Z)[:, None]
    return float(0.0 - np.sum(Y * log_p) / m), (np.exp(log_p) - Y) / m


def check_loss_and_output(loss: str, output_activation: str) -> None:
    """Raise ``ValueError`` unless ``loss`` is known and defined for ``output_activation``."""
    if not isinstance(loss, str) or loss not in LOSSES:
        known = ", ".join(repr(k) for k in LOSSES)
        raise ValueError(f"unknown loss {loss!r}; known losses: {known}")
    allowed = _OUTPUTS_FOR_LOSS[loss]
    if allowed is not None and output_activation not in allowed:
        wanted = " or ".join(repr(a) for a in allowed)
        raise ValueError(
            f"loss {loss!r} needs output_activation {wanted}, "
            f"but the network's output activation is {output_activation!r}"
        )
