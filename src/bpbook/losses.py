"""Loss functions E: one number that says how wrong the network is.

Notation (the book's Notation page): the ``m`` examples are the rows of every array;
``A`` (shape ``(m, K)``) is the output layer's activation ``A^(L)``, whose row ``i`` is
the output ``a^(L)_i`` for example ``i``; ``Z`` is the output layer's weighted input
``Z^(L)`` (the *logits*, with ``A = g_L(Z)``); ``Y`` holds the targets ``y_i``. Every
loss is the mean ``E = (1/m) Σ_i E_i`` of the per-example losses ``E_i``, each a sum
over the ``K`` outputs, so its gradients carry a factor ``1/m``.

===============================  =====================================================
name                             E_i (the loss of example i)
===============================  =====================================================
``"mse"``                        ‖a_i − y_i‖² = Σ_k (a_ik − y_ik)²
``"binary_cross_entropy"``       −Σ_k [y_ik log a_ik + (1 − y_ik) log(1 − a_ik)], a = σ(z)
``"softmax_cross_entropy"``      −Σ_k y_ik log p_ik, p_i = softmax(z_i)
===============================  =====================================================

Libraries differ: PyTorch's ``MSELoss`` and ``BCELoss`` (default ``reduction="mean"``)
and Keras' ``mse`` average over all ``m·K`` entries, which is ``E/K`` here, so their
gradients are ``K`` times smaller; PyTorch's ``CrossEntropyLoss`` averages over the ``m``
examples only, like :func:`softmax_cross_entropy`.

Backpropagation starts from the *output delta* ``∂E/∂Z^(L)``, whose row ``i`` is
``δ^(L)_i / m`` with ``δ^(L)_i = ∂E_i/∂z^(L)_i``; :func:`loss_and_output_delta` returns
it together with the value of E. The two cross-entropies are computed from the logits
``Z``, never from ``log(A)``: a saturated sigmoid or softmax rounds ``A`` to exactly 0
or 1, and ``log(0)`` is ``-inf``.

Two functions are not training losses of the network but measure or explain one:
:func:`error_rate`, the 0–1 loss ``E_{0-1}`` (what accuracy reports, piecewise constant
and so useless to gradient descent), and :func:`gaussian_nll`, the Gaussian negative
log-likelihood, which is the squared error when the noise variance is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations
from bpbook._checks import as_float_array, check_finite, check_nonnegative, is_real

__all__ = [
    "LOSSES",
    "binary_cross_entropy",
    "binary_cross_entropy_gradient",
    "binary_cross_entropy_with_logits",
    "check_loss_and_output",
    "check_targets",
    "error_rate",
    "gaussian_nll",
    "gaussian_nll_gradient",
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

# Which output activations each loss is defined for. None: any output activation. For an
# elementwise g_L the squared error's delta is ∂E/∂A ⊙ g_L'(Z); for the softmax, which is
# not elementwise, it is the vector-Jacobian product Jᵀ ∂E/∂A of each row
# (activations.softmax_backward).
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
    """``log Σ_k exp(z_k)`` along ``axis``, shifted so that nothing overflows.

    With ``c = max_k z_k``, ``log Σ_k e^{z_k} = c + log Σ_k e^{z_k − c}``:
    every exponent is ``<= 0``, and the sum holds the term ``e^0 = 1``.
    """
    Z = as_float_array(Z, "Z")
    zmax = np.max(Z, axis=axis, keepdims=True)
    total = np.sum(np.exp(Z - zmax), axis=axis)
    return np.squeeze(zmax, axis=axis) + np.log(total)


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

    Its gradient with respect to ``W^(l)`` is ``α W^(l)`` (weight decay), which is what
    PyTorch's plain ``SGD(weight_decay=α)`` adds to every parameter's gradient. The penalty
    does not depend on the number of examples, so the objective ``mean loss + penalty`` is
    the same whether its gradient is taken on the whole training set or on a minibatch.
    Nielsen's and Ng's ``λ/(2N) Σ w²`` is this with ``α = λ/N``, ``N`` the training-set
    size; Ng exempts the bias column ``j = 0`` of each of his matrices, as this function
    exempts the biases.

    Parameters
    ----------
    weights : sequence of array_like
        The weight matrices ``W^(1), …, W^(L)`` (``net.weights``).
    l2 : float, >= 0
        The strength ``α``.
    """
    l2 = check_nonnegative(l2, "l2")
    if l2 == 0.0:
        return 0.0
    return l2 / 2.0 * sum(float(np.sum(np.square(W))) for W in weights)


def error_rate(A: ArrayLike, Y: ArrayLike, threshold: float = 0.5) -> float:
    """The error rate ``E_{0-1}``: the fraction of the ``m`` examples classified wrongly.

    This is the mean of the *0–1 loss* (1 for a wrong class, 0 for a right one), and
    accuracy is ``1 − E_{0-1}``. It is a step function of the outputs: moving ``A`` a
    little changes it only when some example's predicted class flips, so its gradient is
    zero almost everywhere and gradient descent cannot use it. Networks are trained on a
    smooth loss (cross-entropy) and *evaluated* with this one.

    Parameters
    ----------
    A : array_like, shape (m, K)
        Outputs (probabilities, logits or any scores). The predicted class of example
        ``i`` is ``argmax_k A[i, k]`` when ``K >= 2`` (ties go to the first), and
        ``A[i, 0] > threshold`` when ``K == 1``.
    Y : array_like, shape (m,) or (m, K)
        The true classes: integer labels in ``[0, K)`` (``{0, 1}`` when ``K == 1``), or
        targets shaped like ``A`` (one-hot rows for ``K >= 2``; a 0/1 column for ``K == 1``).
    threshold : float
        Decision threshold of a single output: 0.5 for a sigmoid probability, 0 for a
        logit or a tanh output.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes of ``A`` and ``Y`` do not fit, or a label is not a class.

    Examples
    --------
    >>> error_rate([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], [0, 0, 0])
    0.3333333333333333
    >>> error_rate([[0.8], [0.2]], [1, 1])
    0.5
    """
    A = as_float_array(A, "A", ndim=2)
    m, K = A.shape
    labels = _class_labels(Y, m, K)
    if not is_real(threshold) or not np.isfinite(threshold):
        raise TypeError(f"threshold must be a finite real number, got {threshold!r}")
    predicted = (A[:, 0] > threshold).astype(np.int64) if K == 1 else np.argmax(A, axis=1)
    return float(np.mean(predicted != labels))


def _class_labels(Y: ArrayLike, m: int, K: int) -> NDArray[np.int64]:
    """The true class of each of the ``m`` examples, from labels or targets."""
    raw = np.asarray(Y)
    if raw.ndim == 2:
        if raw.shape != (m, K):
            raise ValueError(f"Y has shape {raw.shape} but A has shape {(m, K)}; they must match")
        raw = raw[:, 0] if K == 1 else np.argmax(raw, axis=1)
    if raw.ndim != 1 or raw.shape[0] != m:
        raise ValueError(f"Y must hold {m} labels (shape ({m},)) or targets of shape {(m, K)}")
    classes = max(K, 2)
    if not np.all(np.isin(raw, np.arange(classes))):
        raise ValueError(f"the labels in Y must be classes 0 .. {classes - 1}")
    return raw.astype(np.int64)


def gaussian_nll(A: ArrayLike, Y: ArrayLike, variance: ArrayLike) -> float:
    """Negative log-likelihood of the targets under ``y ~ N(a, ς² I)``, averaged over examples.

    ``E = (1/m) Σ_i Σ_k [ (a_ik − y_ik)² / (2ς²_ik) + ½ log(2π ς²_ik) ]``.

    With the variance ``ς²`` fixed, the second term is a constant and the first is the
    squared error divided by ``2ς²``: minimising the Gaussian negative log-likelihood
    *is* least squares, and at ``ς² = 1/2`` this function equals :func:`mse` plus
    ``(K/2) log π``. A variance that the model predicts (one per example or per output)
    lets it say where it is unsure; then the two no longer agree.

    Parameters
    ----------
    A, Y : array_like, shape (m, K)
        Predicted means and targets.
    variance : float or array_like broadcastable to (m, K)
        The noise variance ``ς²``, every entry > 0.

    Examples
    --------
    >>> A, Y = [[1.0, 2.0]], [[0.0, 2.0]]
    >>> round(gaussian_nll(A, Y, 0.5) - mse(A, Y), 12) == round(float(np.log(np.pi)), 12)
    True
    """
    A, Y = _pair(A, Y)
    var = _variance(variance, A.shape)
    entries = (A - Y) ** 2 / (2.0 * var) + 0.5 * np.log(2.0 * np.pi * var)
    return float(np.sum(entries) / A.shape[0])


def gaussian_nll_gradient(A: ArrayLike, Y: ArrayLike, variance: ArrayLike) -> Array:
    """``∂E/∂A = (A − Y) / (m ς²)`` for :func:`gaussian_nll`.

    At ``ς² = 1/2`` it is :func:`mse_gradient`, ``(2/m)(A − Y)``.
    """
    A, Y = _pair(A, Y)
    return (A - Y) / (_variance(variance, A.shape) * A.shape[0])


def _variance(variance: ArrayLike, shape: tuple[int, ...]) -> Array:
    """``variance`` broadcast to ``shape``, or raise if it is not positive and finite."""
    var = as_float_array(variance, "variance")
    try:
        var = np.broadcast_to(var, shape)
    except ValueError:
        raise ValueError(
            f"variance has shape {var.shape}, which does not broadcast to {shape}"
        ) from None
    check_finite(var, "variance")
    if np.any(var <= 0):
        raise ValueError("variance must be > 0 everywhere")
    return var


def loss_and_output_delta(
    loss: str, Z: Array, A: Array, Y: Array, output_activation: str
) -> tuple[float, Array]:
    """Value of the loss and the output delta ``∂E/∂Z^(L)`` of the last layer.

    Parameters
    ----------
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    Z, A : ndarray, shape (m, K)
        Weighted input and activation of the output layer (``A = g_L(Z)``).
    Y : ndarray, shape (m, K)
        Targets, already checked by :func:`check_targets`.
    output_activation : str
        Name of ``g_L``: an elementwise activation or ``"softmax"``.

    Returns
    -------
    E : float
    delta : ndarray, shape (m, K)
        ``∂E/∂Z^(L)``, the bold delta matrix of the Notation page: row ``i`` is
        ``δ^(L)_i / m``, with ``δ^(L)_i = ∂E_i/∂z^(L)_i``.

    Notes
    -----
    For ``mse`` with an elementwise ``g_L`` the chain rule gives
    ``δ_i = 2(a_i − y_i) ⊙ g_L'(z_i)``: the factor ``g_L'`` stays. With a
    softmax output, which is not elementwise, it is ``δ_i = J_iᵀ 2(p_i − y_i)``
    with ``J_i = diag(p_i) − p_i p_iᵀ``. For sigmoid + binary cross-entropy
    and softmax + categorical cross-entropy the activation's derivative
    cancels, leaving ``δ_i = a_i − y_i``: each output activation is the
    inverse of the *canonical link* of its likelihood, which is why those
    pairs go together.
    """
    check_loss_and_output(loss, output_activation)
    m = Z.shape[0]
    if loss == "mse":
        grad_a = 2.0 * (A - Y) / m
        if output_activation == "softmax":
            delta = activations.softmax_backward(A, grad_a)
        else:
            g_L = activations.get_activation(output_activation)
            delta = grad_a * g_L.derivative(Z)
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
