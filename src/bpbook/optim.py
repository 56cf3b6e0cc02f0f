"""Gradient descent and its relatives: optimisers, learning-rate schedules, the training
loop, and minimisation of plain functions.

Every optimiser changes the parameters ``θ`` using the gradient ``∇E`` of the loss ``E``
at the parameters it holds (symbols as on the book's Notation page; the code calls the
gradient ``grad``)::

    θ ← θ − η_t ∇E                                    GradientDescent (plain)
    v ← μ v − η_t ∇E,   θ ← θ + v                     GradientDescent(momentum=μ)
    v ← μ v − η_t ∇E,   θ ← θ + μ v − η_t ∇E          GradientDescent(momentum=μ, nesterov=True)
    s ← β2 s + (1 − β2) ∇E²,   θ ← θ − η_t ∇E / (√s + τ)                    RMSProp
    mean ← β1 mean + (1 − β1) ∇E,   s ← β2 s + (1 − β2) ∇E²,
    θ ← θ − η_t (mean / (1 − β1^t)) / (√(s / (1 − β2^t)) + τ)              Adam

(squares, roots and divisions elementwise; ``mean`` and ``s`` are the running means of the
gradients and of their squares, written ∇E with a bar over it and s_t in the book). The
learning rate ``η_t`` is a number or a *schedule*, a function of the step index ``t``
(:class:`StepDecay`, :class:`CosineDecay`, :class:`InverseTimeDecay`, :class:`Warmup`, or
any callable ``t -> η_t``).

:func:`train` applies an optimiser to a network, on the whole training set at once (full
batch), one example at a time (stochastic) or on minibatches of a given size, in an order
drawn from a seeded generator. :func:`minimize` applies one to a function of a vector,
the laboratory in which the chapter studies the learning rate.

Both watch for **divergence**: a loss that becomes infinite or NaN, or grows beyond
``divergence_factor`` times its starting size. They then stop, keep everything recorded up
to that point, and say where it happened (``diverged``, ``diverged_at``). Overflow is the
expected symptom of a too-large learning rate, so it is silenced inside the loop
(``np.errstate``) and reported once, as a result, instead of as a wall of warnings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bpbook import losses
from bpbook._checks import (
    as_float_array,
    check_count,
    check_finite,
    check_nonnegative,
    check_positive,
    is_integer,
    is_real,
)
from bpbook.network import MLP

if TYPE_CHECKING:
    from tqdm.auto import tqdm

__all__ = [
    "Adam",
    "CosineDecay",
    "GradientDescent",
    "History",
    "InverseTimeDecay",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "StepDecay",
    "Trajectory",
    "Warmup",
    "largest_curvature",
    "minimize",
    "train",
]

Array = NDArray[np.float64]

#: A learning rate: a positive number, or a schedule ``t -> η_t`` (values >= 0).
LearningRate = float | Callable[[int], float]

#: A checked held-out set: inputs, targets as (m, K) floats, and class labels (or None).
HeldOut = tuple[Array, Array, NDArray[np.int64] | None]
TestSet = HeldOut  # the name used before validation sets existed

#: Default for ``divergence_factor``: a loss this many times its starting size (or
#: larger than this, if it started below 1) counts as diverged.
DIVERGENCE_FACTOR = 1e6


# --- learning-rate schedules -------------------------------------------------------------

class Schedule:
    """A learning rate that depends on the step: ``schedule(t)`` is ``η_t`` for ``t = 0, 1, …``.

    Subclasses implement :meth:`__call__`. Any callable ``t -> η_t`` works as a learning
    rate too; these classes add checked arguments and a readable ``repr``.
    """

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def values(self, steps: int) -> Array:
        """``η_0, …, η_{steps−1}`` as an array, e.g. to plot the schedule."""
        return np.array([self(t) for t in range(check_count(steps, "steps", minimum=0))])


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``η_t = initial · factor^⌊t / every⌋``: the rate drops by ``factor`` every ``every`` steps.

    Examples
    --------
    >>> StepDecay(1.0, factor=0.1, every=2).values(5)
    array([1.  , 1.  , 0.1 , 0.1 , 0.01])
    """

    initial: float
    factor: float = 0.1
    every: int = 1

    def __post_init__(self) -> None:
        check_positive(self.initial, "initial")
        if not 0.0 < check_positive(self.factor, "factor") <= 1.0:
            raise ValueError(f"factor must lie in (0, 1], got {self.factor!r}")
        check_count(self.every, "every", minimum=1)

    def __call__(self, t: int) -> float:
        return float(self.initial * self.factor ** (t // self.every))


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """``η_t = final + (initial − final) (1 + cos(π t / steps)) / 2`` for ``t <= steps``, then
    ``final``: half a cosine wave from ``initial`` down to ``final`` (Loshchilov & Hutter 2017).

    Examples
    --------
    >>> CosineDecay(1.0, steps=4).values(6).round(4)
    array([1.    , 0.8536, 0.5   , 0.1464, 0.    , 0.    ])
    """

    initial: float
    steps: int
    final: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self.initial, "initial")
        check_count(self.steps, "steps", minimum=1)
        if check_nonnegative(self.final, "final") > self.initial:
            raise ValueError(f"final ({self.final!r}) must not exceed initial ({self.initial!r})")

    def __call__(self, t: int) -> float:
        phase = min(t, self.steps) / self.steps
        return float(self.final + (self.initial - self.final) * (1 + math.cos(math.pi * phase)) / 2)


@dataclass(frozen=True)
class InverseTimeDecay(Schedule):
    """``η_t = initial / (1 + t / half_life)``: halved after ``half_life`` steps, then ~1/t.

    It satisfies the Robbins–Monro conditions ``Σ η_t = ∞`` and ``Σ η_t² < ∞``, under
    which stochastic gradient descent converges to a minimum of a convex loss instead
    of hovering around it.

    Examples
    --------
    >>> InverseTimeDecay(1.0, half_life=10).values(21)[[0, 10, 20]]
    array([1.        , 0.5       , 0.33333333])
    """

    initial: float
    half_life: float

    def __post_init__(self) -> None:
        check_positive(self.initial, "initial")
        check_positive(self.half_life, "half_life")

    def __call__(self, t: int) -> float:
        return float(self.initial / (1.0 + t / self.half_life))


@dataclass(frozen=True)
class Warmup(Schedule):
    """A linear warm-up over the first ``steps`` steps, then ``after``.

    ``η_t = η_after(0) · (t + 1) / steps`` for ``t < steps``, and ``η_after(t − steps)``
    from then on, so the schedule ``after`` (a number or a schedule) starts when the
    warm-up ends.

    Examples
    --------
    >>> Warmup(CosineDecay(1.0, steps=2), steps=4).values(7)
    array([0.25, 0.5 , 0.75, 1.  , 1.  , 0.5 , 0.  ])
    """

    after: LearningRate
    steps: int

    def __post_init__(self) -> None:
        _check_learning_rate(self.after, "after")
        check_count(self.steps, "steps", minimum=1)

    def __call__(self, t: int) -> float:
        if t < self.steps:
            return _rate_at(self.after, 0, "after") * (t + 1) / self.steps
        return _rate_at(self.after, t - self.steps, "after")


def _check_learning_rate(value: object, name: str = "learning_rate") -> LearningRate:
    """A positive number as a float, or a callable schedule; raise naming ``name`` otherwise."""
    if callable(value):
        return value
    return check_positive(value, name)


def _rate_at(learning_rate: LearningRate, t: int, name: str = "learning_rate") -> float:
    """``η_t`` of a number or schedule, checked to be a finite number >= 0."""
    if not callable(learning_rate):
        return learning_rate
    value = learning_rate(t)
    if not is_real(value) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"the {name} schedule gave {value!r} at step {t}; it must be a finite "
                         "number >= 0")
    return float(value)


# --- optimisers --------------------------------------------------------------------------

class Optimizer:
    """What every optimiser shares: the learning rate ``η_t``, the step counter ``t``, checks.

    Parameters
    ----------
    learning_rate : float > 0, or callable
        ``η``, or a schedule ``t -> η_t`` (e.g. :class:`CosineDecay`), evaluated at the
        number ``t`` of steps taken so far.

    Attributes
    ----------
    t : int
        Steps taken since construction or the last :meth:`reset`.

    Notes
    -----
    A subclass sets ``n_slots`` (state arrays kept per parameter array: a velocity, running
    means) and implements ``_update(params, grads, slots, eta)``, which changes ``params``
    in place; the slots start as zeros.
    """

    n_slots = 0

    def __init__(self, learning_rate: LearningRate) -> None:
        self.learning_rate = _check_learning_rate(learning_rate)
        self.t = 0
        self._slots: list[list[Array]] | None = None

    def rate(self) -> float:
        """The learning rate ``η_t`` the next step will use."""
        return _rate_at(self.learning_rate, self.t)

    def reset(self) -> None:
        """Start afresh: ``t = 0`` and every state array (velocity, running means) zero."""
        self.t = 0
        self._slots = None

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """Update every array of ``params`` in place, one step.

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
            optimising different parameters), or a schedule gives an invalid rate.
        TypeError
            If a parameter is not a float64 ndarray (it could not be changed in place).
        """
        params, grads = _check_step(params, grads)
        self._update(params, grads, self._slots_for(params), self.rate())
        self.t += 1

    def _slots_for(self, params: list[Array]) -> list[list[Array]]:
        if self.n_slots == 0:
            return [[] for _ in params]
        if self._slots is None:
            self._slots = [[np.zeros_like(p) for _ in range(self.n_slots)] for p in params]
        elif [s[0].shape for s in self._slots] != [p.shape for p in params]:
            raise ValueError(
                "params have different shapes from the previous step; "
                "call reset() before optimising other parameters"
            )
        return self._slots

    def _update(
        self,
        params: list[Array],
        grads: list[Array],
        slots: list[list[Array]],
        eta: float,
    ) -> None:
        raise NotImplementedError

    def _describe_rate(self) -> str:
        rate = self.learning_rate
        return f"{rate:g}" if isinstance(rate, float) else repr(rate)


class GradientDescent(Optimizer):
    """Gradient descent, with optional classical (heavy-ball) or Nesterov momentum.

    Parameters
    ----------
    learning_rate : float > 0, or callable
        The learning rate η, or a schedule ``t -> η_t``.
    momentum : float, in [0, 1)
        The momentum coefficient μ; 0 gives plain gradient descent.
    nesterov : bool
        Use Nesterov's momentum, which evaluates the gradient after the momentum part of
        the step (see Notes).

    Notes
    -----
    With ``momentum = μ`` the update is ``v ← μ v − η ∇E``, ``θ ← θ + v``, with the
    velocity ``v`` starting at 0 (Polyak 1964). Unrolled, it is
    ``θ_{t+1} = θ_t − η ∇E(θ_t) + μ (θ_t − θ_{t−1})``: the previous step is repeated,
    shrunk by μ, on top of the new one.

    Nesterov's method (Nesterov 1983; Sutskever et al. 2013) takes the gradient at the
    look-ahead point ``θ_t + μ v_t`` instead: ``v_{t+1} = μ v_t − η ∇E(θ_t + μ v_t)``,
    ``θ_{t+1} = θ_t + v_{t+1}``. So that ``step`` can keep receiving the gradient at the
    parameters it holds, the parameters held are the look-ahead points
    ``φ_t = θ_t + μ v_t``, and the update becomes ``φ_{t+1} = φ_t + μ v_{t+1} − η ∇E(φ_t)``
    (the form PyTorch uses). Both sequences converge to the same point.

    Examples
    --------
    >>> theta = np.array([1.0, -2.0])
    >>> GradientDescent(0.1).step([theta], [np.array([10.0, 10.0])])
    >>> theta
    array([ 0., -3.])
    """

    def __init__(
        self, learning_rate: LearningRate, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = _check_decay(momentum, "momentum")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = nesterov
        self.n_slots = 1 if self.momentum > 0 else 0

    def __repr__(self) -> str:
        extra = ", nesterov=True" if self.nesterov else ""
        return (f"GradientDescent(learning_rate={self._describe_rate()}, "
                f"momentum={self.momentum:g}{extra})")

    def _update(
        self,
        params: list[Array],
        grads: list[Array],
        slots: list[list[Array]],
        eta: float,
    ) -> None:
        mu = self.momentum
        for p, grad, state in zip(params, grads, slots, strict=True):
            if mu == 0.0:
                p -= eta * grad
                continue
            (v,) = state
            v *= mu
            v -= eta * grad
            if self.nesterov:
                p += mu * v - eta * grad
            else:
                p += v


class RMSProp(Optimizer):
    """RMSProp: gradient descent with every coordinate divided by its recent RMS gradient.

    ``s ← β2 s + (1 − β2) ∇E²``, ``θ ← θ − η ∇E / (√s + τ)``, elementwise, with ``s``
    starting at 0 (Tieleman & Hinton 2012, lecture 6.5 of *Neural Networks for Machine
    Learning*; ``τ`` added outside the root, as in PyTorch and Keras).

    It is a *diagonal preconditioner*: each coordinate gets its own learning rate
    ``η / (√s + τ)`` (elementwise), large where gradients have been small and small where they have
    been large. That repairs bad scaling along the coordinate axes, not along other
    directions.

    Parameters
    ----------
    learning_rate : float > 0, or callable
    beta2 : float, in [0, 1)
        Decay rate β2 of the running mean ``s`` of squared gradients (0.9 in the lecture).
    eps : float, > 0
        τ, which keeps the division finite where ``s`` is 0.
    """

    n_slots = 1

    def __init__(self, learning_rate: LearningRate, beta2: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta2 = _check_decay(beta2, "beta2")
        self.eps = check_positive(eps, "eps")

    def __repr__(self) -> str:
        return (f"RMSProp(learning_rate={self._describe_rate()}, beta2={self.beta2:g}, "
                f"eps={self.eps:g})")

    def _update(
        self,
        params: list[Array],
        grads: list[Array],
        slots: list[list[Array]],
        eta: float,
    ) -> None:
        for p, grad, (s,) in zip(params, grads, slots, strict=True):
            s *= self.beta2
            s += (1.0 - self.beta2) * grad * grad
            p -= eta * grad / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam: RMSProp's per-coordinate scaling applied to a running mean of the gradients.

    With ``mean`` the running mean of the gradients (∇E with a bar over it, in the book)
    and ``s`` that of their squares, both starting at 0, step ``t = 1, 2, …`` is
    (Kingma & Ba 2015, Algorithm 1)::

        mean ← β1 mean + (1 − β1) ∇E,       s ← β2 s + (1 − β2) ∇E²
        θ ← θ − η · (mean / (1 − β1^t)) / (√(s / (1 − β2^t)) + τ)

    The divisions by ``1 − β^t`` correct the bias of running means that start at 0:
    without them the first steps would be far too short.

    Parameters
    ----------
    learning_rate : float > 0, or callable
    beta1, beta2 : float, in [0, 1)
        Decay rates of the two running means (0.9 and 0.999 in the paper).
    eps : float, > 0
        τ, which keeps the division finite.
    """

    n_slots = 2

    def __init__(
        self,
        learning_rate: LearningRate,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = _check_decay(beta1, "beta1")
        self.beta2 = _check_decay(beta2, "beta2")
        self.eps = check_positive(eps, "eps")

    def __repr__(self) -> str:
        return (f"Adam(learning_rate={self._describe_rate()}, beta1={self.beta1:g}, "
                f"beta2={self.beta2:g}, eps={self.eps:g})")

    def _update(
        self,
        params: list[Array],
        grads: list[Array],
        slots: list[list[Array]],
        eta: float,
    ) -> None:
        t = self.t + 1  # the paper counts steps from 1
        correction1 = 1.0 - self.beta1**t
        correction2 = 1.0 - self.beta2**t
        for p, grad, (mean, s) in zip(params, grads, slots, strict=True):
            mean *= self.beta1
            mean += (1.0 - self.beta1) * grad
            s *= self.beta2
            s += (1.0 - self.beta2) * grad * grad
            p -= (eta * (mean / correction1)
                  / (np.sqrt(s / correction2) + self.eps))


def _check_decay(value: object, name: str) -> float:
    number = check_nonnegative(value, name)
    if number >= 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return number


def _check_step(
    params: Sequence[Array], grads: Sequence[Array]
) -> tuple[list[Array], list[Array]]:
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise ValueError(
            f"params has {len(params)} arrays but grads has {len(grads)}; "
            "give one gradient per parameter array"
        )
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            raise TypeError(f"params[{i}] must be a float64 ndarray, updated in place")
        if np.shape(g) != p.shape:
            raise ValueError(
                f"grads[{i}] has shape {np.shape(g)} but params[{i}] has shape {p.shape}"
            )
    return params, grads


# --- minimize: gradient descent on a function of a vector ---------------------------------

@dataclass(frozen=True)
class Trajectory:
    """The path of :func:`minimize`.

    Attributes
    ----------
    points : ndarray, shape (t + 1, *x0.shape)
        ``x_0, x_1, …, x_t``; on divergence only the iterates before it.
    values : ndarray, shape (t + 1,)
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
    learning_rate: LearningRate | None = None,
    steps: int | None = None,
    *,
    momentum: float = 0.0,
    nesterov: bool = False,
    optimizer: Optimizer | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> Trajectory:
    """Run gradient descent ``x ← x − η ∇f(x)`` (or another optimiser) on a function.

    Parameters
    ----------
    f : callable
        ``f(x)``, a real number for an array ``x`` shaped like ``x0``.
    grad : callable
        ``∇f(x)``, an array shaped like ``x0``.
    x0 : array_like
        Starting point (a number for a function of one variable).
    learning_rate : float > 0, or callable
        The learning rate η of :class:`GradientDescent` (or a schedule). Give either
        this or ``optimizer``.
    steps : int, >= 0
        Number of steps (required).
    momentum : float, in [0, 1)
        Momentum coefficient μ of :class:`GradientDescent`.
    nesterov : bool
        Nesterov's momentum instead of the heavy ball.
    optimizer : Optimizer, optional
        Any optimiser (e.g. ``Adam(0.1)``), used instead of ``learning_rate`` and
        ``momentum``; it is reset first.
    divergence_factor : float, > 1
        Stop when ``|f(x_t)|`` exceeds ``divergence_factor · max(|f(x_0)|, 1)``, or when
        ``f(x_t)`` or ``x_t`` is not finite.

    Returns
    -------
    Trajectory
        ``points`` of shape ``(steps + 1, *x0.shape)`` (fewer on divergence), ``values``.

    Raises
    ------
    TypeError
        If ``f`` or ``grad`` is not callable, ``x0`` does not hold real numbers, or
        ``optimizer`` is not an :class:`Optimizer`.
    ValueError
        If ``x0`` is not finite, ``learning_rate`` is not positive, both or neither of
        ``learning_rate`` and ``optimizer`` are given, ``steps`` is not a non-negative
        integer, ``momentum`` is outside [0, 1), ``divergence_factor`` is not above 1,
        ``f(x0)`` is not finite, or ``grad`` returns the wrong shape.

    Examples
    --------
    >>> path = minimize(lambda x: x**2 / 2, lambda x: x, 1.0, learning_rate=0.5, steps=3)
    >>> path.points
    array([1.   , 0.5  , 0.25 , 0.125])
    >>> minimize(lambda x: x**2 / 2, lambda x: x, 1.0, 3.0, 100).diverged_at
    11

    Many independent starting points at once: gradient descent on a sum
    ``Σ_s f(x_s)`` of independent terms moves each ``x_s`` exactly as gradient descent on
    ``f`` alone would.

    >>> minimize(lambda x: float(np.sum(x**2 / 2)), lambda x: x, [1.0, -4.0], 0.5, 2).points
    array([[ 1.  , -4.  ],
           [ 0.5 , -2.  ],
           [ 0.25, -1.  ]])
    """
    for func, name in ((f, "f"), (grad, "grad")):
        if not callable(func):
            raise TypeError(f"{name} must be callable, got {type(func).__name__}")
    x = np.array(as_float_array(x0, "x0"), dtype=np.float64)
    check_finite(x, "x0")
    if steps is None:
        raise ValueError("steps is required: the number of steps to take")
    steps = check_count(steps, "steps", minimum=0)
    bound = _check_divergence_factor(divergence_factor)
    if optimizer is None:
        if learning_rate is None:
            raise ValueError("give a learning_rate (or an optimizer)")
        optimizer = GradientDescent(learning_rate, momentum, nesterov)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, e.g. Adam(0.1), "
                        f"got {type(optimizer).__name__}")
    elif learning_rate is not None or momentum or nesterov:
        raise ValueError("give either an optimizer or learning_rate/momentum/nesterov, not both")
    optimizer.reset()
    value = float(f(x))
    if not np.isfinite(value):
        raise ValueError(f"f(x0) is {value}; start where the function is finite")
    bound *= max(abs(value), 1.0)
    points, values = [x.copy()], [value]
    diverged_at = None
    # Overflow is how divergence shows itself; it is detected below, not printed.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            gradient = np.asarray(grad(x), dtype=np.float64)
            if gradient.shape != x.shape:
                raise ValueError(
                    f"grad returned shape {gradient.shape}, but x0 has shape {x.shape}"
                )
            optimizer.step([x], [gradient])
            value = float(f(x))
            if not (np.all(np.isfinite(x)) and np.isfinite(value) and abs(value) <= bound):
                diverged_at = t
                break
            points.append(x.copy())
            values.append(value)
    return Trajectory(np.array(points), np.array(values), diverged_at is not None, diverged_at)


# --- train: a network on data ------------------------------------------------------------

@dataclass(frozen=True)
class History:
    """What :func:`train` recorded.

    Per-epoch arrays have one entry before training (index 0) and one after each
    completed epoch; per-step arrays one entry per parameter update.

    Attributes
    ----------
    train_loss : ndarray, shape (epochs + 1,)
        The objective on the whole training set, ``E_train``: the mean loss plus the L2
        penalty ``(α/2) Σ_l ‖W^(l)‖²``.
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
    val_loss, val_accuracy : ndarray, shape (epochs + 1,), or None
        Loss (without penalty) and accuracy on the validation set, if one was given.
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
    val_loss: Array | None = None
    val_accuracy: Array | None = None

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
        for name, value, accuracy in (
            ("validation", self.val_loss, self.val_accuracy),
            ("test", self.test_loss, self.test_accuracy),
        ):
            if value is not None:
                parts.append(f"{name} loss {value[-1]:.4g}")
            if accuracy is not None:
                parts.append(f"{name} accuracy {accuracy[-1]:.2%}")
        if self.diverged:
            parts.append(f"DIVERGED at step {self.diverged_at}")
        return ", ".join(parts)


def train(
    net: MLP,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    optimizer: Optimizer,
    epochs: int,
    loss: str = "mse",
    batch_size: int | None = None,
    l2: float = 0.0,
    seed: int = 0,
    X_val: ArrayLike | None = None,
    Y_val: ArrayLike | None = None,
    X_test: ArrayLike | None = None,
    Y_test: ArrayLike | None = None,
    target_loss: float | None = None,
    progress: bool = False,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> History:
    """Train ``net`` in place by (minibatch) gradient descent; record progress.

    Every epoch visits each training example exactly once: the examples are put
    in an order drawn from ``np.random.default_rng(seed)`` and cut into
    consecutive minibatches of ``batch_size`` (the last one smaller if
    ``batch_size`` does not divide ``N``). Each minibatch gives one update of
    all weights and biases with the gradient from :meth:`MLP.gradients`, passed
    to ``optimizer``.

    Parameters
    ----------
    net : MLP
        The network; its parameters are changed in place.
    X : array_like, shape (N, n_0)
        Training inputs, one example per row.
    Y : array_like, shape (N, K), or (N,) labels
        Training targets, in any form :meth:`MLP.gradients` accepts for
        ``loss``.
    optimizer : Optimizer
        The update rule (:class:`GradientDescent`, :class:`RMSProp`,
        :class:`Adam`); it is reset at the start, so each call is a fresh run.
    epochs : int, >= 1
        Passes over the training set (fewer if ``target_loss`` is reached
        first).
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    batch_size : int or None
        ``B``, examples per update, between 1 (stochastic gradient descent)
        and ``N``; None means ``N`` (full-batch gradient descent, no shuffling
        needed).
    l2 : float, >= 0
        Strength α of the weight penalty ``(α/2) Σ_l ‖W^(l)‖²`` added to the
        mean loss. It does not depend on the number of examples, so every
        minibatch gradient is an unbiased estimate of the gradient of the
        objective recorded in ``train_loss``.
    seed : int
        Seed of the shuffling.
    X_val, Y_val : array_like, optional
        A validation set, evaluated before training and after every epoch: the
        data on which to choose settings (learning rate, epochs, ...).
    X_test, Y_test : array_like, optional
        A test set, evaluated like the validation set; use it only to report a
        choice already made.
    target_loss : float, optional
        Stop at the end of the first epoch whose training objective is at most
        this.
    progress : bool
        Show a progress bar over the epochs (``tqdm.auto``: a widget in a
        notebook).
    divergence_factor : float, > 1
        Stop when a loss is infinite or NaN, or exceeds
        ``divergence_factor · max(E_0, 1)`` with ``E_0`` the training loss at
        the start.

    Returns
    -------
    History

    Raises
    ------
    TypeError
        If ``net`` is not an :class:`MLP`, ``optimizer`` not an
        :class:`Optimizer`, or ``epochs``, ``batch_size``, ``seed`` or
        ``progress`` of the wrong type.
    ValueError
        If ``epochs < 1``, ``batch_size`` is outside ``[1, N]``, only one of a
        pair of held-out arrays is given, ``target_loss`` is negative, or data,
        targets, loss or ``l2`` are invalid for ``net``.

    Examples
    --------
    >>> from bpbook import datasets
    >>> X, Y = datasets.xor()
    >>> net = MLP([2, 3, 1], activation="tanh", output_activation="sigmoid",
    ...           seed=0)
    >>> history = train(net, X, Y, loss="binary_cross_entropy",
    ...                 optimizer=GradientDescent(1.0), epochs=500)
    >>> float(history.train_accuracy[-1])
    1.0
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpbook MLP, got {type(net).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "optimizer must be an Optimizer, e.g. GradientDescent(0.1) or "
            f"Adam(0.01), got {type(optimizer).__name__}"
        )
    X, Y, l2 = net.check_data(X, Y, loss, l2)
    N = X.shape[0]
    epochs = check_count(epochs, "epochs", minimum=1)
    batch_size = (N if batch_size is None
                  else check_count(batch_size, "batch_size", minimum=1))
    if batch_size > N:
        raise ValueError(
            f"batch_size is {batch_size} but there are only {N} training "
            f"examples; use at most {N}, or None for full batch"
        )
    if not is_integer(seed):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    target = (-np.inf if target_loss is None
              else check_nonnegative(target_loss, "target_loss"))
    bound = _check_divergence_factor(divergence_factor)
    held_out = {
        "val": _check_held_out(net, X_val, Y_val, loss, "X_val", "Y_val"),
        "test": _check_held_out(net, X_test, Y_test, loss, "X_test", "Y_test"),
    }

    optimizer.reset()
    rng = np.random.default_rng(seed)
    params = [*net.weights, *net.biases]
    before_step = [p.copy() for p in params]
    record = _Recorder(net, X, Y, held_out, loss, l2)
    bound *= max(record.train_loss[0], 1.0)
    step_loss: list[float] = []
    step_examples: list[int] = []
    examples = 0
    diverged_at = None
    bar = _progress_bar(epochs, progress)
    # A too large learning rate shows as overflow; detect it, don't print it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(epochs):
            # Full batch: every step sees all examples, and order cannot matter.
            order = np.arange(N) if batch_size == N else rng.permutation(N)
            for start in range(0, N, batch_size):
                batch = order[start : start + batch_size]
                E, grad_w, grad_b = net.gradients(
                    X[batch], Y[batch], loss=loss, l2=l2
                )
                if not _healthy(E, bound, grad_w, grad_b):
                    diverged_at = len(step_loss)
                    break
                step_loss.append(E)
                step_examples.append(examples)
                for saved, p in zip(before_step, params, strict=True):
                    np.copyto(saved, p)
                optimizer.step(params, [*grad_w, *grad_b])
                examples += len(batch)
            if diverged_at is None and not record.epoch_end(examples, bound):
                diverged_at = len(step_loss)
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{record.train_loss[-1]:.4g}")
            if diverged_at is not None or record.train_loss[-1] <= target:
                break
    if bar is not None:
        bar.close()
    if diverged_at is not None:
        # Leave the network at the last parameters whose loss was recorded
        # (before the update that blew up), never holding inf or NaN.
        for saved, p in zip(before_step, params, strict=True):
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
            for p, p0 in zip(params, original, strict=True):
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
        for p, p0 in zip(params, original, strict=True):
            np.copyto(p, p0)
    return top


class _Recorder:
    """Per-epoch measurements of :func:`train`: loss and accuracy on every data set."""

    def __init__(
        self,
        net: MLP,
        X: Array,
        Y: Array,
        held_out: dict[str, HeldOut | None],
        loss: str,
        l2: float,
    ) -> None:
        self.net, self.loss, self.l2 = net, loss, l2
        # name -> (X, Y, labels); the penalty belongs to the training objective only.
        self.sets: dict[str, HeldOut] = {"train": (X, Y, _class_labels(Y))}
        self.sets.update({name: s for name, s in held_out.items() if s is not None})
        self.losses: dict[str, list[float]] = {name: [] for name in self.sets}
        self.accuracies: dict[str, list[float]] = {name: [] for name in self.sets}
        self.examples: list[int] = []
        if not self.epoch_end(0, np.inf):
            raise ValueError("the loss of the untrained network is not finite; check the data")

    @property
    def train_loss(self) -> list[float]:
        return self.losses["train"]

    def epoch_end(self, examples: int, bound: float) -> bool:
        """Record one row of measurements; False (and nothing recorded) if diverged."""
        measured = {name: self._measure(name, *data) for name, data in self.sets.items()}
        if not all(np.isfinite(v) and v <= bound for v, _ in measured.values()):
            return False
        self.examples.append(examples)
        for name, (value, accuracy) in measured.items():
            self.losses[name].append(value)
            if accuracy is not None:
                self.accuracies[name].append(accuracy)
        return True

    def _measure(
        self, name: str, X: Array, Y: Array, labels: NDArray[np.int64] | None
    ) -> tuple[float, float | None]:
        """Loss (plus the penalty, for the training set) and accuracy from one forward pass.

        The same numbers as ``net.loss`` and ``net.predict``, which would each run the
        network again; on small data this bookkeeping would cost as much as training.
        """
        passed = self.net.forward_pass(X)
        Z, A = passed.zs[-1], passed.activations[-1]
        value, _ = losses.loss_and_output_delta(self.loss, Z, A, Y, self.net.output_activation)
        if name == "train":
            value += losses.l2_penalty(self.net.weights, self.l2)
        if labels is None:
            return value, None
        return value, float(np.mean(_predicted_labels(self.net, A) == labels))

    def history(
        self, step_loss: list[float], step_examples: list[int], diverged_at: int | None
    ) -> History:
        def array(values: list[float] | None) -> Array | None:
            return np.array(values, dtype=np.float64) if values else None

        return History(
            train_loss=np.array(self.losses["train"]),
            test_loss=array(self.losses.get("test")),
            train_accuracy=array(self.accuracies["train"]),
            test_accuracy=array(self.accuracies.get("test")),
            examples=np.array(self.examples, dtype=np.int64),
            step_loss=np.array(step_loss, dtype=np.float64),
            step_examples=np.array(step_examples, dtype=np.int64),
            diverged=diverged_at is not None,
            diverged_at=diverged_at,
            val_loss=array(self.losses.get("val")),
            val_accuracy=array(self.accuracies.get("val")),
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


def _predicted_labels(net: MLP, A: Array) -> NDArray[np.int64]:
    """What ``net.predict`` returns, computed from outputs ``A`` the caller already has."""
    if A.shape[1] == 1:
        threshold = 0.0 if net.output_activation == "tanh" else 0.5
        return (A[:, 0] > threshold).astype(np.int64)
    return np.argmax(A, axis=1)


def _check_held_out(
    net: MLP,
    X_held: ArrayLike | None,
    Y_held: ArrayLike | None,
    loss: str,
    x_name: str,
    y_name: str,
) -> HeldOut | None:
    """``(X, Y, labels)`` of a validation or test set checked, or None; both or neither."""
    if (X_held is None) != (Y_held is None):
        given, missing = (x_name, y_name) if Y_held is None else (y_name, x_name)
        raise ValueError(f"{given} was given without {missing}; pass both or neither")
    if X_held is None or Y_held is None:
        return None
    # The checks below speak of X and Y; say which data set they mean.
    try:
        X_held = net.check_inputs(X_held)
    except ValueError as error:
        raise ValueError(f"{x_name}: {error}") from None
    try:
        Y_held = losses.check_targets(Y_held, X_held.shape[0], net.layer_sizes[-1], loss)
    except ValueError as error:
        raise ValueError(f"{y_name}: {error}") from None
    return X_held, Y_held, _class_labels(Y_held)


def _progress_bar(epochs: int, show: bool) -> tqdm[NoReturn] | None:
    if not show:
        return None
    from tqdm.auto import tqdm as bar  # imported here: only a visible bar needs tqdm

    return bar(total=epochs, desc="epochs", unit="epoch")


def _check_divergence_factor(value: object) -> float:
    factor = check_positive(value, "divergence_factor")
    if factor <= 1.0:
        raise ValueError(f"divergence_factor must be greater than 1, got {value!r}")
    return factor
