"""Learning-rate experiments: loss curves that end where divergence was detected.

A learning rate that is too large is part of every learning-rate experiment, and its
curve must say what happened: it is drawn up to the last finite loss and ends in a red
cross labelled "diverged". :func:`loss_curves_explorer` puts one such figure per learning
rate behind a slider (:func:`bpbook.widgets.explorer`), so it works on the static website
as well as in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bpbook._checks import is_real
from bpbook.optim import History, Trajectory
from bpbook.plotting import COLORS
from bpbook.widgets import Explorer, explorer

__all__ = ["loss_curve", "loss_curves_explorer", "plot_loss_curve"]


def loss_curve(result: History | Trajectory) -> tuple[np.ndarray, np.ndarray, str]:
    """The curve to plot for a run: ``(x, loss, unit of x)``.

    A :class:`~bpbook.optim.History` gives the training loss after each epoch, a
    :class:`~bpbook.optim.Trajectory` the function value after each step.

    Raises
    ------
    TypeError
        If ``result`` is neither.
    """
    if isinstance(result, History):
        return np.arange(len(result.train_loss)), result.train_loss, "epoch"
    if isinstance(result, Trajectory):
        return np.arange(len(result.values)), result.values, "step"
    raise TypeError(f"result must be a History or a Trajectory, got {type(result).__name__}")


def plot_loss_curve(
    ax: Axes, result: History | Trajectory, *, label: str | None = None, **style: Any
) -> None:
    """Draw the loss curve of ``result`` on ``ax`` (log scale), marking divergence.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    result : History or Trajectory
        From :func:`bpbook.optim.train` or :func:`bpbook.optim.minimize`.
    label : str, optional
        Legend entry; " (diverged)" is appended when the run diverged.
    **style
        Passed to ``ax.plot`` (``color``, ``lw``, ``alpha``, ...).

    Notes
    -----
    Values that are exactly 0 cannot be shown on a log scale and are left out.

    Examples
    --------
    >>> from bpbook.optim import minimize
    >>> fig = Figure(); ax = fig.subplots()
    >>> plot_loss_curve(ax, minimize(lambda x: x**2, lambda x: 2 * x, 1.0, 2.0, 50))
    >>> ax.texts[0].get_text()
    'diverged at step 7'
    """
    x, y, unit = loss_curve(result)
    if result.diverged and label is not None:
        label += " (diverged)"
    (line,) = ax.plot(x, np.where(y > 0, y, np.nan), label=label, **style)
    ax.set_yscale("log")
    ax.set_xlabel(unit)
    if result.diverged:
        # Mark the last loss that was still finite: the run was stopped right after it.
        ax.plot(x[-1], y[-1], marker="x", color="red", markersize=10, mew=2.5, zorder=5)
        ax.annotate(
            f"diverged at step {result.diverged_at}",
            (x[-1], y[-1]),
            xytext=(8, -4),  # right of and below the cross, so it stays inside the axes
            textcoords="offset points",
            ha="left",
            va="top",
            color="red",
            fontsize=9,
        )


def loss_curves_explorer(
    results: Mapping[float, History | Trajectory],
    *,
    description: str = "η",
    initial: float | None = None,
    title: str = "loss",
    mode: str = "auto",
    alt: str | None = None,
) -> Explorer:
    """A slider over learning rates showing the loss curve of each run.

    Every frame draws all runs in light grey, for comparison, and the selected one in
    colour, ending in a red cross if it diverged.

    Parameters
    ----------
    results : mapping of float to History or Trajectory
        One finished run per learning rate, e.g.
        ``{eta: train(..., optimizer=GradientDescent(eta)) for eta in etas}``.
    description : str
        Text next to the slider.
    initial : float, optional
        The learning rate shown first; default the first key.
    title : str
        Title of every frame; the learning rate and the outcome are added to it.
    mode : {"auto", "static", "live"}
        See :func:`bpbook.widgets.explorer`.
    alt : str, optional
        Text alternative of the frames, for screen readers (see
        :func:`bpbook.widgets.explorer`); default: a description built from ``title``.

    Returns
    -------
    Explorer

    Raises
    ------
    ValueError
        If ``results`` is empty or a key is not a positive number.
    TypeError
        If a value is not a History or Trajectory.
    """
    if not results:
        raise ValueError("results is empty; give at least one learning rate and its run")
    for eta, result in results.items():
        if not is_real(eta) or not eta > 0:
            raise ValueError(f"learning rates (the keys of results) must be > 0, got {eta!r}")
        loss_curve(result)  # raises TypeError for anything but a run
    finite = np.concatenate([loss_curve(r)[1] for r in results.values()])
    finite = finite[finite > 0]
    low, high = finite.min() / 2, finite.max() * 2

    def render(eta: float) -> Figure:
        fig = Figure(figsize=(6.4, 3.4), layout="constrained")
        ax = fig.subplots()
        for other in results.values():
            x, y, _ = loss_curve(other)
            ax.plot(x, np.where(y > 0, y, np.nan), color="0.8", lw=1)
        plot_loss_curve(ax, results[eta], color=COLORS["gd"], lw=2.5)
        final = loss_curve(results[eta])[1][-1]
        outcome = "diverged" if results[eta].diverged else f"final loss {final:.3g}"
        ax.set(
            ylim=(low, high), ylabel="loss", title=f"{title}: {description} = {eta:g}, {outcome}"
        )
        return fig

    if alt is None:
        alt = (f"{title}: training loss against epoch on a log scale for one learning rate, "
               "drawn over the curves of all the others in grey")
    return explorer(render, list(results), description=description, initial=initial, mode=mode,
                    alt=alt)
