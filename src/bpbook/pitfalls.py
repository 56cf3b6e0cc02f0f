"""Popular mistakes in backpropagation, as networks whose gradients are deliberately wrong.

Explanations of backpropagation in blog posts and lecture slides often contain one of a
few errors. Each class here is an :class:`~bpbook.network.MLP` whose ``gradients``
makes exactly one of them, so the mistake can be *run* and caught:

>>> from bpbook.gradcheck import check_gradients
>>> net = ActivationInsteadOfDerivative([2, 3, 1], activation="sigmoid", seed=0)
>>> check_gradients(net, [[0.5, -1.0]], [[1.0]]).max_error > 1e-2
True

:class:`StagedBackprop` is the correct algorithm split into two overridable steps, the
output delta (BP1) and one step of the delta recursion (BP2); every mistake overrides
one of them, so the wrong line is the only line that differs from a correct
implementation. All classes accept the arguments of ``MLP`` and work with
:func:`bpbook.gradcheck.check_gradients`; :data:`MISTAKES` lists the mistakes of the
popular explanations by name (the autograded assignments use them as known-wrong
submissions). :class:`RecomputedZWithoutBias` is an implementation slip rather than a
published mistake, and one that a gradient check at initialisation cannot see.

Notation as on the book's Notation page, row convention: examples are rows, so the
column-form recursion ``δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))`` is written
``δ^(l) = (δ^(l+1) W^(l+1)) ⊙ g'(Z^(l))``, and ``W^(l)`` is ``weights[l-1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations, losses
from bpbook.network import MLP, ForwardPass

__all__ = [
    "MISTAKES",
    "ActivationInsteadOfDerivative",
    "DerivativeAtOutputLayer",
    "DoubleSigmoidDerivative",
    "MissingTranspose",
    "RecomputedZWithoutBias",
    "StagedBackprop",
    "UpdateBeforeBackpropagating",
]

Array = NDArray[np.float64]


class StagedBackprop(MLP):
    """:meth:`MLP.gradients` with BP1 and BP2 as methods that a subclass may replace.

    ``gradients`` is :meth:`MLP.gradients` line for line, except that the output delta
    comes from :meth:`output_delta` (BP1) and each step of the delta recursion from
    :meth:`propagate` (BP2); BP3 and BP4 stay in ``gradients``. This class itself is
    correct: it returns exactly what ``MLP.gradients`` returns and passes the gradient
    check.
    """

    #: One line: what the mistake is (empty for the correct algorithm).
    mistake = ""
    #: Why an author writes it: what makes it look right.
    why_tempting = ""

    def gradients(
        self, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0
    ) -> tuple[float, list[Array], list[Array]]:
        """Loss and gradients, as :meth:`MLP.gradients` (same arguments and returns)."""
        X, Y, l2 = self.check_data(X, Y, loss, l2)
        L = self.n_layers
        passed = self.forward_pass(X)
        zs, acts = passed
        # BP1: the loss and δ^(L) = ∂E/∂Z^(L), already divided by m.
        E, delta = self.output_delta(loss, zs[-1], acts[-1], Y)
        E += losses.l2_penalty(self.weights, l2)
        grad_w: list[Array] = [np.empty(0)] * L
        grad_b: list[Array] = [np.empty(0)] * L
        for l in range(L, 0, -1):
            # delta is δ^(l); W^(l) is weights[l-1]; A^(l-1) is acts[l-1].
            grad_w[l - 1] = delta.T @ acts[l - 1]  # BP4
            if l2:
                grad_w[l - 1] += l2 * self.weights[l - 1]
            grad_b[l - 1] = delta.sum(axis=0)  # BP3
            if l > 1:
                delta = self.propagate(delta, l, passed, grad_w[l - 1])  # BP2: δ^(l-1)
        return E, grad_w, grad_b

    def output_delta(self, loss: str, Z: Array, A: Array, Y: Array) -> tuple[float, Array]:
        """BP1: the loss (without penalty) and ``δ^(L) = ∂E/∂Z^(L)``, shape ``(m, n_L)``.

        ``Z`` and ``A`` are the output layer's ``Z^(L)`` and ``A^(L) = g_L(Z^(L))``.
        """
        return losses.loss_and_output_delta(loss, Z, A, Y, self.output_activation)

    def propagate(
        self, delta: Array, l: int, passed: ForwardPass, grad_W: Array
    ) -> Array:
        """BP2: ``δ^(l−1) = (δ^(l) W^(l)) ⊙ g'(Z^(l−1))``, for ``l = L .. 2``.

        Parameters
        ----------
        delta : ndarray, shape (m, n_l)
            ``δ^(l)``, the delta of the layer that ``W^(l) = weights[l-1]`` feeds.
        l : int
            The book's layer index of ``delta``, ``2 <= l <= L``.
        passed : ForwardPass
            The forward pass: ``passed.zs[l-2]`` is ``Z^(l−1)`` and
            ``passed.activations[l-1]`` is ``A^(l−1) = g(Z^(l−1))``, of the
            layer whose delta is returned; ``passed.zs[-1]`` is the output
            layer's ``Z^(L)``.
        grad_W : ndarray, shape (n_l, n_{l−1})
            The gradient just computed for ``W^(l)`` (the correct step does not
            need it).

        Returns
        -------
        ndarray, shape (m, n_{l−1})
            ``δ^(l−1)``. As in ``MLP.gradients``, ``g'`` is computed from the stored
            activation (``σ' = a(1 − a)``), not from ``Z`` again.
        """
        delta = delta @ self.weights[l - 1]
        delta *= self.activation.derivative_from_output(passed.activations[l - 1])
        return delta


class ActivationInsteadOfDerivative(StagedBackprop):
    """The recursion multiplies by ``g(z)`` where ``g'(z)`` belongs.

    Article 001 of the book's sources writes the recursion as ``d(l) = (Θ(l)′ d(l+1)) •
    g(z(l))``, and article 000 calls ``g'(z^(L))`` "the activation of the last layer".

    Why tempting: for the sigmoid, ``g'(z) = σ(z)(1 − σ(z)) = a(1 − a)`` is written with
    the activation ``a``, and formulas that use ``a`` for ``σ(z)`` are easily misread as
    "multiply by the activation". Both factors are positive numbers below 1, so nothing
    looks wrong, and training may even make some progress.
    """

    mistake = "δ = (δ W) ⊙ g(z) instead of g′(z)"
    why_tempting = "g′ of the sigmoid is written as a(1 − a), easily misread as a"

    def propagate(
        self, delta: Array, l: int, passed: ForwardPass, grad_W: Array
    ) -> Array:
        # a = g(z), not g'(z)
        return (delta @ self.weights[l - 1]) * passed.activations[l - 1]


class DerivativeAtOutputLayer(StagedBackprop):
    """The recursion evaluates ``g'`` at the output layer's ``z^(L)`` in every layer.

    Article 000 of the book's sources writes ``δ^(k) = (θ^(k+1) δ^(k+1)) ⊙ g'(z^(L))``.

    Why tempting: the output delta BP1 contains ``g'(z^(L))``, and copying that factor
    into the recursion without changing the layer index gives ``g'(z^(L))`` everywhere.
    It only runs when every hidden layer has as many units as the output layer (otherwise
    the shapes differ), so the class refuses other architectures: on those the mistake
    is an immediate shape error, not a silent one.
    """

    mistake = "δ^(l) = (δ^(l+1) W) ⊙ g′(z^(L)) instead of g′(z^(l))"
    why_tempting = "copied from the output delta BP1 without changing the layer index"

    def __init__(self, layer_sizes: Sequence[int], *args: Any, **kwargs: Any) -> None:
        super().__init__(layer_sizes, *args, **kwargs)
        if len(set(self.layer_sizes[1:])) != 1:
            raise ValueError(
                "DerivativeAtOutputLayer needs every hidden layer as wide as the output "
                f"layer (e.g. (3, 2, 2, 2)), got layer_sizes={self.layer_sizes}"
            )

    def propagate(self, delta: Array, l: int, passed: ForwardPass, grad_W: Array) -> Array:
        return (delta @ self.weights[l - 1]) * self.activation.derivative(passed.zs[-1])


class MissingTranspose(StagedBackprop):
    """The recursion multiplies by ``W`` where ``Wᵀ`` belongs.

    In the column form the mistake reads ``δ^(l) = (W^(l+1) δ^(l+1)) ⊙ g'(z^(l))``; in the
    row form used here it is ``δ @ W.T`` instead of ``δ @ W``. With layers of different
    widths the product does not exist and numpy raises a shape error; with square weight
    matrices it runs and returns a wrong gradient without complaint.

    Article 000 of the book's sources says of its recursion that "the transpose operation
    needed in order to do the multiplication is left out".

    Why tempting: the forward pass multiplies by ``W``, and "send the error back through
    the same weights" sounds like multiplying by ``W`` again.
    """

    mistake = "δ^(l) = (W δ^(l+1)) ⊙ g′(z^(l)) instead of (Wᵀ δ^(l+1)) ⊙ g′(z^(l))"
    why_tempting = "'send the error back through the same weights' sounds like W, not Wᵀ"

    def propagate(self, delta: Array, l: int, passed: ForwardPass, grad_W: Array) -> Array:
        g_prime = self.activation.derivative_from_output(passed.activations[l - 1])
        return (delta @ self.weights[l - 1].T) * g_prime


class DoubleSigmoidDerivative(StagedBackprop):
    """The output delta multiplies by ``σ'(z^(L))`` although the loss already accounted for it.

    With a sigmoid output and the cross-entropy the factor ``σ'(z)`` cancels:
    ``δ^(L) = (a − y)/m``. Applying the general rule ``δ^(L) = ∂E/∂a ⊙ σ'(z)`` *to that
    already simplified* ``a − y`` multiplies by ``σ'`` a second time. (With the squared
    error it likewise gives ``σ'(z)²``.) The class needs ``output_activation="sigmoid"``.

    Why tempting: BP1 is usually taught as "error times σ'", and ``a − y`` looks exactly
    like the error.
    """

    mistake = "δ^(L) = (a − y) ⊙ σ′(z^(L)) with cross-entropy, where σ′ already cancelled"
    why_tempting = "BP1 is taught as 'error times σ′', and a − y looks like the error"

    def __init__(self, layer_sizes: Sequence[int], *args: Any, **kwargs: Any) -> None:
        super().__init__(layer_sizes, *args, **kwargs)
        if self.output_activation != "sigmoid":
            raise ValueError(
                "DoubleSigmoidDerivative needs output_activation='sigmoid', "
                f"got {self.output_activation!r}"
            )

    def output_delta(self, loss: str, Z: Array, A: Array, Y: Array) -> tuple[float, Array]:
        E, delta = super().output_delta(loss, Z, A, Y)
        return E, delta * activations.sigmoid_prime_from_output(A)


class UpdateBeforeBackpropagating(StagedBackprop):
    """Each layer's weights are updated before the delta is sent back through them.

    The mistaken training step walks back from the output, computes ``∂E/∂W^(l)``,
    changes ``W^(l) ← W^(l) − η ∂E/∂W^(l)`` at once, and only then computes
    ``δ^(l−1)`` with the *new* ``W^(l)``. The gradients of all earlier layers then belong
    to no single network. To make the mistake checkable this class does not change its
    weights: ``gradients`` returns the gradients that such a step would apply, computed
    with the updated matrices, and leaves ``weights`` as they were.

    Unlike the other mistakes, this one is small when ``η`` is small: ``W^(l)`` moves by
    ``η ∂E/∂W^(l)``, so the earlier layers' gradients are off by a relative amount
    proportional to ``η``, and a gradient check run with a tiny ``η`` passes. To catch it,
    check with the learning rate that training uses, or compare the update a training
    step makes with ``−η`` times a gradient computed before any weight changed.

    Why tempting: "adjust the last layer, then move on to the one before it" describes
    the backward pass as a sequence of corrections, and updating as soon as a gradient
    is known looks like it saves memory.

    Parameters
    ----------
    layer_sizes, activation, output_activation, seed
        As for :class:`~bpbook.network.MLP`.
    learning_rate : float, > 0
        The step ``η`` of the premature update; the error grows with it.
    """

    mistake = "W^(l) updated before δ^(l−1) is computed through it"
    why_tempting = "'adjust the last layer, then the one before' sounds like the algorithm"

    def __init__(
        self, layer_sizes: Sequence[int], *args: Any, learning_rate: float = 0.5, **kwargs: Any
    ) -> None:
        super().__init__(layer_sizes, *args, **kwargs)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
                or not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)

    def propagate(self, delta: Array, l: int, passed: ForwardPass, grad_W: Array) -> Array:
        updated = self.weights[l - 1] - self.learning_rate * grad_W
        g_prime = self.activation.derivative_from_output(passed.activations[l - 1])
        return (delta @ updated) * g_prime


class RecomputedZWithoutBias(StagedBackprop):
    """The recursion evaluates ``g'`` at a weighted input recomputed without its bias.

    An implementation that does not keep ``Z^(l−1)`` for the backward pass can recompute
    it from the stored activations as ``A^(l−2) W^(l−1)ᵀ + b^(l−1)``; this one drops the
    ``+ b^(l−1)``. The network's biases start at 0, so *at initialisation* the result is
    exactly right and a gradient check there passes; after some training the biases are
    no longer 0 and the check fails. It is an implementation slip, not a mistake of the
    popular explanations, and is not in :data:`MISTAKES` (whose members all fail at
    initialisation): it shows why a gradient check belongs after a few steps of training
    as well as at the start.

    Why tempting: storing every ``Z`` for the backward pass costs memory, recomputing it
    is cheap, and the bias is the term that is easy to forget.
    """

    mistake = "g′ evaluated at A Wᵀ, the weighted input recomputed without + b"
    why_tempting = "recomputing Z saves storing it, and + b is easy to forget"

    def propagate(self, delta: Array, l: int, passed: ForwardPass, grad_W: Array) -> Array:
        z_without_bias = passed.activations[l - 2] @ self.weights[l - 2].T  # + biases[l-2]
        return (delta @ self.weights[l - 1]) * self.activation.derivative(z_without_bias)


#: The mistakes of the popular explanations by short name, for tables and for autograder
#: tests. Each fails a gradient check at the network's initial weights.
MISTAKES: dict[str, type[StagedBackprop]] = {
    "g instead of g'": ActivationInsteadOfDerivative,
    "g' at z^(L)": DerivativeAtOutputLayer,
    "missing transpose": MissingTranspose,
    "σ' applied twice": DoubleSigmoidDerivative,
    "update before backpropagating": UpdateBeforeBackpropagating,
}
