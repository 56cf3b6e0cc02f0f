"""Backpropagation written out more ways, to compare with :meth:`MLP.gradients`.

:meth:`bpbook.network.MLP.gradients` is the delta recursion over a whole minibatch at once
(examples are rows). This module holds the forms the chapter compares it with:

- :func:`backprop_example` — the four equations for *one* example, with column vectors,
  exactly as they are written on paper (``z = W a + b``, ``δ = (Wᵀ δ) ⊙ g'(z)``), keeping
  every intermediate so a worked example can print it;
- :func:`deltas_by_paths` — the deltas of one example as a sum over every path through
  the network of the products of the edges' rates (the "big picture" of the chain rule),
  without the recursion;
- :func:`theta_delta_gradients` — the classic per-example algorithm of course notes, a
  loop over examples accumulating ``G^(l) += δ^(l) a^(l−1)ᵀ`` and then
  ``∂E/∂W^(l) = (1/m) G^(l) + α W^(l)``;
- :func:`minibatch_deltas` — every layer's per-example deltas, stacked, to look at
  their sizes;
- :func:`perturbation_gradients` — no backward pass at all: finite differences, nudging
  each parameter and running the network again, ``n + 1`` forward passes for ``n``
  parameters;
- :func:`adjust_and_retest` — no gradient at all: a popular article's training procedure
  run literally (change one weight, re-test the output, keep the change if it helped);

and the tools to compare their costs (:func:`count_forward_passes`,
:func:`multiply_adds`) and to prove the equations symbolically
(:func:`symbolic_network`, :func:`symbolic_gradients`).

Notation as on the book's Notation page: layers ``l = 0 .. L``, ``a^(0) = x``; ``W^(l)``
maps layer ``l − 1`` to layer ``l``, so ``W^(l)`` is ``net.weights[l - 1]``. Lists below
are indexed from 0 in the same way as the network's: ``zs[l - 1]`` is ``z^(l)``,
``activations[l]`` is ``a^(l)``, ``deltas[l - 1]`` is ``δ^(l)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import losses
from bpbook._checks import as_float_array, check_count, check_positive
from bpbook.network import MLP, ForwardPass, check_layer_sizes

__all__ = [
    "ExampleTrace",
    "ForwardPassCounter",
    "RetestRun",
    "SymbolicNetwork",
    "adjust_and_retest",
    "backprop_example",
    "count_forward_passes",
    "deltas_by_paths",
    "minibatch_deltas",
    "multiply_adds",
    "perturbation_gradients",
    "symbolic_gradients",
    "symbolic_network",
    "theta_delta_gradients",
]

Array = NDArray[np.float64]


class ExampleTrace(NamedTuple):
    """Every quantity of backpropagation for one example (column vectors as 1-d arrays).

    Attributes
    ----------
    loss : float
        ``E`` for this example alone.
    zs : list of ndarray
        ``zs[l - 1] = z^(l)``, shape ``(n_l,)``, for ``l = 1 .. L``.
    activations : list of ndarray
        ``activations[l] = a^(l)``, shape ``(n_l,)``, for ``l = 0 .. L`` (the first is x).
    deltas : list of ndarray
        ``deltas[l - 1] = δ^(l) = ∂E/∂z^(l)``, shape ``(n_l,)``.
    grad_weights : list of ndarray
        ``∂E/∂W^(l) = δ^(l) a^(l−1)ᵀ``, shape ``(n_l, n_{l−1})``.
    grad_biases : list of ndarray
        ``∂E/∂b^(l) = δ^(l)``, shape ``(n_l,)``.
    """

    loss: float
    zs: list[Array]
    activations: list[Array]
    deltas: list[Array]
    grad_weights: list[Array]
    grad_biases: list[Array]


def _check_network(net: object) -> MLP:
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook.network.MLP, got {type(net).__name__}")
    return net


def backprop_example(net: MLP, x: ArrayLike, y: ArrayLike, loss: str = "mse") -> ExampleTrace:
    """Backpropagation for a single example, one equation per line, column convention.

    The forward pass computes ``z^(l) = W^(l) a^(l−1) + b^(l)`` and ``a^(l) = g(z^(l))``;
    the backward pass starts from the output delta ``δ^(L) = ∂E/∂z^(L)`` (BP1, supplied
    by :func:`bpbook.losses.loss_and_output_delta`) and applies the recursion
    ``δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))`` (BP2), with ``g'`` computed from the
    stored activation ``a^(l)`` as in ``MLP.gradients``; then ``∂E/∂b^(l) = δ^(l)`` (BP3)
    and ``∂E/∂W^(l) = δ^(l) a^(l−1)ᵀ`` (BP4). No penalty term: the L2 penalty belongs to
    the loss of a minibatch, not of one example.

    Parameters
    ----------
    net : bpbook.network.MLP
    x : array_like, shape (n_in,)
        One input.
    y : array_like, shape (n_out,), or int
        Its target; an integer class label is accepted for ``"softmax_cross_entropy"``.
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}

    Returns
    -------
    ExampleTrace
        The loss and every ``z``, ``a``, ``δ`` and gradient.

    Raises
    ------
    TypeError
        If ``net`` is not an MLP, or ``x``/``y`` do not hold real numbers.
    ValueError
        If the shapes do not fit the network, or the loss does not fit its output.

    Examples
    --------
    >>> net = MLP([2, 2, 1], activation="sigmoid", seed=0)
    >>> trace = backprop_example(net, [1.0, 0.0], [1.0])
    >>> [d.shape for d in trace.deltas], trace.grad_weights[0].shape
    ([(2,), (1,)], (2, 2))
    """
    net = _check_network(net)
    x = as_float_array(x, "x", ndim=1)
    # A scalar label stays an integer array so check_targets can one-hot encode it.
    y_row = np.reshape(y, (1,)) if np.ndim(y) == 0 else np.asarray(y)[None, :]
    X, Y, _ = net.check_data(x[None, :], y_row, loss, 0.0)
    a = X[0]
    zs, acts = [], [a]
    for l, (W, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
        z = W @ a + b
        a = net.apply_output_activation(z) if l == net.n_layers else net.activation(z)
        zs.append(z)
        acts.append(a)
    # With one example (m = 1) the minibatch output delta is the per-example delta.
    E, delta = losses.loss_and_output_delta(
        loss, zs[-1][None, :], a[None, :], Y, net.output_activation
    )
    L = net.n_layers
    deltas: list[Array] = [np.empty(0)] * L
    deltas[L - 1] = delta[0]  # BP1
    for l in range(L, 1, -1):
        # BP2 from δ^(l) to δ^(l-1): W^(l) is weights[l-1], a^(l-1) = g(z^(l-1)) is acts[l-1].
        g_prime = net.activation.derivative_from_output(acts[l - 1])
        deltas[l - 2] = (net.weights[l - 1].T @ deltas[l - 1]) * g_prime
    grad_w = [np.outer(d, a_prev) for d, a_prev in zip(deltas, acts[:-1], strict=True)]
    grad_b = [d.copy() for d in deltas]
    return ExampleTrace(E, zs, acts, deltas, grad_w, grad_b)


def deltas_by_paths(
    net: MLP, x: ArrayLike, y: ArrayLike, loss: str = "mse"
) -> tuple[list[Array], list[int]]:
    """The deltas of one example as sums over paths, without the recursion BP2.

    A path from unit ``k`` of layer ``l`` to the output visits one unit in
    every later layer, ``k = j_l → j_{l+1} → … → j_L``. Its edge from unit
    ``j`` of layer ``l'`` to unit ``j'`` of layer ``l' + 1`` has the *rate*
    ``∂z^(l'+1)_{j'} / ∂z^(l')_j = w^(l'+1)_{j'j} g'(z^(l')_j)``, and the
    chain rule for many variables adds up the products of the rates along all
    paths::

        δ^(l)_k = Σ_paths (product of the rates of its edges) · δ^(L)_{j_L}

    This function walks every path and does exactly that, using only the
    forward pass and the output delta (BP1). Grouping the paths by their first
    edge gives BP2; the number of paths grows like the product of the later
    layers' widths, while BP2 costs one matrix-vector product per layer.

    Parameters
    ----------
    net : bpbook.network.MLP
        Keep it small: the number of paths is the product of the layer widths.
    x : array_like, shape (n_0,)
    y : array_like, shape (K,), or int for ``"softmax_cross_entropy"``
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}

    Returns
    -------
    deltas : list of ndarray
        ``deltas[l-1]`` is ``δ^(l)``, shape ``(n_l,)``, as in
        :class:`ExampleTrace`.
    paths : list of int
        ``paths[l-1]`` is the number of paths from one unit of layer ``l`` to
        the output, ``n_{l+1} n_{l+2} ⋯ n_L`` (1 for the output layer).

    Examples
    --------
    >>> net = MLP([2, 3, 2, 2], activation="tanh", seed=0)
    >>> by_paths, paths = deltas_by_paths(net, [1.0, -1.0], [0.0, 1.0])
    >>> paths
    [4, 2, 1]
    >>> recursion = backprop_example(net, [1.0, -1.0], [0.0, 1.0]).deltas
    >>> all(np.allclose(a, b) for a, b in zip(by_paths, recursion))
    True
    """
    net = _check_network(net)
    x = as_float_array(x, "x", ndim=1)
    y_row = np.reshape(y, (1,)) if np.ndim(y) == 0 else np.asarray(y)[None, :]
    X, Y, _ = net.check_data(x[None, :], y_row, loss, 0.0)
    zs, acts = net.forward_pass(X)
    _, delta_output = losses.loss_and_output_delta(
        loss, zs[-1], acts[-1], Y, net.output_activation
    )
    L, sizes = net.n_layers, net.layer_sizes
    # g'(z^(l)) of the hidden layers l = 1 .. L-1, by the book's l.
    g_prime = {l: net.activation.derivative_from_output(acts[l][0])
               for l in range(1, L)}

    def rate(l: int, j: int, k: int) -> float:
        """Rate of the edge k → j into layer l: ∂z^(l)_j/∂z^(l-1)_k."""
        return float(net.weights[l - 1][j, k] * g_prime[l - 1][k])

    deltas: list[Array] = [np.empty(0)] * L
    deltas[L - 1] = delta_output[0]  # BP1, with m = 1
    for l in range(1, L):
        delta = np.zeros(sizes[l])
        for k in range(sizes[l]):
            for path in itertools.product(*(range(n) for n in sizes[l + 1:])):
                product, unit = 1.0, k
                for l_next, next_unit in enumerate(path, start=l + 1):
                    product *= rate(l_next, next_unit, unit)
                    unit = next_unit
                delta[k] += product * delta_output[0][unit]
        deltas[l - 1] = delta
    paths = [math.prod(sizes[l + 1:]) for l in range(1, L + 1)]
    return deltas, paths


def theta_delta_gradients(
    net: MLP, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0
) -> tuple[float, list[Array], list[Array]]:
    """The classic per-example algorithm: a loop that accumulates ``G``.

    For each example ``i``: forward pass, deltas by BP1 and BP2, and
    ``G^(l) += δ^(l)_i (a^(l−1)_i)ᵀ`` (BP4), ``G_b^(l) += δ^(l)_i`` (BP3).
    After the loop ``∂E/∂W^(l) = (1/m) G^(l) + α W^(l)`` and
    ``∂E/∂b^(l) = (1/m) G_b^(l)``: the biases are not penalised. It returns
    what :meth:`MLP.gradients` returns, for the same loss
    ``E = (1/m) Σ_i E_i + (α/2) Σ_l ‖W^(l)‖²``; only the order of the
    arithmetic differs.

    Ng's course notes (and article 001) write the same algorithm with weights
    ``Θ^(l) = W^(l+1)``, accumulators ``Δ^(l) = G^(l+1)``
    (``Δ^(l) += δ^(l+1) (a^(l))ᵀ``) and results ``D^(l) = ∂E/∂W^(l+1)``;
    their regularisation ``(1/m) λ Θ`` is ``α W`` with ``α = λ/m``, and it
    exempts the bias column ``j = 0`` of every ``Θ^(l)``.

    Parameters
    ----------
    net : bpbook.network.MLP
    X : array_like, shape (m, n_0)
    Y : array_like, shape (m, K), or (m,) labels for "softmax_cross_entropy"
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    l2 : float, >= 0
        Strength ``α`` of the penalty ``(α/2) Σ_l ‖W^(l)‖²`` on the weights.

    Returns
    -------
    loss_value : float
    grad_weights : list of ndarray
        ``grad_weights[l-1]`` is ``∂E/∂W^(l)``, shaped like
        ``net.weights[l-1]``.
    grad_biases : list of ndarray
        ``grad_biases[l-1]`` is ``∂E/∂b^(l)``, shaped like ``net.biases[l-1]``.

    Raises
    ------
    TypeError, ValueError
        As :meth:`MLP.gradients`, for arguments it would refuse.

    Examples
    --------
    >>> net = MLP([2, 3, 1], activation="tanh", seed=1)
    >>> X, Y = [[0.0, 1.0], [1.0, 1.0]], [[1.0], [0.0]]
    >>> _, gw, _ = theta_delta_gradients(net, X, Y, l2=0.1)
    >>> _, gw_vec, _ = net.gradients(X, Y, l2=0.1)
    >>> bool(np.allclose(gw[0], gw_vec[0]))
    True
    """
    net = _check_network(net)
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    m, L = X.shape[0], net.n_layers
    G = [np.zeros_like(W) for W in net.weights]  # G[l-1] is G^(l) (Ng: Δ^(l-1))
    G_b = [np.zeros_like(b) for b in net.biases]
    total = 0.0
    for x_i, y_i in zip(X, Y, strict=True):
        # The forward pass, BP1, BP2, BP3 and BP4 for example i.
        trace = backprop_example(net, x_i, y_i, loss)
        total += trace.loss
        for l in range(1, L + 1):
            G[l - 1] += trace.grad_weights[l - 1]  # δ^(l)_i (a^(l-1)_i)ᵀ
            G_b[l - 1] += trace.grad_biases[l - 1]  # δ^(l)_i
    # grad_w[l-1] is Ng's D^(l-1).
    grad_w = [G[l - 1] / m + l2 * net.weights[l - 1] for l in range(1, L + 1)]
    grad_b = [G_b[l - 1] / m for l in range(1, L + 1)]  # no penalty on biases
    E = total / m + losses.l2_penalty(net.weights, l2)
    return E, grad_w, grad_b


def minibatch_deltas(net: MLP, X: ArrayLike, Y: ArrayLike, loss: str = "mse") -> list[Array]:
    """Every layer's per-example deltas ``δ^(l) = ∂E_i/∂z^(l)``, stacked over the minibatch.

    Parameters
    ----------
    net : bpbook.network.MLP
    X : array_like, shape (m, n_in)
    Y : array_like, shape (m, n_out), or (m,) labels for "softmax_cross_entropy"
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}

    Returns
    -------
    list of ndarray
        ``L`` arrays; entry ``l − 1`` has shape ``(m, n_l)`` and row ``i`` is ``δ^(l)``
        of example ``i``. (Without the ``1/m`` of the mean loss: ``MLP.gradients``'
        ``∂E/∂b^(l)`` is the column mean of entry ``l − 1``.)

    Examples
    --------
    >>> net = MLP([2, 4, 4, 1], seed=0)
    >>> [d.shape for d in minibatch_deltas(net, np.ones((5, 2)), np.zeros((5, 1)))]
    [(5, 4), (5, 4), (5, 1)]
    """
    net = _check_network(net)
    X, Y, _ = net.check_data(X, Y, loss, 0.0)
    traces = [backprop_example(net, x, y, loss) for x, y in zip(X, Y, strict=True)]
    return [np.stack(per_layer) for per_layer in zip(*(t.deltas for t in traces), strict=True)]


class ForwardPassCounter:
    """How many times a network's forward pass ran; see :func:`count_forward_passes`."""

    def __init__(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"ForwardPassCounter(count={self.count})"


@contextmanager
def count_forward_passes(net: MLP) -> Iterator[ForwardPassCounter]:
    """Count calls of ``net.forward_pass`` inside a ``with`` block.

    ``MLP.forward``, ``MLP.loss`` and ``MLP.gradients`` all run the network through
    ``forward_pass`` exactly once per call, so the count is the number of forward passes
    an algorithm needed. The network is unchanged after the block.

    Parameters
    ----------
    net : bpbook.network.MLP

    Yields
    ------
    ForwardPassCounter
        Its ``count`` grows while the block runs.

    Examples
    --------
    >>> net = MLP([2, 3, 1], seed=0)
    >>> with count_forward_passes(net) as counter:
    ...     _ = net.gradients([[0.0, 1.0]], [[1.0]])
    >>> counter.count
    1
    """
    net = _check_network(net)
    if "forward_pass" in vars(net):
        raise ValueError("net is already being counted; nested count_forward_passes on one net")
    counter = ForwardPassCounter()
    original = net.forward_pass

    def counted(X: ArrayLike) -> ForwardPass:
        counter.count += 1
        return original(X)

    # An instance attribute shadows the method for this network only.
    net.forward_pass = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        del net.forward_pass


def perturbation_gradients(
    net: MLP,
    X: ArrayLike,
    Y: ArrayLike,
    loss: str = "mse",
    l2: float = 0.0,
    h: float = 1e-7,
) -> tuple[float, list[Array], list[Array]]:
    """The gradient by finite differences: nudge each parameter, re-run the network.

    ``∂E/∂θ_k ≈ (E(θ + h e_k) − E(θ)) / h`` for every parameter ``θ_k`` (a one-sided, or
    forward, difference): one forward pass at ``θ`` and one per parameter, ``n + 1`` in
    all for ``n`` parameters, against one forward and one backward pass for
    backpropagation. Nothing is kept: every parameter is restored, and the result is the
    gradient at ``θ``, as from :meth:`MLP.gradients`. The one-sided difference has error
    ``O(h)``; ``h ≈ √ε ≈ 1e-8`` would balance it against rounding, and the default
    ``1e-7`` gives about 7 correct digits.

    Parameters
    ----------
    net : bpbook.network.MLP
        Its parameters are nudged in place one at a time and restored.
    X, Y, loss, l2
        As for :meth:`MLP.gradients`.
    h : float, > 0
        The nudge.

    Returns
    -------
    loss_value : float
    grad_weights : list of ndarray, shaped like ``net.weights``
    grad_biases : list of ndarray, shaped like ``net.biases``

    Raises
    ------
    ValueError
        If ``h`` is not a finite positive number, or ``MLP.gradients`` would refuse the
        data.

    Examples
    --------
    >>> net = MLP([2, 3, 1], seed=0)
    >>> with count_forward_passes(net) as counter:
    ...     _ = perturbation_gradients(net, [[0.0, 1.0]], [[1.0]])
    >>> counter.count == net.n_parameters + 1
    True
    """
    net = _check_network(net)
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    E0 = net.loss(X, Y, loss=loss, l2=l2)

    def nudged(parameters: Sequence[Array]) -> list[Array]:
        grads = []
        for P in parameters:
            grad = np.zeros(P.shape)
            # Index P itself, not P.reshape(-1): for a matrix stored in Fortran order
            # (net.weights[0] = W.T) the reshape is a copy, and the nudge would miss P.
            for index in np.ndindex(P.shape):
                original = P[index]
                try:
                    P[index] = original + h
                    grad[index] = (net.loss(X, Y, loss=loss, l2=l2) - E0) / h
                finally:
                    P[index] = original
            grads.append(grad)
        return grads

    return E0, nudged(net.weights), nudged(net.biases)


class RetestRun(NamedTuple):
    """The record of :func:`adjust_and_retest`.

    Attributes
    ----------
    forward_passes : ndarray of int, shape (T,)
        ``1, 2, …, T``: the number of forward passes run so far.
    losses : ndarray, shape (T,)
        The loss of the network as kept after that many forward passes (the first entry
        is the starting loss). It never increases.
    accepted : int
        How many adjustments were kept.
    step : float
        The size of the adjustments at the end.
    """

    forward_passes: NDArray[np.int64]
    losses: Array
    accepted: int
    step: float


def adjust_and_retest(
    net: MLP,
    X: ArrayLike,
    Y: ArrayLike,
    loss: str = "mse",
    l2: float = 0.0,
    step: float = 0.1,
    max_passes: int = 1000,
    shrink: float = 0.5,
) -> RetestRun:
    """Adjust one weight at a time and re-test the output, as article 004 says.

    Layer by layer from the output back to the input (``l = L, …, 1``), for
    every weight and then every bias of the layer: add ``step`` to it and run
    the network again (one forward pass); if the loss fell, keep the change;
    otherwise try ``−step`` (another pass) and keep that if the loss fell;
    otherwise put the old value back. A sweep through all layers that keeps
    nothing makes the adjustments smaller, ``step ← shrink · step`` (the
    article's "big changes first followed by smaller changes").

    No gradient is computed: this is hill climbing along one coordinate at a
    time (a *compass search*), a relative of the hill climbers of the chapter
    on evolution. Each sweep costs one to two forward passes per parameter and
    moves each parameter by at most ``step``.

    Parameters
    ----------
    net : bpbook.network.MLP
        Trained in place.
    X, Y, loss, l2
        As for :meth:`MLP.gradients`.
    step : float, > 0
        The first size of an adjustment.
    max_passes : int, >= 1
        Budget of forward passes, the first of which measures the starting
        loss.
    shrink : float, 0 < shrink < 1
        Factor applied to ``step`` after a sweep that kept nothing.

    Returns
    -------
    RetestRun
        The loss after every forward pass, and how many adjustments were
        kept.

    Examples
    --------
    >>> net = MLP([2, 2, 1], activation="tanh", seed=0)
    >>> X, Y = [[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]]
    >>> run = adjust_and_retest(net, X, Y, max_passes=50)
    >>> len(run.losses), bool(run.losses[-1] < run.losses[0])
    (50, True)
    """
    net = _check_network(net)
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    step = check_positive(step, "step")
    max_passes = check_count(max_passes, "max_passes", 1)
    shrink = check_positive(shrink, "shrink")
    if shrink >= 1:
        raise ValueError(
            f"shrink must lie strictly between 0 and 1, got {shrink!r}"
        )

    def coordinates() -> Iterator[tuple[Array, tuple[int, ...]]]:
        """Each parameter, output layer first: (its array, an index into it)."""
        for l in range(net.n_layers, 0, -1):
            for P in (net.weights[l - 1], net.biases[l - 1]):
                for index in np.ndindex(P.shape):
                    yield P, index  # P is the network's own array

    E = net.loss(X, Y, loss, l2)
    record, accepted = [E], 0
    while len(record) < max_passes:
        kept_in_sweep = 0
        for P, index in coordinates():
            original = P[index]
            for move in (step, -step):
                if len(record) == max_passes:
                    break
                P[index] = original + move
                E_new = net.loss(X, Y, loss, l2)  # re-test the output
                if E_new < E:
                    E, kept_in_sweep = E_new, kept_in_sweep + 1
                    record.append(E)
                    break
                P[index] = original  # undo
                record.append(E)
            if len(record) == max_passes:
                break
        accepted += kept_in_sweep
        if kept_in_sweep == 0:
            step *= shrink
    passes = np.arange(1, len(record) + 1, dtype=np.int64)
    return RetestRun(passes, np.array(record), accepted, step)


def multiply_adds(layer_sizes: Sequence[int], m: int = 1) -> tuple[int, int]:
    """Multiply-adds of the matrix products in one forward and one backward pass.

    Forward: ``Z^(l) = A^(l−1) W^(l)ᵀ`` costs ``m n_{l−1} n_l`` per layer. Backward:
    ``∂E/∂W^(l) = δ^(l)ᵀ A^(l−1)`` costs the same, and the recursion ``δ^(l) W^(l)`` as
    much again for every layer except the first (no delta is needed for the input).
    So a gradient costs between 2 and 3 forward passes; elementwise work (``g``, ``g'``,
    ``⊙``) is lower order and not counted.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first.
    m : int
        Examples in the minibatch.

    Returns
    -------
    forward, backward : int

    Examples
    --------
    >>> multiply_adds([4, 4, 4, 4])          # 3 layers of 16: backward = 2 × 48 − 16
    (48, 80)
    """
    sizes = check_layer_sizes(layer_sizes)  # the same check, and message, as MLP's
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    products = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    forward = m * sum(products)
    backward = m * (sum(products) + sum(products[1:]))
    return int(forward), int(backward)


class SymbolicNetwork(NamedTuple):
    """A network as SymPy expressions, for one example and the squared-error loss.

    Attributes
    ----------
    x, y : sympy.Matrix, shape (n_in, 1) and (n_out, 1)
        Input and target symbols, named ``x_{k}`` and ``y_{k}`` (LaTeX).
    weights, biases : list of sympy.Matrix
        Symbols named ``w^{(l)}_{jk}`` and ``b^{(l)}_{j}``, shaped like the network's.
    zs, activations : list of sympy.Matrix
        ``z^(l)`` and ``a^(l)`` as expressions in all the symbols (``activations[0] = x``).
    loss : sympy.Expr
        ``E = Σ_k (a^(L)_k − y_k)²``, the package's ``"mse"`` for one example.
    g, g_output : sympy.Lambda
        Hidden and output activation as functions.
    """

    x: Any
    y: Any
    weights: list[Any]
    biases: list[Any]
    zs: list[Any]
    activations: list[Any]
    loss: Any
    g: Any
    g_output: Any


def symbolic_network(
    layer_sizes: Sequence[int],
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
) -> SymbolicNetwork:
    """Build a network and its squared-error loss for one example from SymPy symbols.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first; keep it small (2-2-1), SymPy expressions grow fast.
    activation, output_activation : {"sigmoid", "tanh", "relu", "identity"}

    Returns
    -------
    SymbolicNetwork

    Examples
    --------
    >>> net = symbolic_network([1, 1])
    >>> net.loss
    (-y_{1} + 1/(exp(-b^{(1)}_{1} - w^{(1)}_{11}*x_{1}) + 1))**2
    """
    # SymPy (the "book" extra) is imported by the symbolic functions only: the rest of
    # the module, like the package, needs nothing but numpy.
    import sympy as sp

    from bpbook import symbolic

    sizes = check_layer_sizes(layer_sizes)
    t = sp.Symbol("t", real=True)
    g = sp.Lambda(t, symbolic.activation(activation, t))
    g_output = sp.Lambda(t, symbolic.activation(output_activation, t))

    # Names in LaTeX, so that SymPy displays them as the book writes them: w^{(l)}_{jk}.
    def column(name: str, n: int) -> sp.Matrix:
        return sp.Matrix([sp.Symbol(f"{name}_{{{j + 1}}}", real=True) for j in range(n)])

    x, y = column("x", sizes[0]), column("y", sizes[-1])
    weights, biases, zs, acts = [], [], [], [x]
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        W = sp.Matrix(
            n_out, n_in, lambda j, k, l=l: sp.Symbol(f"w^{{({l})}}_{{{j + 1}{k + 1}}}", real=True)
        )
        b = column(f"b^{{({l})}}", n_out)
        z = W * acts[-1] + b
        act = g_output if l == len(sizes) - 1 else g
        weights.append(W)
        biases.append(b)
        zs.append(z)
        acts.append(z.applyfunc(act))
    loss = sum((a_k - y_k) ** 2 for a_k, y_k in zip(acts[-1], y, strict=True))
    return SymbolicNetwork(x, y, weights, biases, zs, acts, loss, g, g_output)


def symbolic_gradients(net: SymbolicNetwork) -> tuple[list[Any], list[Any], list[Any]]:
    """The four equations applied to a :class:`SymbolicNetwork`, as SymPy matrices.

    ``δ^(L) = 2(a^(L) − y) ⊙ g_out'(z^(L))`` (BP1 for the squared error),
    ``δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))`` (BP2), ``∂E/∂b^(l) = δ^(l)`` (BP3),
    ``∂E/∂W^(l) = δ^(l) a^(l−1)ᵀ`` (BP4). Compare the result with ``sympy.diff(net.loss, w)``.

    Parameters
    ----------
    net : SymbolicNetwork

    Returns
    -------
    deltas, grad_weights, grad_biases : list of sympy.Matrix
        Indexed like the network's lists (entry ``l − 1`` for layer ``l``).
    """
    import sympy as sp

    if not isinstance(net, SymbolicNetwork):
        raise TypeError(f"net must be a SymbolicNetwork, got {type(net).__name__}")
    t = sp.Symbol("t", real=True)

    def derivative(g: sp.Lambda) -> sp.Lambda:
        return sp.Lambda(t, sp.diff(g(t), t))

    g_prime, g_output_prime = derivative(net.g), derivative(net.g_output)
    L = len(net.weights)
    deltas = [None] * L
    deltas[L - 1] = (2 * (net.activations[-1] - net.y)).multiply_elementwise(
        net.zs[-1].applyfunc(g_output_prime)
    )
    for l in range(L, 1, -1):
        # BP2 from δ^(l) to δ^(l-1): W^(l) is weights[l-1] and z^(l-1) is zs[l-2].
        deltas[l - 2] = (net.weights[l - 1].T * deltas[l - 1]).multiply_elementwise(
            net.zs[l - 2].applyfunc(g_prime)
        )
    grad_w = [d * a_prev.T for d, a_prev in zip(deltas, net.activations[:-1], strict=True)]
    grad_b = list(deltas)
    return deltas, grad_w, grad_b
