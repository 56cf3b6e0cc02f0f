"""Evolutionary learning: improving parameters by trying variations, with no gradient.

Every method here is a *strategy* with the same two-step interface (ask/tell):

1. ``candidates = strategy.ask()`` proposes parameter vectors, one per row,
   shape ``(k, n)``;
2. the caller computes the loss of every row, in any way it likes (a loop, a vectorised
   batch, thousands of machines), and hands them back with ``strategy.tell(losses)``.

The strategy never calls the loss itself, which is what makes evolution embarrassingly
parallel. :func:`optimize` runs the loop until a budget of loss evaluations is spent or a
target loss is reached, and records the loss of the current solution against the number
of loss evaluations spent.

=========================  ==============================================================
strategy                   one generation
=========================  ==============================================================
:class:`HillClimber`       tweak the parent λ times, keep the best child if it is no worse
                           (the (1+λ) evolution strategy; λ = 1 is the (1+1)-ES)
:class:`GeneticAlgorithm`  select parents, cross them over, mutate; keep the elite
:class:`EvolutionStrategy` estimate the gradient of the Gaussian-smoothed loss from
                           mirrored perturbations, take a gradient step (Salimans et al.)
=========================  ==============================================================

A network becomes a vector of parameters with :func:`flatten` and a vector a network with
:func:`unflatten`; :class:`NetworkObjective` evaluates the loss of a whole population of
networks in one vectorised forward pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import activations, losses
from bpbook._checks import as_float_array, check_count, check_finite, check_positive
from bpbook.network import MLP
from bpbook.optim import DIVERGENCE_FACTOR

__all__ = [
    "GRADIENT_COST",
    "EvolutionStrategy",
    "GeneticAlgorithm",
    "HillClimber",
    "NetworkObjective",
    "Run",
    "Strategy",
    "centred_ranks",
    "es_gradient",
    "evaluations_to_target",
    "flatten",
    "optimize",
    "unflatten",
]

Array = NDArray[np.float64]

#: What one backpropagation gradient (with the loss it comes with) is charged, in loss
#: evaluations. The forward pass does one matrix product per layer; the backward pass two
#: (``δᵀA`` for ∂E/∂W and ``δW`` for the next delta, which the first layer skips). Three
#: forward passes is therefore an upper bound by operation count; the time measured by
#: ``bench/backward_vs_forward.py`` is 3 to 4.5.
GRADIENT_COST = 3

#: Damping of the 1/5 success rule: σ grows by exp(0.8/d) = exp(1/3) after a success and
#: shrinks by exp(−0.2/d) = exp(−1/12) after a failure, which balance at a success rate of
#: exactly 1/5 (the (1+1)-ES of Kern et al. 2004, after Rechenberg 1973).
SUCCESS_RULE_DAMPING = 2.4

SELECTIONS = ("truncation", "tournament")
OBJECTIVE_LOSSES = (*losses.LOSSES, "error_rate")


# --- flat parameter vectors -------------------------------------------------------------

def flatten(net: MLP) -> Array:
    """All weights and biases of ``net`` as one vector.

    The order is ``W^(0), …, W^(L−1)`` (each row by row), then ``b^(0), …, b^(L−1)``: the
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
    """The loss of a network on fixed data, as a function of its parameter vector.

    Called with a matrix of parameter vectors (one network per row) it runs all of them
    in one batched forward pass, ``A ← g(A Wᵀ + b)`` with a stack of matrices ``W`` of
    shape ``(k, n_out, n_in)``, so a population costs no Python loop per member.

    Parameters
    ----------
    net : MLP
        The architecture (its current parameters are not used).
    X : array_like, shape (m, n_in)
    Y : array_like
        Targets in any form :meth:`MLP.loss` accepts for ``loss``; for ``"error_rate"``
        integer class labels of shape ``(m,)`` or the targets of the other losses.
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy", "error_rate"}
        ``"error_rate"`` is the share of misclassified examples (as :meth:`MLP.predict`
        classifies): one minus the accuracy. It is piecewise constant in the parameters,
        so it has no useful gradient.

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
        if loss == "error_rate":
            self._labels = _class_labels_of(Y, X.shape[0], net.layer_sizes[-1])
            Y = None
        else:
            X, Y, _ = net.check_data(X, Y, loss, 0.0)
        self.X, self.Y = X, Y
        self.n_parameters = net.n_parameters
        self._shapes = _shapes(net)

    def __repr__(self) -> str:
        return (
            f"NetworkObjective({self.net!r}, m={self.X.shape[0]}, loss={self.loss!r})"
        )

    def __call__(self, thetas: ArrayLike) -> Array | float:
        """Loss of each row of ``thetas`` (shape ``(k, n)`` → ``(k,)``; ``(n,)`` → float)."""
        thetas = as_float_array(thetas, "thetas", ndim=(1, 2))
        if thetas.shape[-1] != self.n_parameters:
            raise ValueError(
                f"thetas has {thetas.shape[-1]} columns but the network has "
                f"{self.n_parameters} parameters"
            )
        if thetas.ndim == 1:
            return float(self._losses(thetas[None])[0])
        widest = self.X.shape[0] * max(self.net.layer_sizes)
        chunk = max(1, self.CHUNK_FLOATS // widest)
        return np.concatenate(
            [self._losses(thetas[i : i + chunk]) for i in range(0, len(thetas), chunk)]
        )

    def value(self, theta: ArrayLike) -> float:
        """The loss of one parameter vector, shape ``(n,)``."""
        theta = _check_vector(theta, "theta", self.n_parameters, finite=False)
        return float(self._losses(theta[None])[0])

    def gradient(self, theta: ArrayLike) -> Array:
        """∇E at ``theta`` by backpropagation (:meth:`MLP.gradients`), shape ``(n,)``.

        Raises
        ------
        ValueError
            For ``loss="error_rate"``, whose gradient is zero wherever it exists.
        """
        if self.loss == "error_rate":
            raise ValueError(
                "the error rate is piecewise constant: its gradient is zero wherever it "
                "exists, so backpropagation has nothing to follow"
            )
        _, grad_w, grad_b = unflatten(self.net, theta).gradients(self.X, self.Y, self.loss)
        return np.concatenate([g.ravel() for g in (*grad_w, *grad_b)])

    def _losses(self, thetas: Array) -> Array:
        net = self.net
        params = _split(thetas, self._shapes)
        weights, biases = params[: net.n_layers], params[net.n_layers :]
        k, m = len(thetas), self.X.shape[0]
        # The first layer shares its input X across the population: one matrix product
        # X [W_1; …; W_k]ᵀ serves all k networks, and BLAS does it at full speed.
        stacked = weights[0].reshape(-1, weights[0].shape[-1])
        Z = (self.X @ stacked.T).reshape(m, k, -1).transpose(1, 0, 2) + biases[0][:, None, :]
        for W, b in zip(weights[1:], biases[1:]):
            A = net.activation.function(Z)
            Z = np.matmul(A, np.ascontiguousarray(W.transpose(0, 2, 1))) + b[:, None, :]
        return self._loss_of_logits(Z)

    def _loss_of_logits(self, Z: Array) -> Array:
        """Per-network loss from the output layer's weighted inputs, shape (k, m, K)."""
        m, output = Z.shape[1], self.net.output_activation
        if self.loss == "error_rate":
            A = activations.softmax(Z) if output == "softmax" else (
                activations.get_activation(output).function(Z)
            )
            if A.shape[2] == 1:
                threshold = 0.0 if output == "tanh" else 0.5
                predicted = (A[:, :, 0] > threshold).astype(np.int64)
            else:
                predicted = np.argmax(A, axis=2)
            return np.mean(predicted != self._labels, axis=1)
        if self.loss == "binary_cross_entropy":  # from the logits, as losses does
            return np.sum(losses.softplus(Z) - self.Y * Z, axis=(1, 2)) / m
        if self.loss == "softmax_cross_entropy":
            log_p = Z - losses.logsumexp(Z)[..., None]
            return 0.0 - np.sum(self.Y * log_p, axis=(1, 2)) / m
        A = activations.softmax(Z) if output == "softmax" else (
            activations.get_activation(output).function(Z)
        )
        return np.sum((A - self.Y) ** 2, axis=(1, 2)) / m


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
    losses : array_like, shape (N,), N >= 2

    Returns
    -------
    ndarray, shape (N,)

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
    # Ties: every member of a group of equal losses gets the group's mean rank.
    unique, group = np.unique(values, return_inverse=True)
    if len(unique) < len(values):
        ranks = (np.bincount(group, ranks) / np.bincount(group))[group]
    return ranks / (len(values) - 1) - 0.5


def es_gradient(fitness: ArrayLike, epsilons: ArrayLike, sigma: float) -> Array:
    """The evolution-strategies gradient estimate ``g = (1/(Nσ)) Σ_i F_i ε_i``.

    With ``F_i = F(θ + σ ε_i)`` and ``ε_i ~ N(0, I)``, ``g`` is an unbiased estimate of
    the gradient of the Gaussian-smoothed function ``F_σ(θ) = E[F(θ + σε)]``.

    Parameters
    ----------
    fitness : array_like, shape (N,)
        ``F_i``: the losses, or their shaped values (:func:`centred_ranks`).
    epsilons : array_like, shape (N, n)
        The perturbation directions ``ε_i``, one per row.
    sigma : float, > 0

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> es_gradient([1.0, -1.0], [[1.0, 0.0], [-1.0, 0.0]], sigma=0.5)
    array([2., 0.])
    """
    fitness = as_float_array(fitness, "fitness", ndim=1)
    epsilons = as_float_array(epsilons, "epsilons", ndim=2)
    sigma = check_positive(sigma, "sigma")
    if epsilons.shape[0] != len(fitness):
        raise ValueError(
            f"epsilons has {epsilons.shape[0]} rows but fitness has {len(fitness)} values"
        )
    return epsilons.T @ fitness / (len(fitness) * sigma)


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
        Completed ask/tell rounds.
    """

    def __init__(self, x0: ArrayLike, seed: int) -> None:
        self._x0 = _check_vector(x0, "x0")
        if isinstance(seed, bool) or not isinstance(seed, Integral):
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
            ``losses[i]`` is the loss of row ``i`` of the candidates.

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
    """Randomly tweak the weights, keep the new ones if they are no worse: the (1+λ)-ES.

    Each generation makes ``population`` (λ) tweaked copies ``x + σ z`` of the parent
    ``x``, with ``z ~ N(0, I)``, and the best copy replaces the parent if its loss is no
    larger. Ties are accepted, as in the classic (1+1)-ES, so the climber can drift across
    flat regions. The first generation asks only for the loss of ``x0``.

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The starting parameters.
    sigma : float, > 0
        The size of a tweak (standard deviation of every coordinate's change).
    population : int, >= 1
        λ, the number of tweaked copies tried in parallel per generation.
    adapt_sigma : bool
        Use Rechenberg's 1/5 success rule: σ ← σ exp((s − 1/5)/d), with ``s`` the share of
        tweaks that were strictly better than the parent and ``d`` =
        :data:`SUCCESS_RULE_DAMPING`. More than one success in five means the steps are
        timid, fewer that they overshoot.
    seed : int

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
        seed: int = 0,
    ) -> None:
        super().__init__(x0, seed)
        self.sigma = check_positive(sigma, "sigma")
        self.population = check_count(population, "population", minimum=1)
        if not isinstance(adapt_sigma, bool):
            raise TypeError(f"adapt_sigma must be True or False, got {adapt_sigma!r}")
        self.adapt_sigma = adapt_sigma
        self._parent = self._x0.copy()
        self._parent_loss: float | None = None

    def __repr__(self) -> str:
        return (
            f"HillClimber(n={self.n}, sigma={self.sigma:.3g}, population={self.population}, "
            f"adapt_sigma={self.adapt_sigma})"
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
        return self._parent + self.sigma * self.rng.standard_normal((self.population, self.n))

    def _update(self, candidates: Array, losses: Array) -> None:
        if self._parent_loss is None:
            self._parent_loss = float(losses[0])
            return
        best = int(np.argmin(losses))
        if self.adapt_sigma:
            success = float(np.mean(losses < self._parent_loss))
            self.sigma *= np.exp((success - 0.2) / SUCCESS_RULE_DAMPING)
        if losses[best] <= self._parent_loss:
            self._parent, self._parent_loss = candidates[best].copy(), float(losses[best])


class GeneticAlgorithm(Strategy):
    """A genetic algorithm on real vectors: selection, crossover, Gaussian mutation, elitism.

    The first generation is ``x0`` and ``population − 1`` mutants of it. Every later
    generation keeps the ``elite`` best individuals unchanged (their losses are
    remembered, not re-evaluated) and fills the rest with children: a parent chosen by
    selection, with probability ``crossover`` mixed gene by gene with a second parent
    (uniform crossover), then mutated by adding ``σ z``, ``z ~ N(0, I)``. This is the
    algorithm of Such et al. (2017) when ``selection="truncation"`` and ``crossover=0``.

    Parameters
    ----------
    x0 : array_like, shape (n,)
    sigma : float, > 0
        Mutation strength.
    population : int, >= 2
    selection : {"truncation", "tournament"}
        ``"truncation"``: parents are drawn uniformly from the ``parents`` best.
        ``"tournament"``: each parent is the best of ``tournament_size`` individuals drawn
        at random.
    parents : int, optional
        Truncation size, between 1 and ``population``; default ``population // 5`` (at
        least 1).
    tournament_size : int, >= 1
    crossover : float, in [0, 1]
        Probability that a child has two parents.
    elite : int, in [1, population − 1]
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
        if isinstance(crossover, bool) or not isinstance(crossover, Real) or not (
            0.0 <= crossover <= 1.0
        ):
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
        self._children = self._breed(candidates, losses, self.population - self.elite)

    def _breed(self, pool: Array, losses: Array, count: int) -> Array:
        children = pool[self._select(losses, count)]
        if self.crossover > 0:
            mates = pool[self._select(losses, count)]
            crossed = self.rng.random(count) < self.crossover
            from_mate = (self.rng.random((count, self.n)) < 0.5) & crossed[:, None]
            children = np.where(from_mate, mates, children)
        return children + self.sigma * self.rng.standard_normal((count, self.n))

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

    Each generation draws directions ``ε_i ~ N(0, I)``, asks for the losses ``F_i`` at
    ``θ + σ ε_i``, and moves the mean ``θ`` against the estimate of :func:`es_gradient`,
    ``θ ← θ − η (1/(Nσ)) Σ_i F_i ε_i`` (plain gradient descent; Salimans et al. used Adam).

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The starting mean θ.
    sigma : float, > 0
        Standard deviation σ of the perturbations: the width of the Gaussian smoothing.
    population : int, >= 2
        N, the number of losses per generation.
    learning_rate : float, > 0
        η.
    antithetic : bool
        Mirrored sampling: draw N/2 directions and evaluate both ``θ + σε`` and
        ``θ − σε``. The two halves' errors cancel to first order (the estimate of
        a quadratic's gradient no longer depends on its value or curvature). Needs an
        even ``population``.
    rank_shaping : bool
        Use :func:`centred_ranks` of the losses as ``F`` instead of the losses
        themselves. The step then depends only on the order of the losses: it is
        invariant to rescaling the loss and robust to outliers, but it is no longer an
        unbiased estimate of the smoothed gradient.
    seed : int

    Attributes
    ----------
    last_gradient : ndarray, shape (n,), or None
        The estimate used in the last update.

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
        self.antithetic = antithetic
        self.rank_shaping = rank_shaping
        self._theta = self._x0.copy()
        self._epsilons: Array | None = None
        self.last_gradient: Array | None = None

    def __repr__(self) -> str:
        return (
            f"EvolutionStrategy(n={self.n}, sigma={self.sigma:.3g}, "
            f"population={self.population}, learning_rate={self.learning_rate:.3g}, "
            f"antithetic={self.antithetic}, rank_shaping={self.rank_shaping})"
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
        fitness = centred_ranks(losses) if self.rank_shaping else losses
        self.last_gradient = es_gradient(fitness, self._epsilons, self.sigma)
        self._theta = self._theta - self.learning_rate * self.last_gradient


# --- the driver -------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """What :func:`optimize` recorded, one entry per generation plus the start.

    Attributes
    ----------
    evaluations : ndarray of int, shape (g + 1,)
        Loss evaluations spent when each entry was recorded (including those spent on
        monitoring, see :func:`optimize`).
    losses : ndarray, shape (g + 1,)
        Loss of the strategy's solution at that point.
    seconds : ndarray, shape (g + 1,)
        Wall-clock time since the start (varies from run to run).
    solution : ndarray, shape (n,)
        The solution at the last record (on divergence, the last one with a finite
        loss).
    reached_target : bool
    diverged : bool
        Whether a loss became NaN or infinite or exceeded the divergence bound; the run
        stopped there and the records end before it.
    """

    evaluations: NDArray[np.int64]
    losses: Array
    seconds: Array
    solution: Array
    reached_target: bool
    diverged: bool

    @property
    def generations(self) -> int:
        return len(self.losses) - 1


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
    the loss of its own solution (:class:`EvolutionStrategy`), it is evaluated once per
    generation and *counted*, so that every method is charged for what its record shows.
    The one exception is the loss at the start, recorded at 0 evaluations for every
    method alike (gradient descent gets it free with its first gradient).

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
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    max_evaluations = check_count(max_evaluations, "max_evaluations", minimum=1)
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, Real) or not np.isfinite(target):
            raise ValueError(f"target must be a finite number or None, got {target!r}")
    factor = check_positive(divergence_factor, "divergence_factor")
    if factor <= 1:
        raise ValueError(f"divergence_factor must be greater than 1, got {divergence_factor!r}")

    spent = 0

    def losses_of(candidates: Array) -> Array:
        nonlocal spent
        values = np.asarray(f(candidates), dtype=np.float64).reshape(-1)
        if len(values) != len(candidates):
            raise ValueError(
                f"f returned {len(values)} losses for {len(candidates)} candidates; "
                "it must map an array of shape (k, n) to k losses"
            )
        spent += len(values)
        return values

    def solution_loss() -> float:
        known = strategy.solution_loss
        return known if known is not None else float(losses_of(strategy.solution[None])[0])

    start = time.perf_counter()
    evaluations, records, seconds = [], [], []
    diverged = False
    # Overflow is how a too-large step shows itself: detect it, don't print it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        current = float(np.asarray(f(strategy.solution[None]), dtype=np.float64).reshape(-1)[0])
        if not np.isfinite(current):
            raise ValueError(f"the loss at the start is {current}; start where it is finite")
        bound = factor * max(abs(current), 1.0)
        while True:
            evaluations.append(spent)
            records.append(current)
            seconds.append(time.perf_counter() - start)
            solution = strategy.solution  # the last one whose loss was recorded
            if spent >= max_evaluations or (target is not None and current <= target):
                break
            values = losses_of(strategy.ask())
            if not np.all(np.isfinite(values)):
                diverged = True
                break
            strategy.tell(values)
            current = solution_loss()
            if not (np.isfinite(current) and abs(current) <= bound):
                diverged = True
                break
    return Run(
        evaluations=np.array(evaluations, dtype=np.int64),
        losses=np.array(records),
        seconds=np.array(seconds),
        solution=solution,
        reached_target=target is not None and records[-1] <= target,
        diverged=diverged,
    )


def evaluations_to_target(
    evaluations: ArrayLike, losses: ArrayLike, target: float
) -> float:
    """The first number of evaluations at which ``losses`` is at most ``target``.

    Parameters
    ----------
    evaluations : array_like, shape (k,)
        Evaluations spent at each record (e.g. ``Run.evaluations``, or
        ``GRADIENT_COST * step`` for gradient descent).
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


