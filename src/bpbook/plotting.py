"""Figures the chapters draw more than once.

Every function returns a new :class:`matplotlib.figure.Figure` that is *not* kept in
pyplot's list of open figures, so a chapter (or :func:`bpbook.widgets.explorer`, which
renders many frames) never leaks memory or shows a figure twice. In a notebook, make the
figure the last expression of a cell to show it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from bpbook import activations
from bpbook._checks import as_float_array, check_finite, is_real

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "BOOK_STYLE",
    "COLORS",
    "SEQUENTIAL_CMAP",
    "activation_figure",
    "decision_figure",
    "image_grid",
    "use_book_style",
]

#: One colour per quantity, the same in every chapter, from the Okabe–Ito palette, which
#: stays distinguishable with the common forms of colour blindness. Use these keys rather
#: than matplotlib's default cycle, so that, say, the evolution strategy is green and
#: gradient descent blue in every figure of the book.
COLORS: dict[str, str] = {
    "forward": "#0072B2",  # values of the forward pass: activations, outputs
    "backward": "#D55E00",  # what flows back: deltas, gradients
    "train": "#0072B2",
    "validation": "#E69F00",
    "test": "#009E73",
    "theory": "#000000",  # a formula's prediction, drawn dashed
    "neutral": "#999999",  # context: grid lines, reference curves
    "gd": "#0072B2",  # gradient descent (full batch), backpropagation
    "sgd": "#56B4E9",  # minibatch and stochastic gradient descent
    "momentum": "#009E73",
    "adam": "#CC79A7",
    "hill_climber": "#E69F00",
    "ga": "#CC79A7",
    "es": "#009E73",
    "cma_es": "#56B4E9",
}

#: Colour map for a family of curves ordered by a number (learning rates, widths):
#: perceptually uniform and readable with colour blindness.
SEQUENTIAL_CMAP = "cividis"

#: The Okabe–Ito colours in the order matplotlib's colour cycle uses them, so that even a
#: line drawn without a ``color=`` gets a colour of the book's palette, never "C0".
_OKABE_ITO_CYCLE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9",
                    "#000000"]

#: Matplotlib settings of every figure in the book (see :func:`use_book_style`).
BOOK_STYLE: dict[RcKeyType, Any] = {
    # Opaque white paper: the website's dark mode would otherwise show black axes labels
    # on a dark page.
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    # 6 inches at 100 dots per inch is 600 px: the text column on a desktop, and a phone
    # of 400 px shrinks it by about 0.6, where 11-point text is still legible.
    "figure.figsize": (6.0, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "mathtext.fontset": "cm",  # formulas in labels look like the page's MathJax
    "axes.prop_cycle": cycler(color=_OKABE_ITO_CYCLE),
    "image.cmap": SEQUENTIAL_CMAP,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """Set matplotlib's defaults to the book's figure style, for the rest of the session.

    Opaque white backgrounds (legible in the website's dark mode), fonts of at least 10
    points on figures of 6 inches (legible on a 400-pixel-wide phone), the Okabe–Ito
    palette of :data:`COLORS` as the colour cycle and :data:`SEQUENTIAL_CMAP` as the
    default colour map. Every chapter calls it once, in its first code cell; the
    package's own figures follow the same sizes and colours without it.

    Examples
    --------
    >>> use_book_style()
    >>> import matplotlib
    >>> matplotlib.rcParams["figure.facecolor"]
    'white'
    """
    # Resolve pyplot's backend first (the notebook's inline backend applies its own rc
    # settings when it loads), so that the book's settings are the ones that stay.
    plt.get_backend()
    matplotlib.rcParams.update(BOOK_STYLE)


def _new_figure(**kwargs: Any) -> Figure:
    """A figure made by pyplot, then released from pyplot's list of open figures.

    Going through pyplot loads the notebook's plotting backend, which is what teaches
    IPython to show a ``Figure`` that ends a cell; releasing it at once means the
    notebook shows it only as the cell's value, never a second time as an open figure.
    The background is opaque white whatever the style, so the figure reads in the
    website's dark mode.
    """
    kwargs.setdefault("facecolor", "white")
    fig = plt.figure(**kwargs)
    plt.close(fig)
    return fig


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_interval(low: object, high: object, name: str) -> tuple[float, float]:
    if not (is_real(low) and is_real(high)):
        raise TypeError(f"{name} must be two real numbers, got {(low, high)!r}")
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite with low < high, got {(low, high)!r}")
    return low, high


def image_grid(
    images: ArrayLike,
    titles: Sequence[str] | None = None,
    *,
    image_shape: tuple[int, int] = (8, 8),
    n_cols: int = 10,
    cell_size: float = 0.9,
    cmap: str = "gray_r",
) -> Figure:
    """Show flattened grey-level images, such as the digits, in a grid.

    Every image is drawn on the same grey scale, from the smallest to the largest value
    in ``images``, so that equal pixel values look equal across the grid.

    Parameters
    ----------
    images : array_like, shape (n, h * w)
        One flattened image per row (a digit is a row of ``X``, shape ``(64,)``).
    titles : sequence of str, optional
        One title per image, e.g. its label.
    image_shape : (int, int)
        Height and width ``(h, w)`` of one image.
    n_cols : int
        Images per row of the grid; the last row may be partly empty.
    cell_size : float
        Width of one image in inches.
    cmap : str
        Matplotlib colour map; the default draws ink dark on white paper.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``images`` is not a 2-d array with ``h * w`` columns and at least one row,
        holds NaN or infinity, or ``titles`` has the wrong length.
    TypeError
        If ``images`` does not hold real numbers.

    Examples
    --------
    >>> fig = image_grid(np.eye(4, 64), titles=["a", "b", "c", "d"], n_cols=2)
    >>> len(fig.axes)
    4
    """
    images = as_float_array(images, "images", ndim=2)
    if len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    h = _check_positive_int(image_shape[0], "image_shape[0]")
    w = _check_positive_int(image_shape[1], "image_shape[1]")
    n, n_pixels = images.shape
    if n == 0:
        raise ValueError("images holds no rows; pass at least one image")
    if n_pixels != h * w:
        raise ValueError(
            f"images has {n_pixels} columns but image_shape {image_shape} needs {h * w}"
        )
    check_finite(images, "images")
    if titles is not None:
        titles = list(titles)
        if len(titles) != n:
            raise ValueError(f"titles has {len(titles)} entries for {n} images")
    n_cols = min(_check_positive_int(n_cols, "n_cols"), n)
    n_rows = -(-n // n_cols)
    title_space = 0.25 if titles is not None else 0.0
    fig = _new_figure(
        figsize=(cell_size * n_cols, (cell_size * h / w + title_space) * n_rows),
        layout="constrained",
    )
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    low, high = float(images.min()), float(images.max())
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i].reshape(h, w), cmap=cmap, vmin=low, vmax=high)
            if titles is not None:
                ax.set_title(titles[i], fontsize=10)
    return fig


_ACTIVATION_TITLES = {"sigmoid": r"sigmoid $\sigma$", "tanh": "tanh", "relu": "ReLU",
                      "identity": "identity"}


def activation_figure(
    names: Sequence[str] = ("sigmoid", "tanh", "relu", "identity"),
    z_range: tuple[float, float] = (-4.0, 4.0),
    n_points: int = 401,
    n_cols: int = 2,
) -> Figure:
    """Plot each activation ``g`` next to its derivative ``g'``, one panel per activation.

    Parameters
    ----------
    names : sequence of {"sigmoid", "tanh", "relu", "identity"}
        The activations, looked up with :func:`bpbook.activations.get_activation`.
    z_range : (float, float)
        The interval of ``z`` plotted.
    n_points : int
        Number of points on each curve.
    n_cols : int
        Panels per row; the panels fill rows from the left.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per activation (``fig.axes`` in the order of ``names``).

    Raises
    ------
    ValueError
        If a name is unknown, ``names`` is empty, ``z_range`` is not an interval,
        ``n_points < 2`` or ``n_cols < 1``.

    Examples
    --------
    >>> len(activation_figure(["sigmoid", "relu"]).axes)
    2
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of names, e.g. [{names!r}], not a string")
    functions = [activations.get_activation(name) for name in names]
    if not functions:
        raise ValueError("names is empty; pass at least one activation name")
    if len(z_range) != 2:
        raise ValueError(f"z_range must be (low, high), got {z_range!r}")
    low, high = _check_interval(*z_range, "z_range")
    if _check_positive_int(n_points, "n_points") < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    n_cols = min(_check_positive_int(n_cols, "n_cols"), len(functions))
    n_rows = -(-len(functions) // n_cols)
    z = np.linspace(low, high, n_points)
    fig = _new_figure(figsize=(3.2 * n_cols, 2.6 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(functions):]:
        ax.remove()  # an odd number of panels leaves empty cells
    for ax, g in zip(axes, functions, strict=False):
        ax.axhline(0.0, color=COLORS["neutral"], lw=0.8)
        ax.axvline(0.0, color=COLORS["neutral"], lw=0.8)
        # g is what the forward pass computes, g' what the backward pass multiplies by.
        ax.plot(z, g(z), lw=2, color=COLORS["forward"], label="$g(z)$")
        slope = g.derivative(z)
        # A jump (ReLU' at 0) is left as a gap, not drawn as a vertical line that
        # would suggest values in between.
        change = np.diff(slope)
        flat = np.abs(change) < 1e-12
        step = (np.abs(change) > 0.25) & np.r_[True, flat[:-1]] & np.r_[flat[1:], True]
        slope[1:][step] = np.nan
        ax.plot(z, slope, lw=2, ls="--", color=COLORS["backward"], label="$g'(z)$")
        ax.set_title(_ACTIVATION_TITLES.get(g.name, g.name))
        ax.set_xlabel("$z$")
        ax.legend(loc="upper left", fontsize=10, frameon=False)
    return fig


def decision_figure(
    function: Callable[[NDArray[np.float64]], ArrayLike],
    X: ArrayLike,
    y: ArrayLike,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: int = 200,
    levels: Sequence[float] = (0.5,),
    ax: Axes | None = None,
) -> Figure:
    """Colour the plane by a two-input function and mark the labelled points on top.

    Use it to see what a network with two inputs computes everywhere, not only at the
    training points, e.g. ``decision_figure(lambda P: net.forward(P)[:, 0], X, y)``.

    Parameters
    ----------
    function : callable
        Maps points of shape ``(k, 2)`` to ``k`` numbers (shape ``(k,)`` or ``(k, 1)``),
        e.g. the output of a network with one output unit.
    X : array_like, shape (m, 2)
        Points to mark.
    y : array_like, shape (m,)
        Their labels, at most four classes (drawn as circles, crosses, squares, triangles).
    bounds : (x_min, x_max, y_min, y_max), optional
        The window; default: the points' range plus a margin of a quarter of it.
    resolution : int
        Grid points along each axis at which ``function`` is evaluated.
    levels : sequence of float
        Values of ``function`` drawn as contour lines (the decision boundary at 1/2).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (of a figure made by the caller) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure that holds the axes.

    Raises
    ------
    ValueError
        If ``X`` is not of shape ``(m, 2)``, ``y`` does not have ``m`` entries,
        ``function`` returns the wrong number of values or NaN/infinity, or ``ax`` is
        not an axes of a figure.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> fig = decision_figure(lambda P: P.sum(axis=1), X, [0, 1], resolution=20)
    >>> len(fig.axes)  # the plot and its colour bar
    2
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    X = as_float_array(X, "X", ndim=2)
    if X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (m, 2) with m >= 1, got {X.shape}")
    check_finite(X, "X")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must have shape ({X.shape[0]},), one label per row of X, got {y.shape}"
        )
    markers = ["o", "X", "s", "^"]
    classes = np.unique(y)
    if len(classes) > len(markers):
        raise ValueError(
            f"y may hold at most {len(markers)} distinct labels, got {len(classes)}"
        )
    resolution = _check_positive_int(resolution, "resolution")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    if bounds is None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        margin = 0.25 * np.where(hi > lo, hi - lo, 1.0)
        bounds = (lo[0] - margin[0], hi[0] + margin[0], lo[1] - margin[1], hi[1] + margin[1])
    elif len(bounds) != 4:
        raise ValueError(f"bounds must be (x_min, x_max, y_min, y_max), got {bounds!r}")
    x_min, x_max = _check_interval(bounds[0], bounds[1], "bounds[0:2]")
    y_min, y_max = _check_interval(bounds[2], bounds[3], "bounds[2:4]")
    gx, gy = np.meshgrid(
        np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    values = np.asarray(function(grid), dtype=np.float64)
    if values.size != grid.shape[0]:
        raise ValueError(
            f"function must return one value per point: got shape {values.shape} "
            f"for {grid.shape[0]} points"
        )
    check_finite(values, "function(points)")
    values = values.reshape(gx.shape)
    if ax is None:
        fig = _new_figure(figsize=(4.2, 3.5), layout="constrained")
        ax = fig.subplots()
    else:
        parent = ax.get_figure()
        if not isinstance(parent, Figure):
            raise ValueError("ax must be an axes of a figure, not of a subfigure or of none")
        fig = parent
    image = ax.contourf(gx, gy, values, levels=20, cmap="RdBu_r", alpha=0.8)
    fig.colorbar(image, ax=ax)
    inside = [v for v in levels if values.min() < v < values.max()]
    if inside:
        ax.contour(gx, gy, values, levels=sorted(inside), colors="k", linewidths=1.5)
    for label, marker in zip(classes, markers[: len(classes)], strict=True):
        points = X[y == label]
        ax.scatter(points[:, 0], points[:, 1], marker=marker, s=60, c="white",
                   edgecolors="k", label=f"class {label}")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return fig
