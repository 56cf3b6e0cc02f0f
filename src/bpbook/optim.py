"""Gradient descent: the optimiser, the training loop, and minimisation of plain functions.

Gradient descent changes parameters ``θ`` against the gradient of the loss ``E``::

    θ ← θ − η ∇E(θ)                              (plain gradient descent, learning rate η)
    v ← μ v − η ∇E(θ),   θ ← θ + v               (classical momentum, Polyak's heavy ball)

:func:`train` applies it to a network, on the whole training set at once (full batch),
one example at a time (stochastic) or on minibatches of a given size, in an order drawn
from a seeded generator. :func:`minimize` applies it to a function of a vector, the
laboratory in which the chapter studies the learning rate.

Both watch for **divergence**: a loss that becomes infinite or NaN, or grows beyond
``divergence_factor`` times its starting size. They then stop, keep everything recorded up
to that point, and say where it happened (``diverged``, ``diverged_at``). Overflow is the
expected symptom of a too-large learning rate, so it is silenced inside the loop
(``np.errstate``) and reported once, as a result, instead of as a wall of warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import losses
from bpbook._checks import (
    as_float_array,
    check_count,
    check_finite,
    check_nonnegative,
    check_positive,
)
from bpbook.network import MLP

if TYPE_CHECKING:
    from tqdm.auto import tqdm

__all__ = ["GradientDescent", "History", "Trajectory", "largest_curvature", "minimize", "train"]

Array = NDArray[np.float64]

#: A checked test set: inputs, targets as (m, K) floats, and class labels (or None).
TestSet = tuple[Array, Array, NDArray[np.int64] | None]

#: Default for ``divergence_factor``: a loss this many times its starting size (or
#: larger than this, if it started below 1) counts as diverged.
DIVERGENCE_FACTOR = 1e6


class GradientDescent:
    """Gradient descent with optional classical momentum.

    Parameters
    ----------
    learning_rate : float, > 0
        The step size η.
    momentum : float, in [0, 1)
        The momentum coefficient μ; 0 gives plain gradient descent.

    Notes
    -----
    With ``momentum = μ`` the update is ``v ← μ v − η g``, ``θ ← θ + v``, with the
    velocity ``v`` starting at 0 (Polyak 1964). Unrolled, it is
    ``θ_{k+1} = θ_k − η g_k + μ (θ_k − θ_{k−1})``: the previous step is repeated, shrunk
    by μ, on top of the new one.

    Examples
    --------
    >>> theta = np.array([1.0, -2.0])
    >>> GradientDescent(0.1).step([theta], [np.array([10.0, 10.0])])
    >>> theta
    array([ 0., -3.])
    """

    def __init__(self, learning_rate: float, momentum: float = 0.0) -> None:
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        momentum = check_nonnegative(momentum, "momentum")
        if momentum >= 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self._velocity: list[Array] | None = None

    def __repr__(self) -> str:
        return f"GradientDescent(learning_rate={self.learning_rate:g}, momentum={self.momentum:g})"

    def reset(self) -> None:
        """Forget the velocity, so that the next step starts from rest."""
        self._velocity = None

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """Update every array of ``params`` in place, one gradient step.

        Parameters
        ----------
        params : sequence of ndarray
            The parameters θ, float64 arrays changed in place (e.g. a network's weight
            matrices and bias vectors).
        grads : sequence of ndarray
            ∇E at the current θ, one array per parameter, of the same shapes.

        Raises
        ------
        ValueError
            If ``params`` and ``grads`` differ in length or in the shape of an array, or
            the shapes differ from those of the previous step (call :meth:`reset` before
            optimising different parameters).
        TypeError
            If a parameter is not a float64 ndarray (it could not be changed in place).
        """
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(
                f"params has {len(params)} arrays but grads has {len(grads)}; "
                "give one gradient per parameter array"
            )
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(p, np.ndarray) or p.dtype != np.float64:
                raise TypeError(f"params[{i}] must be a float64 ndarray, updated in place")
            if np.shape(g) != p.shape:
                raise ValueError(
                    f"grads[{i}] has shape {np.shape(g)} but params[{i}] has shape {p.shape}"
                )
        if self.momentum == 0.0:
            for p, g in zip(params, grads):
                p -= self.learning_rate * g
            return
        if self._velocity is None:
            self._velocity = [np.zeros_like(p) for p in params]
        elif [v.shape for v in self._velocity] != [p.shape for p in params]:
            raise ValueError(
                "params have different shapes from the previous step; "
                "call reset() before optimising other parameters"
            )
        for p, g, v in zip(params, grads, self._velocity):
            v *= self.momentum
            v -= self.learning_rate * g
            p += v


@dataclass(frozen=True)
class Trajectory:
    """The path of :func:`minimize`.

    Attributes
    ----------
    points : ndarray, shape (k + 1, *x0.shape)
        ``x_0, x_1, …, x_k``; on divergence only the iterates before it.
    values : ndarray, shape (k + 1,)
        ``f`` at each point.
    diverged : bool
        Whether ``f`` became infinite or NaN or exceeded the divergence bound.
    diverged_at : int or None
        Index of the first iterate at which divergence was detected (so
        ``len(values) == diverged_at``), or None.
    """

    points: Array
    values: Array
    diverged: bool
    diverged_at: int | None

    @property
    def steps(self) -> int:
        """Number of steps taken (the iterates recorded, minus the start)."""
        return len(self.values) - 1


def minimize(
    f: Callable[[Array], float],
    grad: Callable[[Array], ArrayLike],
    x0: ArrayLike,
    learning_rate: float,
    steps: int,
    *,
    momentum: float = 0.0,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> Trajectory:
    """Run gradient descent ``x ← x − η ∇f(x)`` on a function and keep its path.

    Parameters
    ----------
    f : callable
        ``f(x)``, a real number for an array ``x`` shaped like ``x0``.
    grad : callable
        ``∇f(x)``, an array shaped like ``x0``.
    x0 : array_like
        Starting point (a number for a function of one variable).
    learning_rate : float, > 0
        The step size η.
    steps : int, >= 0
        Number of steps.
    momentum : float, in [0, 1)
        Momentum coefficient μ of :class:`GradientDescent`.
    divergence_factor : float, > 1
        Stop when ``|f(x_k)|`` exceeds ``divergence_factor · max(|f(x_0)|, 1)``, or when
        ``f(x_k)`` or ``x_k`` is not finite.

    Returns
    -------
    Trajectory
        ``points`` of shape ``(steps + 1, *x0.shape)`` (fewer on divergence), ``values``.

    Raises
    ------
    TypeError
        If ``f`` or ``grad`` is not callable, or ``x0`` does not hold real numbers.
    ValueError
        If ``x0`` is not finite, ``learning_rate`` is not positive, ``steps`` is not a
        non-negative integer, ``momentum`` is outside [0, 1), ``divergence_factor`` is
        not above 1, ``f(x0)`` is not finite, or ``grad`` returns the wrong shape.

    Examples
    --------
    >>> path = minimize(lambda x: x**2 / 2, lambda x: x, 1.0, learning_rate=0.5, steps=3)
    >>> path.points
    array([1.   , 0.5  , 0.25 , 0.125])
    >>> minimize(lambda x: x**2 / 2, lambda x: x, 1.0, 3.0, 100).diverged_at
    11
    """
    for func, name in ((f, "f"), (grad, "grad")):
        if not callable(func):
            raise TypeError(f"{name} must be callable, got {type(func).__name__}")
    x = np.array(as_float_array(x0, "x0"), dtype=np.float64)
    check_finite(x, "x0")
    steps = check_count(steps, "steps", minimum=0)
    bound = _check_divergence_factor(divergence_factor)
    optimizer = GradientDescent(learning_rate, momentum)
    value = float(f(x))
    if not np.isfinite(value):
        raise ValueError(f"f(x0) is {value}; start where the function is finite")
    bound *= max(abs(value), 1.0)
    points, values = [x.copy()], [value]
    diverged_at = None
    # Overflow is how divergence shows itself; it is detected below, not printed.
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            g = np.asarray(grad(x), dtype=np.float64)
            if g.shape != x.shape:
                raise ValueError(f"grad returned shape {g.shape}, but x0 has shape {x.shape}")
            optimizer.step([x], [g])
            value = float(f(x))
            if not (np.all(np.isfinite(x)) and np.isfinite(value) and abs(value) <= bound):
                diverged_at = k
                break
            points.append(x.copy())
            values.append(value)
    return Trajectory(np.array(points), np.array(values), diverged_at is not None, diverged_at)


@dataclass(frozen=True)
class History:
    """What :func:`train` recorded.

    Per-epoch arrays have one entry before training (index 0) and one after each
    completed epoch; per-step arrays one entry per parameter update.

    Attributes
    ----------
    train_loss : ndarray, shape (epochs + 1,)
        The objective on the whole training set: the loss plus the L2 penalty.
    test_loss : ndarray, shape (epochs + 1,), or None
        The loss (without penalty) on the test set, if one was given.
    train_accuracy, test_accuracy : ndarray, shape (epochs + 1,), or None
        Share of correctly classified examples, for classification targets (integer
        labels, one-hot rows, or a single 0/1 output); None for other targets.
    examples : ndarray of int, shape (epochs + 1,)
        Training examples processed (gradient contributions computed) at each record.
    step_loss : ndarray, shape (steps,)
        The objective on the minibatch used by each update, before the update.
    step_examples : ndarray of int, shape (steps,)
        Examples processed before each update.
    diverged : bool
        Whether the loss became infinite or NaN, or grew beyond the divergence bound.
    diverged_at : int or None
        The number of updates made when divergence was detected, or None. Training
        stopped there; the arrays hold what was recorded before, and the network keeps
        the parameters it had before its last update (the last with a recorded loss).
    """

    train_loss: Array
    test_loss: Array | None
    train_accuracy: Array | None
    test_accuracy: Array | None
    examples: NDArray[np.int64]
    step_loss: Array
    step_examples: NDArray[np.int64]
    diverged: bool
    diverged_at: int | None

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss) - 1

    @property
    def steps(self) -> int:
        """Number of parameter updates made."""
        return len(self.step_loss)

    def __str__(self) -> str:
        parts = [
            f"{self.epochs} epochs, {self.steps} steps",
            f"train loss {self.train_loss[-1]:.4g}",
        ]
        if self.test_loss is not None:
            parts.append(f"test loss {self.test_loss[-1]:.4g}")
        if self.test_accuracy is not None:
            parts.append(f"test accuracy {self.test_accuracy[-1]:.2%}")
        if self.diverged:
            parts.append(f"DIVERGED at step {self.diverged_at}")
        return ", ".join(parts)


def train(
    net: MLP,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    optimizer: GradientDescent,
    epochs: int,
    loss: str = "mse",
    batch_size: int | None = None,
    l2: float = 0.0,
    seed: int = 0,
    X_test: ArrayLike | None = None,
    Y_test: ArrayLike | None = None,
    progress: bool = False,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> History:
    """Train ``net`` in place by (minibatch) gradient descent and record its progress.

    Every epoch visits each training example exactly once: the examples are put in an
    order drawn from ``np.random.default_rng(seed)`` and cut into consecutive minibatches
    of ``batch_size`` (the last one smaller if ``batch_size`` does not divide ``m``).
    Each minibatch gives one update of all weights and biases with the gradient from
    :meth:`MLP.gradients`.

    Parameters
    ----------
    net : MLP
        The network; its parameters are changed in place.
    X : array_like, shape (m, n_in)
        Training inputs, one example per row.
    Y : array_like, shape (m, n_out), or (m,) labels
        Training targets, in any form :meth:`MLP.gradients` accepts for ``loss``.
    optimizer : GradientDescent
        The update rule; its velocity is reset at the start, so each call is a fresh run.
    epochs : int, >= 1
        Passes over the training set.
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    batch_size : int or None
        Examples per update, between 1 (stochastic gradient descent) and ``m``; None
        means ``m`` (full-batch gradient descent, no shuffling needed).
    l2 : float, >= 0
        Strength λ of the weight penalty ``(λ/2m) Σ‖W‖²``, with ``m`` the minibatch size.
    seed : int
        Seed of the shuffling.
    X_test, Y_test : array_like, optional
        A held-out set, evaluated before training and after every epoch.
    progress : bool
        Show a progress bar over the epochs (``tqdm.auto``: a widget in a notebook).
    divergence_factor : float, > 1
        Stop when a loss is infinite or NaN, or exceeds
        ``divergence_factor · max(E_0, 1)`` with ``E_0`` the training loss at the start.

    Returns
    -------
    History

    Raises
    ------
    TypeError
        If ``net`` is not an :class:`MLP`, ``optimizer`` not a :class:`GradientDescent`,
        or ``epochs``, ``batch_size``, ``seed`` or ``progress`` of the wrong type.
    ValueError
        If ``epochs < 1``, ``batch_size`` is outside ``[1, m]``, only one of ``X_test``
        and ``Y_test`` is given, or data, targets, loss or ``l2`` are invalid for ``net``.

    Examples
    --------
    >>> from bpbook import datasets
    >>> X, Y = datasets.xor()
    >>> net = MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    >>> history = train(net, X, Y, loss="binary_cross_entropy",
    ...                 optimizer=GradientDescent(1.0), epochs=500)
    >>> float(history.train_accuracy[-1])
    1.0
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
    if not isinstance(optimizer, GradientDescent):
        raise TypeError(
            f"optimizer must be a GradientDescent, e.g. GradientDescent(0.1), "
            f"got {type(optimizer).__name__}"
        )
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    m = X.shape[0]
    epochs = check_count(epochs, "epochs", minimum=1)
    batch_size = m if batch_size is None else check_count(batch_size, "batch_size", minimum=1)
    if batch_size > m:
        raise ValueError(
            f"batch_size is {batch_size} but there are only {m} training examples; "
            f"use at most {m}, or None for full batch"
        )
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    bound = _check_divergence_factor(divergence_factor)
    test = _check_test_set(net, X_test, Y_test, loss)

    optimizer.reset()
    rng = np.random.default_rng(seed)
    params = [*net.weights, *net.biases]
    before_step = [p.copy() for p in params]
    record = _Recorder(net, X, Y, test, loss, l2)
    bound *= max(record.train_loss[0], 1.0)
    step_loss: list[float] = []
    step_examples: list[int] = []
    examples = 0
    diverged_at = None
    bar = _progress_bar(epochs, progress)
    # A learning rate that is too large shows itself as overflow; detect it, don't print it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(epochs):
            # Full batch: every step sees all examples, and order cannot matter.
            order = np.arange(m) if batch_size == m else rng.permutation(m)
            for start in range(0, m, batch_size):
                batch = order[start : start + batch_size]
                E, grad_w, grad_b = net.gradients(X[batch], Y[batch], loss=loss, l2=l2)
                if not _healthy(E, bound, grad_w, grad_b):
                    diverged_at = len(step_loss)
                    break
                step_loss.append(E)
                step_examples.append(examples)
                for saved, p in zip(before_step, params):
                    np.copyto(saved, p)
                optimizer.step(params, [*grad_w, *grad_b])
                examples += len(batch)
            if diverged_at is None and not record.epoch_end(examples, bound):
                diverged_at = len(step_loss)
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{record.train_loss[-1]:.4g}")
            if diverged_at is not None:
                break
    if bar is not None:
        bar.close()
    if diverged_at is not None:
        # Leave the network at the last parameters whose loss was recorded (before the
        # update that blew up), never holding inf or NaN.
        for saved, p in zip(before_step, params):
            np.copyto(p, saved)
    return record.history(step_loss, step_examples, diverged_at)


def largest_curvature(
    net: MLP,
    X: ArrayLike,
    Y: ArrayLike,
    loss: str = "mse",
    l2: float = 0.0,
    iterations: int = 100,
    seed: int = 0,
) -> float:
    """The largest eigenvalue λ_max of the Hessian of the loss at the network's parameters.

    Gradient descent on a quadratic with curvature λ_max diverges for η > 2/λ_max; this
    measures the same number for a network, locally. The Hessian is never formed: power
    iteration needs only products ``H v``, and ``H v`` is the derivative of the gradient
    in the direction ``v``, a central difference of two backpropagation gradients,
    ``(∇E(θ + εv) − ∇E(θ − εv)) / 2ε``.

    Parameters
    ----------
    net : MLP
        The network; its parameters are restored after the measurement.
    X, Y, loss, l2
        The objective, as for :meth:`MLP.gradients`.
    iterations : int, >= 1
        Power-iteration steps (each costs two gradients).
    seed : int
        Seed of the random starting direction.

    Returns
    -------
    float
        The largest (most positive) eigenvalue. Power iteration finds the eigenvalue of
        largest magnitude; if that is negative, a second run on ``H − λ I`` finds the
        largest one.

    Raises
    ------
    TypeError, ValueError
        For bad ``net``, data, ``loss``, ``l2`` or ``iterations``.

    Examples
    --------
    >>> net = MLP([1, 1], activation="identity")
    >>> # MSE of a linear model: H = (2/m) [X 1]ᵀ[X 1], whose largest eigenvalue is 6 + 4√2
    >>> round(largest_curvature(net, [[1.0], [3.0]], [0.0, 0.0]), 6)
    11.656854
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    iterations = check_count(iterations, "iterations", minimum=1)
    params = [*net.weights, *net.biases]
    original = [p.copy() for p in params]
    eps = 1e-4

    def hessian_times(v: Array) -> Array:
        gradients = []
        for sign in (1.0, -1.0):
            offset = 0
            for p, p0 in zip(params, original):
                np.copyto(p, p0 + sign * eps * v[offset : offset + p.size].reshape(p.shape))
                offset += p.size
            _, gw, gb = net.gradients(X, Y, loss=loss, l2=l2)
            gradients.append(np.concatenate([g.ravel() for g in (*gw, *gb)]))
        return (gradients[0] - gradients[1]) / (2 * eps)

    def dominant(shift: float) -> float:
        v = np.random.default_rng(seed).normal(size=net.n_parameters)
        v /= np.linalg.norm(v)
        eigenvalue = 0.0
        for _ in range(iterations):
            w = hessian_times(v) - shift * v
            eigenvalue = float(v @ w)  # Rayleigh quotient of the unit vector v
            v = w / np.linalg.norm(w)
        return eigenvalue + shift

    try:
        top = dominant(0.0)
        if top < 0:
            top = dominant(top)
    finally:
        for p, p0 in zip(params, original):
            np.copyto(p, p0)
    return top


class _Recorder:
    """Per-epoch measurements of :func:`train`: loss and accuracy on train and test sets."""

    def __init__(
        self, net: MLP, X: Array, Y: Array, test: TestSet | None, loss: str, l2: float
    ) -> None:
        self.net, self.X, self.Y, self.test, self.loss, self.l2 = net, X, Y, test, loss, l2
        self.classes = _class_labels(Y)
        self.train_loss: list[float] = []
        self.test_loss: list[float] = []
        self.train_accuracy: list[float] = []
        self.test_accuracy: list[float] = []
        self.examples: list[int] = []
        if not self.epoch_end(0, np.inf):
            raise ValueError("the loss of the untrained network is not finite; check the data")

    def epoch_end(self, examples: int, bound: float) -> bool:
        """Record one row of measurements; False (and nothing recorded) if diverged."""
        train_loss = self.net.loss(self.X, self.Y, loss=self.loss, l2=self.l2)
        test_loss = None
        if self.test is not None:
            test_loss = self.net.loss(self.test[0], self.test[1], loss=self.loss)
        if not all(np.isfinite(v) and v <= bound for v in (train_loss, test_loss or 0.0)):
            return False
        self.train_loss.append(train_loss)
        self.examples.append(examples)
        if self.test is not None:
            self.test_loss.append(test_loss)
        if self.classes is not None:
            self.train_accuracy.append(_accuracy(self.net, self.X, self.classes))
            if self.test is not None:
                self.test_accuracy.append(_accuracy(self.net, self.test[0], self.test[2]))
        return True

    def history(
        self, step_loss: list[float], step_examples: list[int], diverged_at: int | None
    ) -> History:
        def array(values: list[float]) -> Array | None:
            return np.array(values, dtype=np.float64) if values else None

        return History(
            train_loss=np.array(self.train_loss),
            test_loss=array(self.test_loss),
            train_accuracy=array(self.train_accuracy),
            test_accuracy=array(self.test_accuracy),
            examples=np.array(self.examples, dtype=np.int64),
            step_loss=np.array(step_loss, dtype=np.float64),
            step_examples=np.array(step_examples, dtype=np.int64),
            diverged=diverged_at is not None,
            diverged_at=diverged_at,
        )


def _healthy(E: float, bound: float, grad_w: list[Array], grad_b: list[Array]) -> bool:
    return bool(
        np.isfinite(E)
        and E <= bound
        and all(np.all(np.isfinite(g)) for g in (*grad_w, *grad_b))
    )


def _class_labels(Y: Array) -> NDArray[np.int64] | None:
    """Class labels of checked targets ``Y`` (m, K), or None if they are not classes."""
    if not np.all((Y == 0) | (Y == 1)):
        return None
    if Y.shape[1] == 1:
        return Y[:, 0].astype(np.int64)
    if np.all(Y.sum(axis=1) == 1):
        return np.argmax(Y, axis=1)
    return None


def _accuracy(net: MLP, X: Array, labels: NDArray[np.int64]) -> float:
    return float(np.mean(net.predict(X) == labels))


def _check_test_set(
    net: MLP, X_test: ArrayLike | None, Y_test: ArrayLike | None, loss: str
) -> TestSet | None:
    """``(X_test, Y_test, labels)`` checked, or None; both or neither must be given."""
    if (X_test is None) != (Y_test is None):
        given = "X_test" if Y_test is None else "Y_test"
        raise ValueError(f"{given} was given without its partner; pass both X_test and Y_test")
    if X_test is None:
        return None
    # The checks below speak of X and Y; say which data set they mean.
    try:
        X_test = net.check_inputs(X_test)
    except ValueError as error:
        raise ValueError(f"X_test: {error}") from None
    try:
        Y_test = losses.check_targets(Y_test, X_test.shape[0], net.layer_sizes[-1], loss)
    except ValueError as error:
        raise ValueError(f"Y_test: {error}") from None
    return X_test, Y_test, _class_labels(Y_test)


def _progress_bar(epochs: int, show: bool) -> tqdm | None:
    if not show:
        return None
    from tqdm.auto import tqdm as bar  # imported here: only a visible bar needs tqdm

    return bar(total=epochs, desc="epochs", unit="epoch")


def _check_divergence_factor(value: object) -> float:
    factor = check_positive(value, "divergence_factor")
    if factor <= 1.0:
        raise ValueError(f"divergence_factor must be greater than 1, got {value!r}")
    return factor
