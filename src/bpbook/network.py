"""A fully connected network (multilayer perceptron) trained by backpropagation.

Notation, as on the book's Notation page. Layers are numbered ``l = 0 .. L``; layer 0 is
the input. ``W^(l)``, of shape ``(n_l, n_{l-1})``, maps layer ``l − 1`` to layer ``l``,
and ``b^(l)`` belongs to layer ``l``; the code counts from 0, so they are
``weights[l-1]`` and ``biases[l-1]``. Examples are the *rows* of every array, so for a
minibatch ``X = A^(0)`` of shape ``(m, n_0)``, for ``l = 1 .. L``::

    Z^(l) = A^(l−1) W^(l)ᵀ + b^(l)        (row form of  z = W a + b  for one example)
    A^(l) = g(Z^(l))                      (g_L, the output activation, on the last layer)

and the delta ``δ^(l) = ∂E/∂Z^(l)`` of each layer follows from the one after it (the
*delta recursion*)::

    δ^(l) = (δ^(l+1) W^(l+1)) ⊙ g'(Z^(l))   (row form of  δ = (Wᵀ δ) ⊙ g'(z))
    ∂E/∂W^(l) = δ^(l)ᵀ A^(l−1),   ∂E/∂b^(l) = Σ_rows δ^(l)

In code, ``zs[l-1]`` is ``Z^(l)`` and ``activations[l]`` is ``A^(l)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations, losses
from bpbook._checks import as_float_array, check_finite, check_nonnegative

__all__ = ["MLP", "ForwardPass", "Parameters", "check_layer_sizes"]

Array = NDArray[np.float64]

OUTPUT_ACTIVATIONS = (*activations.ACTIVATIONS, "softmax")


class ForwardPass(NamedTuple):
    """Everything the backward pass needs from the forward pass.

    ``zs[l-1]`` is ``Z^(l)``, the weighted input of layer ``l`` (``L`` arrays: there is no
    ``Z^(0)``), and ``activations[l]`` is ``A^(l)`` (``L + 1`` arrays; the first is ``X``).
    """

    zs: list[Array]
    activations: list[Array]


class Parameters(Sequence[Array]):
    """A fixed-length list of parameter arrays that checks every assignment.

    ``net.weights[0] = W`` goes through here, so a matrix of the wrong shape or dtype
    is refused at once, with the index and the expected shape in the message.
    Elements can still be changed in place (``net.weights[0][1, 2] += h``), which is how
    :mod:`bpbook.gradcheck` perturbs one weight at a time.
    """

    def __init__(self, name: str, arrays: Sequence[Array]) -> None:
        self._name = name
        self._shapes = tuple(a.shape for a in arrays)
        self._arrays = [self._check(i, a) for i, a in enumerate(arrays)]

    def _check(self, index: int, value: ArrayLike) -> Array:
        label = f"{self._name}[{index}]"
        array = as_float_array(value, label)
        if array.shape != self._shapes[index]:
            raise ValueError(
                f"{label} must have shape {self._shapes[index]}, got {array.shape}"
            )
        check_finite(array, label)
        # A C-ordered copy: later changes to the caller's array do not leak in, and
        # code that flattens a matrix in place (perturbing one weight) sees its rows.
        return np.array(array, dtype=np.float64, order="C", copy=True)

    @overload
    def __getitem__(self, index: int) -> Array: ...

    @overload
    def __getitem__(self, index: slice) -> list[Array]: ...

    def __getitem__(self, index: int | slice) -> Array | list[Array]:
        return self._arrays[index]

    def __setitem__(self, index: int, value: ArrayLike) -> None:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{self._name} indices must be integers, got {type(index).__name__}")
        position = range(len(self._arrays))[index]  # raises IndexError like a list
        self._arrays[position] = self._check(position, value)

    def __len__(self) -> int:
        return len(self._arrays)

    def __iter__(self) -> Iterator[Array]:
        return iter(self._arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(str(s) for s in self._shapes)
        return f"<{self._name}: {shapes}>"


class MLP:
    """A multilayer perceptron with one activation for the hidden layers.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first, e.g. ``(64, 30, 10)``.
    activation : {"sigmoid", "tanh", "relu", "identity"}
        Activation of the hidden layers.
    output_activation : {"identity", "sigmoid", "tanh", "relu", "softmax"}
        Activation of the output layer. The cross-entropy losses work from the output
        layer's weighted input (its logits): ``"binary_cross_entropy"`` needs
        ``"sigmoid"`` and ``"softmax_cross_entropy"`` needs ``"softmax"`` or
        ``"identity"`` (the softmax is then applied inside the loss).
    seed : int
        Seed of the weight initialisation. The weights of layer ``l`` are drawn from
        ``N(0, 1/n_{l-1})`` (``N(0, 2/n_{l-1})`` for ReLU) and the biases start at 0.
        Then ``Var z = n_{l-1} Var(w) E[a²] = E[a²]``: the weighted inputs have the
        second moment of the activations that feed them (times 2 for ReLU, which zeroes
        half of them), so their size neither grows nor shrinks with the width of the
        layer. It is 1 only if the inputs have unit second moment.

    Attributes
    ----------
    weights : Parameters
        ``weights[l-1]`` is ``W^(l)``, of shape ``(layer_sizes[l], layer_sizes[l-1])``.
    biases : Parameters
        ``biases[l-1]`` is ``b^(l)``, of shape ``(layer_sizes[l],)``.

    Examples
    --------
    >>> net = MLP([2, 3, 1], activation="tanh", seed=1)
    >>> [w.shape for w in net.weights]
    [(3, 2), (1, 3)]
    >>> net.forward([[0.0, 1.0]]).shape
    (1, 1)
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str = "identity",
        seed: int = 0,
    ) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.activation = activations.get_activation(activation)
        if output_activation not in OUTPUT_ACTIVATIONS:
            known = ", ".join(repr(k) for k in OUTPUT_ACTIVATIONS)
            raise ValueError(
                f"unknown output_activation {output_activation!r}; known: {known}"
            )
        self.output_activation = output_activation
        rng = np.random.default_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        pairs = list(pairwise(self.layer_sizes))
        self._weights = Parameters(
            "weights",
            [rng.normal(0.0, np.sqrt(gain / n_in), (n_out, n_in)) for n_in, n_out in pairs],
        )
        self._biases = Parameters("biases", [np.zeros(n_out) for _, n_out in pairs])

    # The parameter lists can be replaced whole, e.g. net.weights = [W1, W2], with the
    # same checks as element assignment.
    @property
    def weights(self) -> Parameters:
        return self._weights

    @weights.setter
    def weights(self, arrays: Sequence[ArrayLike]) -> None:
        self._weights = self._replace(self._weights, arrays)

    @property
    def biases(self) -> Parameters:
        return self._biases

    @biases.setter
    def biases(self, arrays: Sequence[ArrayLike]) -> None:
        self._biases = self._replace(self._biases, arrays)

    @staticmethod
    def _replace(current: Parameters, arrays: Sequence[ArrayLike]) -> Parameters:
        arrays = list(arrays)
        if len(arrays) != len(current):
            raise ValueError(f"{current._name} needs {len(current)} arrays, got {len(arrays)}")
        replacement = Parameters(current._name, list(current))
        for i, array in enumerate(arrays):
            replacement[i] = array
        return replacement

    @property
    def n_layers(self) -> int:
        """Number of weight layers ``L`` (the input layer does not count)."""
        return len(self.layer_sizes) - 1

    @property
    def n_parameters(self) -> int:
        """Total number of weights and biases."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases, strict=True))

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return (
            f"MLP({sizes}, activation={self.activation.name!r}, "
            f"output_activation={self.output_activation!r}, parameters={self.n_parameters})"
        )

    def copy(self) -> MLP:
        """An independent network with the same architecture and parameters."""
        twin = object.__new__(MLP)
        twin.layer_sizes = self.layer_sizes
        twin.activation = self.activation
        twin.output_activation = self.output_activation
        twin._weights = Parameters("weights", list(self.weights))
        twin._biases = Parameters("biases", list(self.biases))
        return twin

    def apply_output_activation(self, Z: ArrayLike) -> Array:
        """The output layer's activation ``g_L`` applied to ``Z`` (softmax along the last axis)."""
        if self.output_activation == "softmax":
            return activations.softmax(Z)
        return activations.get_activation(self.output_activation).function(Z)

    def check_inputs(self, X: ArrayLike) -> Array:
        """Return ``X`` as a float64 array of shape ``(m, n_in)``, or raise naming the problem."""
        X = as_float_array(X, "X", ndim=2)
        n_in = self.layer_sizes[0]
        if X.shape[1] != n_in:
            raise ValueError(
                f"X has {X.shape[1]} columns (features) but the network expects {n_in}; "
                f"X must have shape (m, {n_in}) with one example per row"
            )
        if X.shape[0] == 0:
            raise ValueError("X holds no examples (shape (0, ...)); pass at least one row")
        check_finite(X, "X")
        return X

    def forward_pass(self, X: ArrayLike) -> ForwardPass:
        """Run the network on a minibatch and keep every ``Z`` and ``A``.

        Parameters
        ----------
        X : array_like, shape (m, n_0)

        Returns
        -------
        ForwardPass
            ``zs``: L arrays, ``zs[l-1]`` is ``Z^(l)``, shape ``(m, n_l)``;
            ``activations``: L + 1 arrays, ``activations[l]`` is ``A^(l)``
            (``activations[0]`` is ``X``).
        """
        A = self.check_inputs(X)
        L = self.n_layers
        zs, acts = [], [A]
        for l in range(1, L + 1):
            Z = A @ self.weights[l - 1].T
            Z += self.biases[l - 1]  # in place: one new array, not two
            if l == L:
                A = self.apply_output_activation(Z)
            else:
                A = self.activation.function(Z)
            zs.append(Z)
            acts.append(A)
        return ForwardPass(zs, acts)

    def forward(self, X: ArrayLike) -> Array:
        """The network's output ``A^(L)`` for the inputs ``X``, shape ``(m, K)``."""
        return self.forward_pass(X).activations[-1]

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        """Class labels: the largest output, or for one output whether it exceeds 1/2.

        A single output is read as a probability (sigmoid) or a 0/1 regression target
        (identity); with ``tanh`` the threshold is 0, the midpoint of its range.
        """
        A = self.forward(X)
        if A.shape[1] == 1:
            threshold = 0.0 if self.output_activation == "tanh" else 0.5
            return (A[:, 0] > threshold).astype(np.int64)
        return np.argmax(A, axis=1)

    def check_data(
        self, X: ArrayLike, Y: ArrayLike, loss: str, l2: float
    ) -> tuple[Array, Array, float]:
        """Check a minibatch, a loss name and α as :meth:`gradients` does; return them cleaned.

        Returns ``X`` of shape ``(m, n_in)``, ``Y`` of shape ``(m, n_out)`` (labels one-hot
        encoded) and ``l2`` as a float; raises ``TypeError``/``ValueError`` naming the problem.
        """
        losses.check_loss_and_output(loss, self.output_activation)
        X = self.check_inputs(X)
        Y = losses.check_targets(Y, X.shape[0], self.layer_sizes[-1], loss)
        return X, Y, check_nonnegative(l2, "l2")

    def loss(self, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0) -> float:
        """The loss on the minibatch ``(X, Y)``, plus the L2 penalty ``(α/2) Σ_l ‖W^(l)‖²``."""
        X, Y, l2 = self.check_data(X, Y, loss, l2)
        passed = self.forward_pass(X)
        value, _ = losses.loss_and_output_delta(
            loss, passed.zs[-1], passed.activations[-1], Y, self.output_activation
        )
        return value + losses.l2_penalty(self.weights, l2)

    def gradients(
        self, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0
    ) -> tuple[float, list[Array], list[Array]]:
        """Loss and its gradient for every weight and bias, by backpropagation.

        One forward pass stores every ``Z`` and ``A``; one backward pass
        computes the deltas from the output layer down, by the delta
        recursion, for the whole minibatch at once (a matrix per layer, no loop
        over examples).

        Parameters
        ----------
        X : array_like, shape (m, n_0)
        Y : array_like, shape (m, K), or (m,) labels for "softmax_cross_entropy"
        loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
        l2 : float, >= 0
            Strength α of the penalty ``(α/2) Σ_l ‖W^(l)‖²`` added to the mean
            loss (biases are not penalised). It does not depend on ``m``, so a
            minibatch gradient estimates the gradient of one objective at every
            batch size.

        Returns
        -------
        loss_value : float
        grad_weights : list of ndarray
            ``grad_weights[l-1]`` is ``∂E/∂W^(l)``, shaped like ``W^(l)``.
        grad_biases : list of ndarray
            ``grad_biases[l-1]`` is ``∂E/∂b^(l)``, shaped like ``b^(l)``.
        """
        X, Y, l2 = self.check_data(X, Y, loss, l2)
        L = self.n_layers
        zs, acts = self.forward_pass(X)
        # BP1: the loss and δ^(L) = ∂E/∂Z^(L), already divided by m.
        E, delta = losses.loss_and_output_delta(
            loss, zs[-1], acts[-1], Y, self.output_activation
        )
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
                # BP2: back through W^(l), then ⊙ g'(Z^(l-1)), computed from
                # the kept A^(l-1) = g(Z^(l-1)) (for the sigmoid, a(1 − a)).
                delta = delta @ self.weights[l - 1]
                delta *= self.activation.derivative_from_output(acts[l - 1])
        return E, grad_w, grad_b


def check_layer_sizes(layer_sizes: Sequence[int]) -> tuple[int, ...]:
    """Return ``layer_sizes`` as a tuple of positive ints, or raise naming the bad entry."""
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes must be a sequence of integers such as (2, 3, 1), got {layer_sizes!r}"
        )
    if len(layer_sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output size, got {list(layer_sizes)}"
        )
    sizes = []
    for i, n in enumerate(layer_sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"layer_sizes[{i}] must be a positive integer, got {n!r}")
        sizes.append(int(n))
    return tuple(sizes)
