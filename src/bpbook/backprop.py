"""Backpropagation written out three more ways, to compare with :meth:`MLP.gradients`.

:meth:`bpbook.network.MLP.gradients` is the delta recursion over a whole minibatch at once
(examples are rows). This module holds the forms the chapter compares it with:

- :func:`backprop_example` — the four equations for *one* example, with column vectors,
  exactly as they are written on paper (``z = W a + b``, ``δ = (Wᵀ δ) ⊙ g'(z)``), keeping
  every intermediate so a worked example can print it;
- :func:`theta_delta_gradients` — the classic per-example accumulation
  ``Δ += δ aᵀ`` followed by ``D = (1/m)Δ + αW``, as a loop over examples;
- :func:`minibatch_deltas` — every layer's per-example deltas, stacked, to look at
  their sizes;
- :func:`perturbation_gradients` — no backward pass at all: nudge each parameter and run
  the network again, ``n + 1`` forward passes for ``n`` parameters;

and the tools to compare their costs (:func:`count_forward_passes`,
:func:`multiply_adds`) and to prove the equations symbolically
(:func:`symbolic_network`, :func:`symbolic_gradients`).

Notation: layers ``l = 0 .. L``, ``a^(0) = x``; ``W^(l)`` maps layer ``l − 1`` to layer
``l``, so ``W^(l)`` is ``net.weights[l - 1]``. Lists below are indexed from 0 in the same
way as the network's: ``zs[l - 1]`` is ``z^(l)``, ``activations[l]`` is ``a^(l)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import losses
from bpbook._checks import as_float_array
from bpbook.network import MLP, check_layer_sizes

__all__ = [
    "ExampleTrace",
    "ForwardPassCounter",
    "SymbolicNetwork",
    "backprop_example",
    "count_forward_passes",
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
    ``δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))`` (BP2); then ``∂E/∂b^(l) = δ^(l)`` (BP3)
    and ``∂E/∂W^(l) = δ^(l) a^(l−1)ᵀ`` (BP4). No penalty term: λ enters per minibatch.

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
    for l, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        z = W @ a + b
        a = net.apply_output_activation(z) if l == net.n_layers else net.activation(z)
        zs.append(z)
        acts.append(a)
    # With one example (m = 1) the minibatch output delta is the per-example delta.
    E, delta = losses.loss_and_output_delta(
        loss, zs[-1][None, :], a[None, :], Y, net.output_activation
    )
    deltas = [delta[0]]
    for l in range(net.n_layers - 1, 0, -1):
        # BP2: weights[l] is W^(l+1), zs[l - 1] is z^(l).
        deltas.insert(0, (net.weights[l].T @ deltas[0]) * net.activation.derivative(zs[l - 1]))
    grad_w = [np.outer(d, a_prev) for d, a_prev in zip(deltas, acts[:-1])]
    grad_b = [d.copy() for d in deltas]
    return ExampleTrace(E, zs, acts, deltas, grad_w, grad_b)


def theta_delta_gradients(
    net: MLP, X: ArrayLike, Y: ArrayLike, loss: str = "mse", l2: float = 0.0
) -> tuple[float, list[Array], list[Array]]:
    """The classic backpropagation algorithm: a loop over examples accumulating ``Δ``.

    For each example ``i``: forward pass, deltas by the recursion, and
    ``Δ^(l) += δ^(l) a^(l−1)ᵀ`` (and ``Δb^(l) += δ^(l)``). After the loop
    ``D^(l) = (1/m) Δ^(l) + α W^(l)`` and ``Db^(l) = (1/m) Δb^(l)``: the biases are not
    regularised. (Course notes that number the weights from the layer they leave write
    the same step as ``Δ^(l) += δ^(l+1) (a^(l))ᵀ`` with ``Θ^(l) = W^(l+1)``.)

    It returns what :meth:`MLP.gradients` returns, for the same loss
    ``(1/m) Σ_i E_i + (α/2) Σ ‖W‖²``; only the order of the arithmetic differs.

    Parameters
    ----------
    net : bpbook.network.MLP
    X : array_like, shape (m, n_in)
    Y : array_like, shape (m, n_out), or (m,) labels for "softmax_cross_entropy"
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    l2 : float, >= 0
        Strength α of the penalty ``(α/2) Σ ‖W‖²`` on the weights.

    Returns
    -------
    loss_value : float
    grad_weights : list of ndarray, shaped like ``net.weights``
    grad_biases : list of ndarray, shaped like ``net.biases``

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
    m = X.shape[0]
    Delta = [np.zeros_like(W) for W in net.weights]
    Delta_b = [np.zeros_like(b) for b in net.biases]
    total = 0.0
    for x, y in zip(X, Y):
        trace = backprop_example(net, x, y, loss)
        total += trace.loss
        for l in range(net.n_layers):
            Delta[l] += trace.grad_weights[l]
            Delta_b[l] += trace.grad_biases[l]
    D = [Delta_l / m + l2 * W for Delta_l, W in zip(Delta, net.weights)]
    D_b = [Delta_b_l / m for Delta_b_l in Delta_b]
    E = total / m + losses.l2_penalty(net.weights, l2)
    return E, D, D_b


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
    traces = [backprop_example(net, x, y, loss) for x, y in zip(X, Y)]
    return [np.stack(per_layer) for per_layer in zip(*(t.deltas for t in traces))]


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

    def counted(X: ArrayLike):
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
    """Gradient by nudging each parameter and re-running the network ("perturbation learning").

    ``∂E/∂θ_k ≈ (E(θ + h e_k) − E(θ)) / h`` for every parameter ``θ_k``: one forward pass
    at ``θ`` and one per parameter, ``n + 1`` in all for ``n`` parameters, against a
    small constant number for backpropagation. The one-sided difference has error
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
            grad = np.zeros_like(P)
            flat, grad_flat = P.reshape(-1), grad.reshape(-1)  # views: writes reach P
            for k in range(flat.size):
                original = flat[k]
                try:
                    flat[k] = original + h
                    grad_flat[k] = (net.loss(X, Y, loss=loss, l2=l2) - E0) / h
                finally:
                    flat[k] = original
            grads.append(grad)
        return grads

    return E0, nudged(net.weights), nudged(net.biases)


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
    products = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
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
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        W = sp.Matrix(
            n_out, n_in, lambda j, k: sp.Symbol(f"w^{{({l})}}_{{{j + 1}{k + 1}}}", real=True)
        )
        b = column(f"b^{{({l})}}", n_out)
        z = W * acts[-1] + b
        act = g_output if l == len(sizes) - 1 else g
        weights.append(W)
        biases.append(b)
        zs.append(z)
        acts.append(z.applyfunc(act))
    loss = sum((a_k - y_k) ** 2 for a_k, y_k in zip(acts[-1], y))
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
    for l in range(L - 2, -1, -1):
        deltas[l] = (net.weights[l + 1].T * deltas[l + 1]).multiply_elementwise(
            net.zs[l].applyfunc(g_prime)
        )
    grad_w = [d * a_prev.T for d, a_prev in zip(deltas, net.activations[:-1])]
    grad_b = list(deltas)
    return deltas, grad_w, grad_b
