"""Evolutionary learning: improving parameters by trying variations, with no gradient.

Symbols follow the book's Notation page: ``E`` is the loss (the evolution literature
maximises a *fitness* ``F = −E``), ``θ`` the vector of all ``n`` parameters, ``M`` the
probes per step (``population``), ``r`` a probe's index, ``ε_r ~ N(0, I_n)`` its direction
(``epsilons[r]``), ``σ`` their scale (``sigma``), ``q`` the parents kept (``parents``) and
``η`` a learning rate.

Every method here is a *strategy* with the same two-step interface (ask/tell):

1. ``candidates = strategy.ask()`` proposes parameter vectors, one per row,
   shape ``(M, n)``;
2. the caller computes the loss of every row, in any way it likes (a loop, a vectorised
   batch, thousands of machines), and hands them back with ``strategy.tell(losses)``.

The strategy never calls the loss itself, which is what makes evolution embarrassingly
parallel. :func:`optimize` runs the loop until a budget of loss evaluations is spent or a
target loss is reached, and records the loss of the current solution against the number
of loss evaluations spent; :func:`optimize_many` runs many strategies in lockstep and
evaluates all their candidates in one call. :func:`descend` is full-batch gradient descent
on many parameter vectors at once, charged in the same unit.

=========================  ==============================================================
strategy                   one generation
=========================  ==============================================================
:class:`HillClimber`       tweak the parent M times, keep the best tweak if it is no worse
                           (the literature's (1+λ) evolution strategy with λ = M; M = 1
                           is the (1+1)-ES)
:class:`GeneticAlgorithm`  select parents, cross them over, mutate; keep the elite
:class:`EvolutionStrategy` estimate the gradient of the Gaussian-smoothed loss from
                           mirrored probes, take a gradient step (Salimans et al. 2017)
:class:`CMAES`             Hansen's covariance matrix adaptation, from the ``cma``
                           package: it also learns the covariance Σ of the probes
=========================  ==============================================================

A network becomes a vector of parameters with :func:`flatten` and a vector a network with
:func:`unflatten`; :class:`NetworkObjective` evaluates the loss (and the gradient, by
backpropagation) of a whole population of networks in one vectorised pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations, losses
from bpbook._checks import (
    as_float_array,
    check_count,
    check_finite,
    check_positive,
    is_integer,
    is_real,
)
from bpbook.network import MLP
from bpbook.optim import DIVERGENCE_FACTOR

__all__ = [
    "GRADIENT_COST",
    "CMAES",
    "EvolutionStrategy",
    "GeneticAlgorithm",
    "HillClimber",
    "NetworkObjective",
    "Run",
    "Strategy",
    "Tuning",
    "centred_ranks",
    "descend",
    "es_gradient",
    "evaluations_to_target",
    "flatten",
    "optimize",
    "optimize_many",
    "tune",
    "tune_descent",
    "unflatten",
]

Array = NDArray[np.float64]

#: What one backpropagation gradient (with the loss it comes with) is charged, in loss
#: evaluations (one evaluation = one forward pass over the data). The forward pass does
#: one matrix product per layer; the backward pass two (``δᵀA`` for ∂E/∂W and ``δW`` for
#: the next delta, which the first layer skips), so by operation count a gradient costs
#: at most three forward passes. Chapter 6 shows that its conclusions hold for charges
#: of 2 to 5.
GRADIENT_COST = 3

SELECTIONS = ("truncation", "tournament")
#: Activations that NumPy can apply in place (see NetworkObjective._activate).
_IN_PLACE: dict[str, Callable[[Array], Array]] = {
    "tanh": lambda Z: np.tanh(Z, out=Z),
    "relu": lambda Z: np.maximum(Z, 0.0, out=Z),
    "identity": lambda Z: Z,
}
OBJECTIVE_LOSSES = (*losses.LOSSES, "error_rate")
OPTIMIZERS = ("sgd", "adam")


# --- flat parameter vectors -------------------------------------------------------------

def flatten(net: MLP) -> Array:
    """All weights and biases of ``net`` as one vector θ.

    The order is ``W^(1), …, W^(L)`` (each row by row), then ``b^(1), …, b^(L)``: the
    order of ``[*net.weights, *net.biases]`` that :mod:`bpbook.optim` updates.

    Parameters
    ----------
    net : MLP

    Returns
    -------
    ndarray, shape (net.n_parameters,)
        A new array; changing it does not change the network.

    Examples
    --------
    >>> net = MLP([2, 3, 1], seed=0)
    >>> flatten(net).shape
    (13,)
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
    return np.concatenate([p.ravel() for p in (*net.weights, *net.biases)])


def unflatten(net: MLP, vector: ArrayLike) -> MLP:
    """A copy of ``net`` whose weights and biases are read from ``vector``.

    The inverse of :func:`flatten`: ``flatten(unflatten(net, v))`` equals ``v``.

    Parameters
    ----------
    net : MLP
        Supplies the architecture; it is not changed.
    vector : array_like, shape (net.n_parameters,)

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If ``vector`` has the wrong length or holds NaN or infinity.

    Examples
    --------
    >>> net = MLP([2, 3, 1], seed=0)
    >>> twin = unflatten(net, np.zeros(13))
    >>> float(abs(twin.weights[0]).sum()), float(abs(net.weights[0]).sum()) > 0
    (0.0, True)
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
    vector = _check_vector(vector, "vector", net.n_parameters)
    arrays = _split(vector, _shapes(net))
    twin = net.copy()
    twin.weights = arrays[: net.n_layers]
    twin.biases = arrays[net.n_layers :]
    return twin


def _shapes(net: MLP) -> list[tuple[int, ...]]:
    return [p.shape for p in (*net.weights, *net.biases)]


def _split(vectors: Array, shapes: list[tuple[int, ...]]) -> list[Array]:
    """Cut the last axis of ``vectors`` into arrays of ``shapes`` (views, no copies)."""
    parts, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(vectors[..., offset : offset + size].reshape(*vectors.shape[:-1], *shape))
        offset += size
    return parts


# --- the loss of a population of networks -----------------------------------------------

class NetworkObjective:
    """The loss E of a network on fixed data, as a function of its parameter vector θ.

    Called with a matrix of parameter vectors (one network per row) it runs all of them
    in one batched forward pass, ``A ← g(A Wᵀ + b)`` with a stack of matrices ``W`` of
    shape ``(k, n_l, n_{l−1})``, so a population costs no Python loop per member.
    :meth:`value_and_gradient` adds the backward pass, for a whole stack too. The data,
    the loss and the architecture are checked once, here; the calls afterwards check
    only the shape of θ and read the weights as views into it, without copies.

    Parameters
    ----------
    net : MLP
        The architecture (its current parameters are not used).
    X : array_like, shape (m, n_0)
    Y : array_like
        Targets in any form :meth:`MLP.loss` accepts for ``loss``; for ``"error_rate"``
        integer class labels of shape ``(m,)`` or the targets of the other losses.
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy", "error_rate"}
        ``"error_rate"`` is E_0-1, the share of misclassified examples (as
        :meth:`MLP.predict` classifies): one minus the accuracy. It is piecewise constant
        in θ, so it has no useful gradient.

    Examples
    --------
    >>> from bpbook import datasets
    >>> X, Y = datasets.xor()
    >>> net = MLP([2, 2, 1], activation="tanh", output_activation="sigmoid", seed=0)
    >>> f = NetworkObjective(net, X, Y, "binary_cross_entropy")
    >>> thetas = np.stack([flatten(net), np.zeros(f.n_parameters)])
    >>> f(thetas).shape
    (2,)
    >>> bool(np.isclose(f(thetas)[1], np.log(2)))  # all-zero network: σ(0) = 1/2
    True
    """

    #: Floats held by the widest intermediate array of one batched forward pass; larger
    #: populations are split into chunks of this size to bound the memory used.
    CHUNK_FLOATS = 4_000_000

    def __init__(self, net: MLP, X: ArrayLike, Y: ArrayLike, loss: str = "mse") -> None:
        if not isinstance(net, MLP):
            raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
        if not isinstance(loss, str) or loss not in OBJECTIVE_LOSSES:
            known = ", ".join(repr(k) for k in OBJECTIVE_LOSSES)
            raise ValueError(f"unknown loss {loss!r}; known: {known}")
        self.net = net.copy()
        self.loss = loss
        X = net.check_inputs(X)
        # The error rate compares class labels; the other losses compare with targets.
        targets: Array | None = None
        if loss == "error_rate":
            self._labels = _class_labels_of(Y, X.shape[0], net.layer_sizes[-1])
        else:
            X, targets, _ = net.check_data(X, Y, loss, 0.0)
        self.X, self.Y = X, targets
        self.n_parameters = net.n_parameters
        self._shapes = _shapes(net)
        self._g = net.activation
        output = net.output_activation
        self._g_L = None if output == "softmax" else activations.get_activation(output)

    def __repr__(self) -> str:
        return (
            f"NetworkObjective({self.net!r}, m={self.X.shape[0]}, loss={self.loss!r})"
        )

    def __call__(self, thetas: ArrayLike) -> Array | float:
        """Loss of each row of ``thetas`` (shape ``(k, n)`` → ``(k,)``; ``(n,)`` → float)."""
        thetas = self._check_thetas(thetas)
        if thetas.ndim == 1:
            return float(self._losses(thetas[None])[0])
        widest = self.X.shape[0] * max(self.net.layer_sizes)
        chunk = max(1, self.CHUNK_FLOATS // widest)
        return np.concatenate(
            [self._losses(thetas[i : i + chunk]) for i in range(0, len(thetas), chunk)]
        )

    def value(self, theta: ArrayLike) -> float:
        """The loss of one parameter vector, shape ``(n,)``."""
        theta = self._check_thetas(theta, ndim=1)
        return float(self._losses(theta[None])[0])

    def gradient(self, theta: ArrayLike) -> Array:
        """∇E at ``theta`` by backpropagation, shape ``(n,)`` (see :meth:`value_and_gradient`)."""
        return self.value_and_gradient(self._check_thetas(theta, ndim=1))[1]

    def value_and_gradient(self, thetas: ArrayLike) -> tuple[float, Array] | tuple[Array, Array]:
        """E and ∇E by backpropagation, for one parameter vector or a stack of them.

        The forward pass keeps every activation; the backward pass runs the delta
        recursion of :meth:`MLP.gradients` for all networks at once: for ``l = L, …, 1``,
        ``∂E/∂W^(l) = δ^(l)ᵀ A^(l−1)``, ``∂E/∂b^(l) = Σ_i δ^(l)_i`` and
        ``δ^(l−1) = δ^(l) W^(l) ⊙ g'(A^(l−1))``, with a leading axis over the networks.

        Parameters
        ----------
        thetas : array_like, shape (n,) or (k, n)

        Returns
        -------
        E : float, or ndarray of shape (k,)
        gradient : ndarray, shape (n,) or (k, n)
            In the order of :func:`flatten`.

        Raises
        ------
        ValueError
            For ``loss="error_rate"``, whose gradient is zero wherever it exists, or if
            ``thetas`` does not have ``n`` columns.
        """
        if self.loss == "error_rate":
            raise ValueError(
                "the error rate is piecewise constant: its gradient is zero wherever it "
                "exists, so backpropagation has nothing to follow"
            )
        thetas = self._check_thetas(thetas)
        batch = thetas[None] if thetas.ndim == 1 else thetas
        L = self.net.n_layers
        params = _split(batch, self._shapes)
        weights = params[:L]
        acts, Z = self._forward(batch, keep=True)
        E, delta = self._loss_and_delta(Z)
        gradient = np.empty_like(batch)
        parts = _split(gradient, self._shapes)
        grad_w, grad_b = parts[:L], parts[L:]
        for l in range(L, 0, -1):
            # Here delta is δ^(l), shape (k, m, n_l); A^(l−1) is acts[l−1].
            grad_w[l - 1][...] = np.matmul(delta.transpose(0, 2, 1), acts[l - 1])  # BP4
            grad_b[l - 1][...] = delta.sum(axis=1)  # BP3
            if l > 1:  # BP2
                g_prime = self._g.derivative_from_output(acts[l - 1])
                delta = np.matmul(delta, np.ascontiguousarray(weights[l - 1])) * g_prime
        if thetas.ndim == 1:
            return float(E[0]), gradient[0]
        return E, gradient

    def _check_thetas(self, thetas: ArrayLike, ndim: int | tuple[int, ...] = (1, 2)) -> Array:
        thetas = as_float_array(thetas, "thetas", ndim=ndim)
        if thetas.shape[-1] != self.n_parameters:
            raise ValueError(
                f"thetas has {thetas.shape[-1]} columns but the network has "
                f"{self.n_parameters} parameters"
            )
        return thetas

    def _forward(self, thetas: Array, keep: bool = False) -> tuple[list[Array], Array]:
        """Activations ``A^(0..L−1)`` (if ``keep``) and the output layer's ``Z^(L)``.

        ``A^(0)`` is ``X`` itself, shape ``(m, n_0)``, shared by all networks; the others
        have shape ``(k, m, n_l)``, and ``Z^(L)`` shape ``(k, m, K)``.
        """
        L = self.net.n_layers
        params = _split(thetas, self._shapes)
        weights, biases = params[:L], params[L:]
        k, m = len(thetas), self.X.shape[0]
        acts: list[Array] = [self.X]
        # The first layer shares its input X across the population: one matrix product
        # X [W_1; …; W_k]ᵀ serves all k networks, and BLAS does it at full speed.
        stacked = weights[0].reshape(-1, weights[0].shape[-1])
        Z = (self.X @ stacked.T).reshape(m, k, -1)
        Z += biases[0]
        Z = Z.transpose(1, 0, 2)
        for W, b in zip(weights[1:], biases[1:], strict=True):
            A = self._activate(Z)
            if keep:
                acts.append(A)
            # matmul of a stack is fast only on contiguous operands; W is a strided view.
            Z = np.matmul(A, np.ascontiguousarray(W.transpose(0, 2, 1)))
            Z += b[:, None, :]
        return acts, Z

    def _activate(self, Z: Array) -> Array:
        """``g(Z)``, in place where NumPy allows it (the backward pass needs only ``A``).

        A population's arrays are large, and on many systems every new large array
        costs page faults that take longer than the arithmetic on it; overwriting ``Z``
        avoids one per layer. The result equals ``net.activation.function(Z)``.
        """
        in_place = _IN_PLACE.get(self._g.name)
        return self._g.function(Z) if in_place is None else in_place(Z)

    def _losses(self, thetas: Array) -> Array:
        return self._loss_of_logits(self._forward(thetas)[1])

    def _output(self, Z: Array) -> Array:
        return activations.softmax(Z) if self._g_L is None else self._g_L.function(Z)

    def _targets(self) -> Array:
        if self.Y is None:
            raise ValueError("the error rate compares class labels; it has no targets Y")
        return self.Y

    def _loss_of_logits(self, Z: Array) -> Array:
        """Per-network loss from the output layer's weighted inputs, shape (k, m, K)."""
        m = Z.shape[1]
        if self.loss == "error_rate":
            A = self._output(Z)
            if A.shape[2] == 1:
                threshold = 0.0 if self.net.output_activation == "tanh" else 0.5
                predicted = (A[:, :, 0] > threshold).astype(np.int64)
            else:
                predicted = np.argmax(A, axis=2)
            return np.mean(predicted != self._labels, axis=1)
        Y = self._targets()
        if self.loss == "binary_cross_entropy":  # from the logits, as losses does
            return np.sum(losses.softplus(Z) - Y * Z, axis=(1, 2)) / m
        if self.loss == "softmax_cross_entropy":
            log_p = Z - losses.logsumexp(Z)[..., None]
            return 0.0 - np.sum(Y * log_p, axis=(1, 2)) / m
        return np.sum((self._output(Z) - Y) ** 2, axis=(1, 2)) / m

    def _loss_and_delta(self, Z: Array) -> tuple[Array, Array]:
        """Per-network loss and δ^(L) = ∂E/∂Z^(L) (with the 1/m of the mean), as BP1."""
        m, Y = Z.shape[1], self._targets()
        if self.loss == "binary_cross_entropy":
            E = np.sum(losses.softplus(Z) - Y * Z, axis=(1, 2)) / m
            return E, (activations.sigmoid(Z) - Y) / m
        if self.loss == "softmax_cross_entropy":
            log_p = Z - losses.logsumexp(Z)[..., None]
            E = 0.0 - np.sum(Y * log_p, axis=(1, 2)) / m
            return E, (np.exp(log_p) - Y) / m
        A = self._output(Z)
        E = np.sum((A - Y) ** 2, axis=(1, 2)) / m
        grad_a = 2.0 * (A - Y) / m
        if self._g_L is None:
            return E, activations.softmax_backward(A, grad_a)
        return E, grad_a * self._g_L.derivative(Z)


def _class_labels_of(Y: ArrayLike, m: int, K: int) -> NDArray[np.int64]:
    raw = np.asarray(Y)
    if raw.ndim == 1 and raw.dtype.kind in "iu":
        labels = raw.astype(np.int64)
    else:
        Y = losses.check_targets(Y, m, K, "mse")
        labels = Y[:, 0].astype(np.int64) if K == 1 else np.argmax(Y, axis=1)
        if not np.all((Y == 0) | (Y == 1)):
            raise ValueError("error_rate needs class labels, one-hot rows or 0/1 targets in Y")
    if labels.shape != (m,):
        raise ValueError(f"Y has {labels.shape[0]} labels but X has {m} examples")
    if labels.min() < 0 or labels.max() >= max(K, 2):
        raise ValueError(f"class labels in Y must lie in [0, {max(K, 2)}), got {labels.max()}")
    return labels


# --- fitness shaping and the ES gradient estimate --------------------------------------

def centred_ranks(losses: ArrayLike) -> Array:
    """Replace losses by their ranks, scaled to [−1/2, 1/2] (Salimans et al. 2017).

    The smallest loss gets −1/2, the largest +1/2, the others evenly spaced between; equal
    losses share the mean of their ranks. The result sums to zero, and depends only on the
    *order* of the losses, so any strictly increasing transformation of the loss (a
    logarithm, a square, an outlier a million times larger) leaves it unchanged.

    Parameters
    ----------
    losses : array_like, shape (M,), M >= 2

    Returns
    -------
    ndarray, shape (M,)

    Examples
    --------
    >>> centred_ranks([3.0, 1e9, -2.0, 3.0])
    array([ 0. ,  0.5, -0.5,  0. ])
    """
    values = as_float_array(losses, "losses", ndim=1)
    if len(values) < 2:
        raise ValueError(f"losses needs at least 2 values to rank, got {len(values)}")
    check_finite(values, "losses")
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=np.float64)
    ordered = values[order]
    if np.any(ordered[1:] == ordered[:-1]):
        # Ties: every member of a group of equal losses gets the group's mean rank.
        _, group = np.unique(values, return_inverse=True)
        ranks = (np.bincount(group, ranks) / np.bincount(group))[group]
    return ranks / (len(values) - 1) - 0.5


def es_gradient(losses: ArrayLike, epsilons: ArrayLike, sigma: float) -> Array:
    """The evolution-strategies estimate ``(1/(Mσ)) Σ_r E_r ε_r`` of ∇E_σ.

    With ``E_r = E(θ + σ ε_r)`` and ``ε_r ~ N(0, I_n)`` it is an unbiased
    estimate of the gradient of the Gaussian-smoothed loss
    ``E_σ(θ) = E[E(θ + σε)]``. Passed shaped values instead of losses
    (:func:`centred_ranks`), it estimates something else (see
    :class:`EvolutionStrategy`).

    Parameters
    ----------
    losses : array_like, shape (M,)
        ``E_r``: the losses of the probes, or their shaped values.
    epsilons : array_like, shape (M, n)
        The probe directions ``ε_r``, one per row.
    sigma : float, > 0

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> es_gradient([1.0, -1.0], [[1.0, 0.0], [-1.0, 0.0]], sigma=0.5)
    array([2., 0.])
    """
    losses = as_float_array(losses, "losses", ndim=1)
    epsilons = as_float_array(epsilons, "epsilons", ndim=2)
    sigma = check_positive(sigma, "sigma")
    if epsilons.shape[0] != len(losses):
        raise ValueError(
            f"epsilons has {epsilons.shape[0]} rows but losses has "
            f"{len(losses)} values"
        )
    return epsilons.T @ losses / (len(losses) * sigma)


# --- the strategies ---------------------------------------------------------------------

class Strategy:
    """The ask/tell protocol and its bookkeeping, shared by all strategies.

    Subclasses implement ``_propose() -> (k, n) array`` and
    ``_update(candidates, losses)``, and the properties ``solution`` and
    ``solution_loss``.

    Attributes
    ----------
    n : int
        Number of parameters.
    evaluations : int
        Losses received through :meth:`tell` so far.
    generation : int
        Completed ask/tell rounds (the steps t).
    """

    def __init__(self, x0: ArrayLike, seed: int) -> None:
        self._x0 = _check_vector(x0, "x0")
        if not is_integer(seed):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
        self.rng = np.random.default_rng(seed)
        self.n = len(self._x0)
        self.evaluations = 0
        self.generation = 0
        self._asked: Array | None = None

    def ask(self) -> Array:
        """Candidates whose losses the strategy needs next, shape ``(k, n)``.

        Raises
        ------
        RuntimeError
            If the previous candidates have not been answered with :meth:`tell`.
        """
        if self._asked is not None:
            raise RuntimeError("ask() was called twice; pass the losses to tell() first")
        self._asked = self._propose()
        return self._asked.copy()

    def tell(self, losses: ArrayLike) -> None:
        """Hand back the losses of the candidates from the last :meth:`ask`.

        Parameters
        ----------
        losses : array_like, shape (k,)
            ``losses[r]`` is the loss of row ``r`` of the candidates.

        Raises
        ------
        RuntimeError
            If :meth:`ask` was not called first.
        ValueError
            If ``losses`` does not have one finite value per candidate.
        """
        if self._asked is None:
            raise RuntimeError("tell() was called before ask(); ask for candidates first")
        values = as_float_array(losses, "losses", ndim=1)
        if len(values) != len(self._asked):
            raise ValueError(
                f"losses has {len(values)} values but ask() returned "
                f"{len(self._asked)} candidates; give one loss per candidate"
            )
        check_finite(values, "losses")
        candidates, self._asked = self._asked, None
        self._update(candidates, values)
        self.evaluations += len(values)
        self.generation += 1

    @property
    def solution(self) -> Array:
        """The strategy's current answer, shape ``(n,)``."""
        raise NotImplementedError

    @property
    def solution_loss(self) -> float | None:
        """The loss of :attr:`solution` if the strategy knows it, else None."""
        raise NotImplementedError

    def _propose(self) -> Array:
        raise NotImplementedError

    def _update(self, candidates: Array, losses: Array) -> None:
        raise NotImplementedError


class HillClimber(Strategy):
    """Randomly tweak the weights, keep the new ones if they are no worse: the (1+M)-ES.

    Each generation makes M (``population``) tweaked copies ``θ + σ ε_r`` of the parent
    ``θ``, with ``ε_r ~ N(0, I_n)``, and the best copy replaces the parent if its loss is no
    larger (or, with ``accept_ties=False``, only if it is strictly smaller). The
    literature writes (1+λ) with λ = M; M = 1 is Rechenberg's (1+1)-ES. The first
    generation asks only for the loss of ``x0``.

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The starting parameters.
    sigma : float, > 0
        The size σ of a tweak (standard deviation of every coordinate's change).
    population : int, >= 1
        M, the number of tweaked copies tried in parallel per generation.
    adapt_sigma : bool
        Use the 1/5 success rule in the form of Hansen, Arnold and Auger's (1+1)-ES
        (2015): ``σ ← σ exp((s − 1/5)/d)`` with ``d = √(n + 1)`` (:attr:`damping`)
        and ``s`` the share of tweaks strictly better than the parent. A success
        multiplies σ by ``exp(0.8/d)``, a failure by ``exp(−0.2/d)``: the two balance at
        a success rate of exactly 1/5. More successes mean timid steps, fewer mean
        overshooting ones.
    accept_ties : bool
        Keep a tweak whose loss equals the parent's (the classic (1+1)-ES, which can
        then drift across flat regions). ``False`` keeps only strict improvements, as
        in "keep it if it increases the accuracy".
    seed : int

    Attributes
    ----------
    damping : float
        ``d = √(n + 1)``.

    Examples
    --------
    >>> climber = HillClimber([3.0, -4.0], sigma=0.5, seed=0)
    >>> run = optimize(climber, lambda X: np.sum(X**2, axis=1), max_evaluations=200)
    >>> bool(run.losses[-1] < 0.1 * run.losses[0])
    True
    """

    def __init__(
        self,
        x0: ArrayLike,
        sigma: float,
        population: int = 1,
        *,
        adapt_sigma: bool = False,
        accept_ties: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(x0, seed)
        self.sigma = check_positive(sigma, "sigma")
        self.population = check_count(population, "population", minimum=1)
        for flag, name in ((adapt_sigma, "adapt_sigma"), (accept_ties, "accept_ties")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.adapt_sigma = adapt_sigma
        self.accept_ties = accept_ties
        self.damping = float(np.sqrt(self.n + 1))
        self._parent = self._x0.copy()
        self._parent_loss: float | None = None

    def __repr__(self) -> str:
        return (
            f"HillClimber(n={self.n}, sigma={self.sigma:.3g}, population={self.population}, "
            f"adapt_sigma={self.adapt_sigma}, accept_ties={self.accept_ties})"
        )

    @property
    def solution(self) -> Array:
        return self._parent.copy()

    @property
    def solution_loss(self) -> float | None:
        return self._parent_loss

    def _propose(self) -> Array:
        if self._parent_loss is None:
            return self._parent[None].copy()
        epsilons = self.rng.standard_normal((self.population, self.n))
        return self._parent + self.sigma * epsilons

    def _update(self, candidates: Array, losses: Array) -> None:
        if self._parent_loss is None:
            self._parent_loss = float(losses[0])
            return
        best = int(np.argmin(losses))
        if self.adapt_sigma:
            success = float(np.mean(losses < self._parent_loss))
            self.sigma *= np.exp((success - 0.2) / self.damping)
        better = losses[best] <= self._parent_loss if self.accept_ties else (
            losses[best] < self._parent_loss
        )
        if better:
            self._parent = candidates[best].copy()
            self._parent_loss = float(losses[best])


class GeneticAlgorithm(Strategy):
    """A genetic algorithm on real vectors: selection, crossover, Gaussian mutation, elitism.

    The first generation is ``x0`` and ``M − 1`` mutants of it. Every later generation
    keeps the ``elite`` best individuals unchanged (their losses are remembered, not
    re-evaluated) and fills the rest with children: a parent chosen by selection, with
    probability ``crossover`` mixed gene by gene with a second parent (uniform
    crossover), then mutated by adding ``σ ε_r``, ``ε_r ~ N(0, I_n)``. This is the algorithm
    of Such et al. (2017) when ``selection="truncation"`` and ``crossover=0``.

    Parameters
    ----------
    x0 : array_like, shape (n,)
    sigma : float, > 0
        Mutation strength σ.
    population : int, >= 2
        M, the individuals evaluated per generation.
    selection : {"truncation", "tournament"}
        ``"truncation"``: parents are drawn uniformly from the q best (``parents``).
        ``"tournament"``: each parent is the best of ``tournament_size`` individuals drawn
        at random.
    parents : int, optional
        q, the truncation size, between 1 and M; default ``M // 5`` (at least 1).
    tournament_size : int, >= 1
    crossover : float, in [0, 1]
        Probability that a child has two parents.
    elite : int, in [1, M − 1]
    seed : int

    Examples
    --------
    >>> ga = GeneticAlgorithm([3.0, -4.0], sigma=0.3, population=20, seed=0)
    >>> run = optimize(ga, lambda X: np.sum(X**2, axis=1), max_evaluations=1000)
    >>> bool(run.losses[-1] < 0.01 * run.losses[0])
    True
    """

    def __init__(
        self,
        x0: ArrayLike,
        sigma: float,
        population: int = 50,
        *,
        selection: str = "truncation",
        parents: int | None = None,
        tournament_size: int = 3,
        crossover: float = 0.0,
        elite: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(x0, seed)
        self.sigma = check_positive(sigma, "sigma")
        self.population = check_count(population, "population", minimum=2)
        if selection not in SELECTIONS:
            known = ", ".join(repr(s) for s in SELECTIONS)
            raise ValueError(f"unknown selection {selection!r}; known: {known}")
        self.selection = selection
        default_parents = max(1, self.population // 5)
        self.parents = check_count(
            default_parents if parents is None else parents, "parents", minimum=1
        )
        if self.parents > self.population:
            raise ValueError(
                f"parents must be at most population = {self.population}, got {self.parents}"
            )
        self.tournament_size = check_count(tournament_size, "tournament_size", minimum=1)
        if not is_real(crossover) or not 0.0 <= crossover <= 1.0:
            raise ValueError(f"crossover must be a probability in [0, 1], got {crossover!r}")
        self.crossover = float(crossover)
        self.elite = check_count(elite, "elite", minimum=1)
        if self.elite >= self.population:
            raise ValueError(
                f"elite must be smaller than population = {self.population}, got {self.elite}"
            )
        self._elites: Array | None = None
        self._elite_losses: Array | None = None

    def __repr__(self) -> str:
        return (
            f"GeneticAlgorithm(n={self.n}, sigma={self.sigma:.3g}, "
            f"population={self.population}, selection={self.selection!r}, "
            f"crossover={self.crossover:g}, elite={self.elite})"
        )

    @property
    def solution(self) -> Array:
        return (self._x0 if self._elites is None else self._elites[0]).copy()

    @property
    def solution_loss(self) -> float | None:
        return None if self._elite_losses is None else float(self._elite_losses[0])

    def _propose(self) -> Array:
        if self._elites is None:
            mutants = self._x0 + self.sigma * self.rng.standard_normal(
                (self.population - 1, self.n)
            )
            return np.vstack([self._x0, mutants])
        return self._children

    def _update(self, candidates: Array, losses: Array) -> None:
        if self._elites is not None:
            candidates = np.vstack([self._elites, candidates])
            losses = np.concatenate([self._elite_losses, losses])
        order = np.argsort(losses, kind="stable")
        self._elites = candidates[order[: self.elite]]
        self._elite_losses = losses[order[: self.elite]]
        self._children = self._breed(
            candidates, losses, self.population - self.elite
        )

    def _breed(self, pool: Array, losses: Array, count: int) -> Array:
        children = pool[self._select(losses, count)]
        if self.crossover > 0:
            mates = pool[self._select(losses, count)]
            crossed = self.rng.random(count) < self.crossover
            from_mate = (
                (self.rng.random((count, self.n)) < 0.5) & crossed[:, None]
            )
            children = np.where(from_mate, mates, children)
        mutations = self.rng.standard_normal((count, self.n))
        return children + self.sigma * mutations

    def _select(self, losses: Array, count: int) -> NDArray[np.intp]:
        """Indices of ``count`` parents chosen from the scored pool."""
        if self.selection == "truncation":
            best = np.argsort(losses, kind="stable")[: self.parents]
            return best[self.rng.integers(0, len(best), count)]
        contestants = self.rng.integers(0, len(losses), (count, self.tournament_size))
        winners = np.argmin(losses[contestants], axis=1)
        return contestants[np.arange(count), winners]


class EvolutionStrategy(Strategy):
    """Evolution strategies as in Salimans et al. (2017): a gradient step from random probes.

    Each generation draws directions ``ε_r ~ N(0, I_n)``, asks for the losses ``E_r`` at
    ``θ + σ ε_r``, and moves the mean θ against the estimate of :func:`es_gradient`,
    ``θ ← θ − η (1/(Mσ)) Σ_r E_r ε_r``, either by a plain step or, as Salimans et al.
    did, by Adam.

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The starting mean θ.
    sigma : float, > 0
        The scale σ of the probes: the width of the Gaussian smoothing.
    population : int, >= 2
        M, the number of losses per generation.
    learning_rate : float, > 0
        η.
    antithetic : bool
        Mirrored sampling: draw M/2 directions and evaluate both ``θ + σε`` and
        ``θ − σε``. The two halves' errors cancel to first order (the estimate of
        a quadratic's gradient no longer depends on its value or curvature). Needs an
        even ``population``.
    rank_shaping : bool
        Use :func:`centred_ranks` of the losses instead of the losses themselves. The
        step then depends only on the order of the losses: it is invariant to rescaling
        the loss and robust to outliers, but it is no longer an unbiased estimate of
        ∇E_σ. Its expectation is the gradient of a smoothed *quantile* of the loss (for
        large M, ``(1/σ) E[(P(θ, E(θ + σε)) − 1/2) ε]`` with ``P(θ, e)`` the share of
        probes around θ with a loss below ``e``), and its length does not shrink with
        the gradient.
    optimizer : {"sgd", "adam"}
        How the estimate ``∇̂E_σ`` (:attr:`last_gradient`) becomes a step: ``"sgd"`` is
        ``θ ← θ − η ∇̂E_σ``; ``"adam"`` keeps running means of ``∇̂E_σ`` and of its
        elementwise square (the Notation page's mean of the gradients and ``s_t``, decay
        rates β1, β2) and steps by ``η · mean/(√s + τ)``, each mean divided by
        ``1 − β^t`` to correct its start at zero.
    beta1, beta2 : float, in [0, 1)
        Adam's decay rates β1, β2.
    eps : float, > 0
        Adam's τ, which keeps its division finite.
    seed : int

    Attributes
    ----------
    last_gradient : ndarray, shape (n,), or None
        The estimate used in the last update (before Adam, if any).

    Examples
    --------
    >>> es = EvolutionStrategy([3.0, -4.0], sigma=0.1, population=10, learning_rate=0.5,
    ...                        rank_shaping=False, seed=0)
    >>> run = optimize(es, lambda X: np.sum(X**2, axis=1), max_evaluations=550)
    >>> bool(run.losses[-1] < 1e-3 * run.losses[0])
    True
    """

    def __init__(
        self,
        x0: ArrayLike,
        sigma: float,
        population: int = 50,
        learning_rate: float = 0.01,
        *,
        antithetic: bool = True,
        rank_shaping: bool = True,
        optimizer: str = "sgd",
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        seed: int = 0,
    ) -> None:
        super().__init__(x0, seed)
        self.sigma = check_positive(sigma, "sigma")
        self.population = check_count(population, "population", minimum=2)
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        for flag, name in ((antithetic, "antithetic"), (rank_shaping, "rank_shaping")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if antithetic and self.population % 2:
            raise ValueError(
                f"antithetic sampling evaluates mirrored pairs, so population must be "
                f"even; got {self.population}"
            )
        if optimizer not in OPTIMIZERS:
            known = ", ".join(repr(o) for o in OPTIMIZERS)
            raise ValueError(f"unknown optimizer {optimizer!r}; known: {known}")
        for beta, name in ((beta1, "beta1"), (beta2, "beta2")):
            if not is_real(beta) or not 0 <= beta < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {beta!r}")
        self.antithetic = antithetic
        self.rank_shaping = rank_shaping
        self.optimizer = optimizer
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_positive(eps, "eps")
        self._theta = self._x0.copy()
        self._epsilons = np.empty((0, self.n))  # the probes ε_r of the last _propose
        self._mean = np.zeros(self.n)
        self._s = np.zeros(self.n)
        self.last_gradient: Array | None = None

    def __repr__(self) -> str:
        return (
            f"EvolutionStrategy(n={self.n}, sigma={self.sigma:.3g}, "
            f"population={self.population}, learning_rate={self.learning_rate:.3g}, "
            f"antithetic={self.antithetic}, rank_shaping={self.rank_shaping}, "
            f"optimizer={self.optimizer!r})"
        )

    @property
    def solution(self) -> Array:
        return self._theta.copy()

    @property
    def solution_loss(self) -> None:
        # The mean θ itself is never among the candidates; its loss is not known.
        return None

    def _propose(self) -> Array:
        if self.antithetic:
            half = self.rng.standard_normal((self.population // 2, self.n))
            self._epsilons = np.vstack([half, -half])
        else:
            self._epsilons = self.rng.standard_normal((self.population, self.n))
        return self._theta + self.sigma * self._epsilons

    def _update(self, candidates: Array, losses: Array) -> None:
        shaped = centred_ranks(losses) if self.rank_shaping else losses
        g = es_gradient(shaped, self._epsilons, self.sigma)
        self.last_gradient = g
        if self.optimizer == "sgd":
            self._theta = self._theta - self.learning_rate * g
            return
        t = self.generation + 1
        self._mean = self.beta1 * self._mean + (1 - self.beta1) * g
        self._s = self.beta2 * self._s + (1 - self.beta2) * g**2
        mean_hat = self._mean / (1 - self.beta1**t)
        s_hat = self._s / (1 - self.beta2**t)
        self._theta = self._theta - (
            self.learning_rate * mean_hat / (np.sqrt(s_hat) + self.eps)
        )


class CMAES(Strategy):
    """Hansen's CMA-ES, run by the maintained ``cma`` package (pycma), as a strategy here.

    CMA-ES samples its M probes from ``N(θ, Σ)`` and adapts the mean θ, the overall scale
    and the whole covariance Σ from the ranks of their losses. Hansen writes
    ``Σ = σ² C`` (a step size σ and a covariance matrix C) and λ for the population M.
    On a quadratic loss with Hessian H the adapted Σ becomes roughly proportional to
    H⁻¹, so the probes see a problem of condition number near 1: CMA-ES learns the
    preconditioner that gradient descent would need.

    This class only translates: :meth:`ask` and :meth:`tell` call those of
    ``cma.CMAEvolutionStrategy``; its solution is the mean θ, whose loss is not among
    the probes, so :func:`optimize` evaluates and charges it like that of
    :class:`EvolutionStrategy`.

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The starting mean θ.
    sigma : float, > 0
        The initial scale σ (pycma's ``sigma0``).
    population : int, optional
        M (pycma's ``popsize``); default ``4 + ⌊3 ln n⌋``, pycma's own default.
    diagonal : bool
        Adapt only the diagonal of Σ (sep-CMA-ES, Ros and Hansen 2008): O(n) work per
        probe instead of O(n²), for large n.
    seed : int
        Seeds pycma's random numbers (through a seed derived from it: pycma reads 0 as
        "seed from the clock").

    Examples
    --------
    >>> cmaes = CMAES([3.0, -4.0, 1.0], sigma=1.0, seed=0)
    >>> run = optimize(cmaes, lambda X: np.sum(X**2, axis=1), max_evaluations=600)
    >>> bool(run.losses[-1] < 1e-4 * run.losses[0])
    True
    """

    def __init__(
        self,
        x0: ArrayLike,
        sigma: float,
        population: int | None = None,
        *,
        diagonal: bool = False,
        seed: int = 0,
    ) -> None:
        import cma  # imported here: only this strategy needs it

        super().__init__(x0, seed)
        self.sigma0 = check_positive(sigma, "sigma")
        if population is not None:
            population = check_count(population, "population", minimum=2)
        if not isinstance(diagonal, bool):
            raise TypeError(f"diagonal must be True or False, got {diagonal!r}")
        self.diagonal = diagonal
        options = {
            "seed": int(self.rng.integers(1, 2**31 - 1)),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "CMA_diagonal": diagonal,
        }
        if population is not None:
            options["popsize"] = population
        self._es = cma.CMAEvolutionStrategy(self._x0, self.sigma0, options)
        self.population = int(self._es.popsize)

    def __repr__(self) -> str:
        return (
            f"CMAES(n={self.n}, sigma={self.sigma0:.3g}, population={self.population}, "
            f"diagonal={self.diagonal})"
        )

    @property
    def solution(self) -> Array:
        return np.array(self._es.mean, dtype=np.float64)

    @property
    def solution_loss(self) -> None:
        return None

    @property
    def sigma(self) -> float:
        """pycma's current step size σ."""
        return float(self._es.sigma)

    @property
    def covariance(self) -> Array:
        """Σ, the covariance of the next probes around θ, shape ``(n, n)``."""
        C = np.asarray(self._es.C, dtype=np.float64)
        if C.ndim == 0:
            C = C * np.eye(self.n)
        elif C.ndim == 1:
            C = np.diag(C)
        scaling = np.broadcast_to(np.asarray(self._es.sigma_vec.scaling, np.float64), self.n)
        return self.sigma**2 * scaling[:, None] * C * scaling[None, :]

    def _propose(self) -> Array:
        return np.array(self._es.ask(), dtype=np.float64)

    def _update(self, candidates: Array, losses: Array) -> None:
        self._es.tell(list(candidates), losses.tolist())


# --- the drivers ------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """What :func:`optimize` or :func:`descend` recorded, one entry per step plus the start.

    Attributes
    ----------
    evaluations : ndarray of int, shape (g + 1,)
        Loss evaluations spent when each entry was recorded (including those spent on
        monitoring, see :func:`optimize`; a gradient counts ``gradient_cost``).
    losses : ndarray, shape (g + 1,)
        Loss of the strategy's solution at that point.
    seconds : ndarray, shape (g + 1,)
        Wall-clock time since the start (varies from run to run; for runs made together
        by :func:`optimize_many` or :func:`descend`, the time of the whole batch).
    solution : ndarray, shape (n,)
        The solution at the last record (on divergence, the last one with a finite
        loss).
    reached_target : bool
    diverged : bool
        Whether a loss became NaN or infinite or exceeded the divergence bound; the run
        stopped there and the records end before it.
    stopped : bool
        Whether the run was stopped early because its setting could no longer have the
        least median cost of its group (see ``groups`` in :func:`optimize_many`).
    """

    evaluations: NDArray[np.int64]
    losses: Array
    seconds: Array
    solution: Array
    reached_target: bool
    diverged: bool
    stopped: bool = False

    @property
    def generations(self) -> int:
        """Steps recorded after the start."""
        return len(self.losses) - 1

    @property
    def cost(self) -> float:
        """Evaluations spent to reach the target: the last count, or ``inf`` if missed."""
        return float(self.evaluations[-1]) if self.reached_target else float("inf")


class _Recorder:
    """The records of one run, kept while :func:`optimize_many` or :func:`descend` runs."""

    def __init__(self) -> None:
        self.evaluations: list[int] = []
        self.losses: list[float] = []
        self.seconds: list[float] = []
        self.solution: Array | None = None
        self.diverged = False
        self.stopped = False

    def record(self, evaluations: int, loss: float, seconds: float, solution: Array) -> None:
        self.evaluations.append(int(evaluations))
        self.losses.append(float(loss))
        self.seconds.append(seconds)
        self.solution = solution

    def run(self, target: float | None) -> Run:
        assert self.solution is not None
        return Run(
            evaluations=np.array(self.evaluations, dtype=np.int64),
            losses=np.array(self.losses),
            seconds=np.array(self.seconds),
            solution=self.solution,
            reached_target=target is not None and self.losses[-1] <= target,
            diverged=self.diverged,
            stopped=self.stopped,
        )


class _Race:
    """Stop the runs of settings that can no longer win on median cost (``groups``).

    A group's median cost over its S runs (S odd) is its ((S+1)/2)-th smallest cost.
    Once some group's median is known to be at most ``c`` (that many of its runs reached
    the target within ``c``), a group with (S+1)/2 runs known to cost more than ``c``
    (reached later, or still running after spending more) has a median above ``c`` and
    cannot win: its remaining runs are stopped. No winner is ever stopped, so the
    choice is that of running everything to the end.
    """

    def __init__(self, groups: Sequence[object] | None, k: int) -> None:
        self.members: list[NDArray[np.intp]] = []
        if groups is None:
            return
        groups = list(groups)
        if len(groups) != k:
            raise ValueError(f"groups has {len(groups)} labels for {k} runs")
        labels = {label: i for i, label in enumerate(dict.fromkeys(groups))}
        index = np.array([labels[g] for g in groups])
        self.members = [np.flatnonzero(index == g) for g in range(len(labels))]
        sizes = {len(m) for m in self.members}
        if len(sizes) != 1 or sizes.pop() % 2 == 0:
            raise ValueError("every group needs the same odd number of runs (one per seed)")

    def losers(self, spent: ArrayLike, costs: Array, running: Sequence[int]) -> list[int]:
        """Runs still running whose group can no longer have the least median cost.

        ``costs`` holds the cost of every run that reached the target and ``inf`` for
        the others; a run not in ``running`` with ``inf`` missed the target for good.
        """
        if not self.members:
            return []
        need = (len(self.members[0]) + 1) // 2
        best = min(np.sort(costs[m])[need - 1] for m in self.members)
        if not np.isfinite(best):
            return []
        is_running = np.zeros(len(costs), dtype=bool)
        is_running[list(running)] = True
        # Known to cost more than best: finished above it, or still running beyond it.
        worse = np.where(is_running, np.asarray(spent) > best, costs > best)
        stop: list[int] = []
        for m in self.members:
            if np.sum(worse[m]) >= need:
                stop += [int(i) for i in m if is_running[i]]
        return stop


def optimize(
    strategy: Strategy,
    f: Callable[[Array], ArrayLike],
    max_evaluations: int,
    *,
    target: float | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> Run:
    """Run ask/tell until ``max_evaluations`` losses are spent or ``target`` is reached.

    Every call of ``f`` on a row counts as one evaluation. When the strategy does not know
    the loss of its own solution (:class:`EvolutionStrategy`, :class:`CMAES`), it is
    evaluated once per generation and *counted*, so that every method is charged for
    what its record shows. The one exception is the loss at the start, recorded at 0
    evaluations for every method alike (gradient descent gets it free with its first
    gradient).

    Parameters
    ----------
    strategy : Strategy
        A fresh strategy (or one to continue).
    f : callable
        Maps candidates of shape ``(k, n)`` to their losses, shape ``(k,)``, e.g. a
        :class:`NetworkObjective`.
    max_evaluations : int, >= 1
        The budget. The last generation may overrun it by less than one population.
    target : float, optional
        Stop as soon as the solution's loss is at most ``target``.
    divergence_factor : float, > 1
        Stop (``diverged=True``) when a loss is NaN or infinite, or the solution's loss
        exceeds ``divergence_factor · max(|E_0|, 1)``.

    Returns
    -------
    Run

    Raises
    ------
    TypeError
        If ``strategy`` is not a :class:`Strategy` or ``f`` is not callable.
    ValueError
        If ``max_evaluations < 1``, ``target`` is not a finite number, the loss at the
        start is not finite, or ``f`` returns the wrong number of losses.

    Examples
    --------
    >>> run = optimize(HillClimber([1.0], sigma=0.1, seed=0), lambda X: X[:, 0] ** 2, 50)
    >>> run.evaluations[:3], bool(run.losses[-1] <= run.losses[0])
    (array([0, 1, 2]), True)
    """
    if not isinstance(strategy, Strategy):
        raise TypeError(
            f"strategy must be a bpbook.evolution Strategy, got {type(strategy).__name__}"
        )
    return optimize_many(
        [strategy], f, max_evaluations, target=target, divergence_factor=divergence_factor
    )[0]


def optimize_many(
    strategies: Sequence[Strategy],
    f: Callable[[Array], ArrayLike],
    max_evaluations: int,
    *,
    target: float | None = None,
    groups: Sequence[object] | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> list[Run]:
    """Run several strategies in lockstep, each as :func:`optimize` would run it alone.

    Each generation asks every strategy still running for its candidates, evaluates all
    of them in *one* call of ``f`` (a :class:`NetworkObjective` then runs them as one
    batch), and tells each strategy its own losses; the monitoring evaluations of
    the solutions are batched the same way. Every strategy is charged only its own
    evaluations and stops on its own budget, target or divergence, so the records equal
    those of separate :func:`optimize` calls with the same seeds. This is how the
    ask/tell interface lets one machine run many seeds and settings at once.

    Parameters
    ----------
    strategies : sequence of Strategy
        Fresh strategies (distinct objects).
    f, max_evaluations, target, divergence_factor
        As for :func:`optimize`; one budget and target for all.
    groups : sequence, optional
        A label per strategy: the runs of one setting, one per seed (the same odd
        number in every group). With a ``target``, a group's remaining runs are stopped
        (``Run.stopped``) as soon as its median cost must exceed the median of another
        group, as in a race: tuning then costs little more than the winner's runs.

    Returns
    -------
    list of Run
        One per strategy, in order.

    Raises
    ------
    TypeError, ValueError
        As :func:`optimize`, and if ``strategies`` is empty or repeats an object, or
        ``groups`` does not fit.
    """
    strategies = list(strategies)
    if not strategies:
        raise ValueError("strategies is empty; pass at least one Strategy")
    for strategy in strategies:
        if not isinstance(strategy, Strategy):
            raise TypeError(
                f"strategy must be a bpbook.evolution Strategy, got {type(strategy).__name__}"
            )
    if len({id(s) for s in strategies}) < len(strategies):
        raise ValueError("strategies repeats an object; each run needs its own strategy")
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    max_evaluations = check_count(max_evaluations, "max_evaluations", minimum=1)
    target = _check_target(target)
    factor = _check_divergence_factor(divergence_factor)
    k = len(strategies)
    race = _Race(groups, k)

    def losses_of(candidates: Array) -> Array:
        values = np.asarray(f(candidates), dtype=np.float64).reshape(-1)
        if len(values) != len(candidates):
            raise ValueError(
                f"f returned {len(values)} losses for {len(candidates)} candidates; "
                "it must map an array of shape (k, n) to k losses"
            )
        return values

    start = time.perf_counter()
    records = [_Recorder() for _ in range(k)]
    spent = np.zeros(k, dtype=np.int64)
    costs = np.full(k, np.inf)
    # Overflow is how a too-large step shows itself: detect it, don't print it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        current = losses_of(np.stack([s.solution for s in strategies]))
        for value in current:
            if not np.isfinite(value):
                raise ValueError(f"the loss at the start is {value}; start where it is finite")
        bounds = factor * np.maximum(np.abs(current), 1.0)
        running = list(range(k))
        while running:
            now = time.perf_counter() - start
            for i in running:
                records[i].record(spent[i], current[i], now, strategies[i].solution)
                if target is not None and current[i] <= target:
                    costs[i] = spent[i]
            running = [i for i in running if spent[i] < max_evaluations and costs[i] == np.inf]
            for i in race.losers(spent, costs, running):
                records[i].stopped = True
                running.remove(i)
            if not running:
                break
            asked = [strategies[i].ask() for i in running]
            values = losses_of(np.vstack(asked))
            told = []
            parts = np.split(values, np.cumsum([len(a) for a in asked])[:-1])
            for i, part in zip(running, parts, strict=True):
                spent[i] += len(part)
                if np.all(np.isfinite(part)):
                    strategies[i].tell(part)
                    told.append(i)
                else:
                    records[i].diverged = True
            unknown = [i for i in told if strategies[i].solution_loss is None]
            if unknown:
                monitored = losses_of(np.stack([strategies[i].solution for i in unknown]))
                for i, value in zip(unknown, monitored, strict=True):
                    spent[i] += 1
                    current[i] = value
            running = []
            for i in told:
                known = strategies[i].solution_loss
                if known is not None:
                    current[i] = known
                if np.isfinite(current[i]) and abs(current[i]) <= bounds[i]:
                    running.append(i)
                else:
                    records[i].diverged = True
    return [record.run(target) for record in records]


class _Differentiable(Protocol):
    n_parameters: int

    def value_and_gradient(self, thetas: Array) -> tuple[Array, Array]: ...


def descend(
    f: _Differentiable,
    starts: ArrayLike,
    learning_rates: ArrayLike,
    max_evaluations: int,
    *,
    target: float | None = None,
    groups: Sequence[object] | None = None,
    gradient_cost: float = GRADIENT_COST,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> list[Run]:
    """Full-batch gradient descent ``θ ← θ − η ∇E(θ)`` from many starts at once.

    Row ``r`` of ``starts`` descends with ``learning_rates[r]``; all rows still running
    are differentiated in one call of ``f.value_and_gradient`` (for a
    :class:`NetworkObjective`, one batched backpropagation). Each row is
    :func:`bpbook.optim.minimize` with its own rate, recorded in the unit of
    :func:`optimize`: the loss of θ_t is charged ``t · gradient_cost`` evaluations, the
    t gradients that led there (the forward pass that measures E(θ_t) is the first half
    of the next gradient). A row stops at the budget, at the target, or when its loss
    is NaN, infinite or above ``divergence_factor · max(|E(θ_0)|, 1)``.

    Parameters
    ----------
    f : object with ``value_and_gradient`` and ``n_parameters``
        E.g. a :class:`NetworkObjective`: ``f.value_and_gradient(thetas)`` maps shape
        ``(k, n)`` to losses ``(k,)`` and gradients ``(k, n)``.
    starts : array_like, shape (k, n) or (n,)
        One start per row, or one for all rows.
    learning_rates : float or array_like, shape (k,)
        η for each row, or one for all rows.
    max_evaluations : int, >= 1
        The budget: ``⌊max_evaluations / gradient_cost⌋`` steps at most.
    target : float, optional
    groups : sequence, optional
        As in :func:`optimize_many`: runs of a setting that can no longer win on median
        cost are stopped.
    gradient_cost : float, > 0
        What a gradient is charged, in loss evaluations (:data:`GRADIENT_COST`).
    divergence_factor : float, > 1

    Returns
    -------
    list of Run
        One per row, in order.

    Examples
    --------
    >>> from bpbook import datasets
    >>> X, Y = datasets.xor()
    >>> f = NetworkObjective(MLP([2, 3, 1], "tanh", "sigmoid", seed=3), X, Y,
    ...                      "binary_cross_entropy")
    >>> runs = descend(f, flatten(f.net), [1.0, 4.0], 3000, target=0.1)
    >>> [run.reached_target for run in runs], runs[1].cost < runs[0].cost
    ([True, True], True)
    """
    if not callable(getattr(f, "value_and_gradient", None)):
        raise TypeError(f"f must have a value_and_gradient method, got {type(f).__name__}")
    starts = np.atleast_2d(as_float_array(starts, "starts", ndim=(1, 2)))
    check_finite(starts, "starts")
    rates = np.atleast_1d(as_float_array(learning_rates, "learning_rates", ndim=(0, 1)))
    if len(starts) != len(rates) and 1 not in (len(starts), len(rates)):
        raise ValueError(
            f"starts has {len(starts)} rows but learning_rates has {len(rates)} values; "
            "give one rate per row, or one start or one rate for all"
        )
    k = max(len(starts), len(rates))
    thetas = np.array(np.broadcast_to(starts, (k, starts.shape[1])), dtype=np.float64)
    rates = np.array(np.broadcast_to(rates, k), dtype=np.float64)
    if not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"learning_rates must be finite numbers > 0, got {rates}")
    max_evaluations = check_count(max_evaluations, "max_evaluations", minimum=1)
    target = _check_target(target)
    cost = check_positive(gradient_cost, "gradient_cost")
    factor = _check_divergence_factor(divergence_factor)
    race = _Race(groups, k)
    steps = int(max_evaluations // cost)

    start = time.perf_counter()
    records = [_Recorder() for _ in range(k)]
    costs = np.full(k, np.inf)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        E, gradient = f.value_and_gradient(thetas)
        if not np.all(np.isfinite(E)):
            raise ValueError(f"the loss at the start is {E}; start where it is finite")
        bounds = factor * np.maximum(np.abs(E), 1.0)
        running = np.arange(k)
        for t in range(steps + 1):
            now, spent = time.perf_counter() - start, round(t * cost)
            for j, i in enumerate(running):
                records[i].record(spent, E[j], now, thetas[i].copy())
            keep = np.ones(len(running), dtype=bool)
            if target is not None:
                keep = E > target
                costs[running[~keep]] = spent
            losers = race.losers(np.full(k, spent), costs, running[keep].tolist())
            for loser in losers:
                records[loser].stopped = True
            keep &= ~np.isin(running, losers)
            if t == steps or not keep.any():
                break
            running, gradient = running[keep], gradient[keep]
            thetas[running] -= rates[running, None] * gradient
            E, gradient = f.value_and_gradient(thetas[running])
            healthy = np.isfinite(E) & (np.abs(E) <= bounds[running])
            healthy &= np.all(np.isfinite(thetas[running]), axis=1)
            for i in running[~healthy]:
                records[i].diverged = True
            running, E, gradient = running[healthy], E[healthy], gradient[healthy]
            if not len(running):
                break
    return [record.run(target) for record in records]


@dataclass(frozen=True)
class Tuning:
    """The result of :func:`tune` or :func:`tune_descent`.

    Attributes
    ----------
    settings : list
        The grid, in the order given.
    seeds : list of int
    costs : ndarray, shape (len(settings), len(seeds))
        Evaluations each run needed to reach the target; ``inf`` if it missed it within
        the budget or was stopped because its setting could no longer win.
    best : object
        The setting with the least median cost (the first of equals).
    """

    settings: list[object]
    seeds: list[int]
    costs: Array
    best: object

    @property
    def medians(self) -> Array:
        """Median cost of each setting over the seeds, shape ``(len(settings),)``."""
        return np.median(self.costs, axis=1)


def tune(
    make: Callable[[object, int], Strategy],
    settings: Sequence[object],
    f: Callable[[Array], ArrayLike],
    seeds: Sequence[int],
    max_evaluations: int,
    *,
    target: float,
) -> Tuning:
    """Choose the setting that reaches ``target`` with the least median cost.

    Every setting runs once per seed, ``make(setting, seed)``, all in
    lockstep (:func:`optimize_many`), and a setting is stopped as soon as it
    cannot win.

    Parameters
    ----------
    make : callable
        ``make(setting, seed)`` returns a fresh :class:`Strategy`.
    settings : sequence
        The grid.
    f : callable
        The objective, as for :func:`optimize`.
    seeds : sequence of int
        An odd number of seeds (use other seeds to report the chosen setting).
    max_evaluations : int
        Budget of each run.
    target : float
        The loss to reach.

    Returns
    -------
    Tuning
    """
    settings, seeds = list(settings), [int(s) for s in seeds]
    strategies = [make(setting, seed) for setting in settings for seed in seeds]
    groups = [i for i in range(len(settings)) for _ in seeds]
    runs = optimize_many(strategies, f, max_evaluations, target=target,
                         groups=groups)
    return _tuning(settings, seeds, runs)


def tune_descent(
    f: _Differentiable,
    start: Callable[[int], ArrayLike],
    learning_rates: Sequence[float],
    seeds: Sequence[int],
    max_evaluations: int,
    *,
    target: float,
    gradient_cost: float = GRADIENT_COST,
) -> Tuning:
    """:func:`tune` for gradient descent: choose η from ``learning_rates``.

    ``start(seed)`` gives θ_0 for a seed; all rates and seeds run as one
    :func:`descend`.
    """
    rates, seeds = [float(r) for r in learning_rates], [int(s) for s in seeds]
    starts = np.stack([start(seed) for _ in rates for seed in seeds])
    groups = [i for i in range(len(rates)) for _ in seeds]
    runs = descend(f, starts, np.repeat(rates, len(seeds)), max_evaluations, target=target,
                   groups=groups, gradient_cost=gradient_cost)
    return _tuning(rates, seeds, runs)


def _tuning(settings: Sequence[object], seeds: list[int], runs: list[Run]) -> Tuning:
    costs = np.array([run.cost for run in runs]).reshape(len(settings), len(seeds))
    medians = np.median(costs, axis=1)
    return Tuning(list(settings), seeds, costs, settings[int(np.argmin(medians))])


def evaluations_to_target(
    evaluations: ArrayLike, losses: ArrayLike, target: float
) -> float:
    """The first number of evaluations at which ``losses`` is at most ``target``.

    Parameters
    ----------
    evaluations : array_like, shape (k,)
        Evaluations spent at each record (e.g. ``Run.evaluations``).
    losses : array_like, shape (k,)
        The loss recorded there.
    target : float

    Returns
    -------
    float
        The evaluation count, or ``inf`` if the target was never reached.

    Examples
    --------
    >>> evaluations_to_target([0, 3, 6, 9], [1.0, 0.5, 0.2, 0.1], 0.3)
    6.0
    """
    evaluations = as_float_array(evaluations, "evaluations", ndim=1)
    losses = as_float_array(losses, "losses", ndim=1)
    if evaluations.shape != losses.shape:
        raise ValueError(
            f"evaluations has shape {evaluations.shape} but losses has {losses.shape}"
        )
    reached = np.flatnonzero(losses <= target)
    return float(evaluations[reached[0]]) if len(reached) else float("inf")


# --- argument checks --------------------------------------------------------------------

def _check_vector(
    value: ArrayLike, name: str, length: int | None = None, finite: bool = True
) -> Array:
    vector = as_float_array(value, name, ndim=1)
    if length is not None and len(vector) != length:
        raise ValueError(f"{name} must have length {length}, got {len(vector)}")
    if len(vector) == 0:
        raise ValueError(f"{name} is empty; it needs at least one parameter")
    if finite:
        check_finite(vector, name)
    return np.array(vector, dtype=np.float64, copy=True)


def _check_target(target: object) -> float | None:
    if target is None:
        return None
    if not is_real(target) or not np.isfinite(target):
        raise ValueError(f"target must be a finite number or None, got {target!r}")
    return float(target)


def _check_divergence_factor(value: object) -> float:
    factor = check_positive(value, "divergence_factor")
    if factor <= 1:
        raise ValueError(f"divergence_factor must be greater than 1, got {value!r}")
    return factor
