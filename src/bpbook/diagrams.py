"""Diagrams of the book's objects, drawn by code in the symbols of the Notation page.

A neuron, a layered network, the computational graph of any :mod:`bpbook.autodiff`
expression, the delta recursion, a gradient-descent path over a loss surface, and the
probes of an evolution strategy. Each function returns a :class:`Diagram`, which a
notebook displays as a vector drawing (SVG) and which also carries a PDF and a PNG
rendering, so every output format of the book gets a picture it can use: MyST-NB puts
the SVG on the website and the PDF (or, failing that, the PNG) into the LaTeX/PDF book.

The drawings follow the book's conventions, not the other way round: layers
``l = 0..L``; ``w^(l)_{jk}`` leads *to* unit ``j`` of layer ``l`` *from* unit ``k`` of
layer ``l - 1``; ``W^(l)`` has shape ``n_l × n_{l-1}``; ``δ^(l) = ∂E/∂z^(l)``; the loss is
``E``; ES probes are ``θ + σ ε_r``. Colours come from :data:`bpbook.plotting.COLORS`:
what the forward pass computes is blue, what flows back (deltas, gradients) is
vermillion. Backgrounds are opaque white, so a drawing reads the same in the website's
dark mode, and the text is large enough to read when a phone shrinks the page to 400 px.

Examples
--------
>>> from bpbook import diagrams
>>> picture = diagrams.network([3, 4, 2], highlight=(2, 1, 3))
>>> sorted(picture._repr_mimebundle_())
['application/pdf', 'image/png', 'image/svg+xml', 'text/plain']
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as MplPath
from numpy.typing import ArrayLike, NDArray

from bpbook._checks import as_float_array, check_finite, check_positive, is_integer, is_real

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType, RcKeyType
from bpbook.autodiff import Value, topological_order
from bpbook.plotting import COLORS, SEQUENTIAL_CMAP

__all__ = [
    "Diagram",
    "computational_graph",
    "delta_recursion",
    "descent_path",
    "es_probes",
    "network",
    "neuron",
]

#: Matplotlib settings under which every diagram is drawn and saved. Text becomes
#: outlines in the SVG ("path"), so the drawing looks the same in every browser with no
#: web fonts; mathematics uses Computer Modern, like the book's MathJax formulas; the
#: fixed hash salt and the missing dates make two renderings byte-identical, which the
#: book's determinism test needs.
STYLE: dict[RcKeyType, Any] = {
    "font.size": 13,
    "mathtext.fontset": "cm",
    "svg.fonttype": "path",
    "svg.hashsalt": "bpbook-diagrams",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
}

#: Resolution of the PNG rendering (a fallback: the website shows the SVG, the PDF book the PDF).
PNG_DPI = 100

FORWARD = COLORS["forward"]
BACKWARD = COLORS["backward"]
INK = "#222222"
EDGE_GREY = "#b5b5b5"
LEAF_FILL = "#fdf3d8"
NODE_FILL = "#e8f0fb"
MINUS = "\N{MINUS SIGN}"


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):
        yield


class Diagram:
    """A drawing that shows as SVG in a notebook and on the website.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The drawing (not registered with pyplot, so it is never shown twice).
    description : str
        One or two plain-text sentences saying what the drawing shows: a starting point
        for the figure's alt text.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    description : str

    Notes
    -----
    ``_repr_mimebundle_`` offers ``image/svg+xml`` (chosen by the HTML builders and by
    JupyterLab), ``application/pdf`` (chosen by MyST-NB's LaTeX builder, so the PDF
    book gets vector graphics), ``image/png`` (for any format that takes neither) and a
    ``text/plain`` summary. Every rendering is deterministic: drawing the same diagram
    twice gives the same bytes.
    """

    def __init__(self, figure: Figure, description: str) -> None:
        if not isinstance(figure, Figure):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        if not isinstance(description, str) or not description.strip():
            raise ValueError("description must be a non-empty string")
        self.figure = figure
        self.description = description

    def __repr__(self) -> str:
        return f"Diagram({self.description!r})"

    def _save(self, fmt: str, **kwargs: Any) -> bytes:
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None},
                    "png": {"Software": None}}[fmt]
        buffer = io.BytesIO()
        with _style():
            self.figure.savefig(buffer, format=fmt, metadata=metadata, **kwargs)
        return buffer.getvalue()

    def to_svg(self) -> str:
        """The drawing as an SVG document, with its description as ``<title>``."""
        svg = self._save("svg").decode("utf-8")
        title = f"<title>{_xml_escape(self.description)}</title>"
        # The root element gets role="img" and a title, so that the SVG is accessible
        # even when it is put inline into a page rather than into an <img alt=...>.
        return re.sub(r"(<svg\b[^>]*?)>", lambda m: f'{m.group(1)} role="img">{title}', svg,
                      count=1)

    def to_pdf(self) -> bytes:
        """The drawing as a one-page PDF (vector graphics, for the LaTeX book)."""
        return self._save("pdf")

    def to_png(self, dpi: float = PNG_DPI) -> bytes:
        """The drawing as a PNG image at ``dpi`` pixels per inch."""
        return self._save("png", dpi=dpi)

    def save(self, path: str | Path) -> Path:
        """Write the drawing to ``path``; its suffix (.svg, .pdf or .png) picks the format."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self.to_svg(), encoding="utf-8")
        elif suffix == ".pdf":
            path.write_bytes(self.to_pdf())
        elif suffix == ".png":
            path.write_bytes(self.to_png())
        else:
            raise ValueError(f"path must end in .svg, .pdf or .png, got {path.name!r}")
        return path

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:
        return {
            "image/svg+xml": self.to_svg(),
            "application/pdf": base64.b64encode(self.to_pdf()).decode("ascii"),
            "image/png": base64.b64encode(self.to_png()).decode("ascii"),
            "text/plain": repr(self),
        }


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- small drawing helpers ------------------------------------------------------------


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure whose data coordinates are inches, origin at the bottom left."""
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, width)
    ax.set_ylim(0.0, height)
    ax.set_axis_off()
    return fig, ax


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    color: str = INK,
    lw: float = 1.4,
    patch_a: Any = None,
    patch_b: Any = None,
    style: str = "-|>",
    linestyle: LineStyleType = "-",
    gid: str | None = None,
    connection: str = "arc3",
    zorder: float = 1,
) -> FancyArrowPatch:
    arrow = FancyArrowPatch(
        start, end, arrowstyle=style, mutation_scale=14, color=color, lw=lw,
        patchA=patch_a, patchB=patch_b, shrinkA=2, shrinkB=2, linestyle=linestyle,
        connectionstyle=connection, zorder=zorder,
    )
    if gid:
        arrow.set_gid(gid)
    ax.add_patch(arrow)
    return arrow


def _box(
    ax: Axes,
    center: tuple[float, float],
    text: str,
    *,
    width: float,
    height: float,
    fill: str,
    edge: str = INK,
    fontsize: float = 13,
    color: str = INK,
    gid: str | None = None,
) -> FancyBboxPatch:
    x, y = center
    box = FancyBboxPatch(
        (x - width / 2, y - height / 2), width, height,
        boxstyle="round,pad=0,rounding_size=0.08", fc=fill, ec=edge, lw=1.2, zorder=2,
    )
    ax.add_patch(box)
    label = ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=color,
                    zorder=3)
    if gid:
        box.set_gid(gid)
        label.set_gid(f"{gid}-label")
    return box


def _label_box() -> dict[str, Any]:
    """A white, borderless background that keeps a label readable over lines."""
    return {"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none"}


def _sup(layer: str | int, offset: int = 0) -> str:
    """The layer index ``layer + offset`` as mathtext, e.g. ``l-1`` or ``2``."""
    if isinstance(layer, str):
        if offset == 0:
            return layer
        return f"{layer}{'+' if offset > 0 else '-'}{abs(offset)}"
    return str(layer + offset)


def _check_layer(layer: object, name: str = "layer", minimum: int = 1) -> str | int:
    if isinstance(layer, str):
        if not re.fullmatch(r"[A-Za-z]", layer):
            raise ValueError(f"{name} must be one letter such as 'l', or an integer, got {layer!r}")
        return layer
    if not is_integer(layer) or layer < minimum:
        raise ValueError(f"{name} must be a letter or an integer >= {minimum}, got {layer!r}")
    return int(layer)


def _check_count(value: object, name: str, low: int, high: int) -> int:
    if not is_integer(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _check_function_name(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty string of mathtext, e.g. 'g', got {value!r}")
    return value


# --- neuron -----------------------------------------------------------------------------


def neuron(
    n_inputs: int = 3,
    *,
    layer: str | int = "l",
    activation: str = "g",
    unit: str = "j",
) -> Diagram:
    """One unit of a network: weighted inputs, their sum with the bias, the activation.

    Draws inputs ``a^(l−1)_k`` on the left, each joined to the unit by an edge labelled
    with its weight ``w^(l)_{jk}``; the sum node that adds the bias ``b^(l)_j`` and
    produces the weighted input ``z^(l)_j``; the activation ``g``; and the output
    ``a^(l)_j = g(z^(l)_j)``. The formula is printed underneath.

    Parameters
    ----------
    n_inputs : int, 1 to 6
        Input units drawn. They are numbered ``1, 2, …``, and the last one is unit
        ``n_{l−1}`` (with a vertical ellipsis before it when ``n_inputs >= 3``).
    layer : str or int
        The layer of the unit: a letter (``"l"``, the general case) or a number ``>= 1``
        (``layer=1`` draws the inputs as ``a^(0)_k``, the network's input).
    activation : str
        The activation's symbol in mathtext (``"g"``, ``r"\\sigma"``, ``"g_L"``).
    unit : str
        The unit's index letter, ``"j"`` by default.

    Returns
    -------
    Diagram

    Raises
    ------
    ValueError
        If ``n_inputs`` is not an integer from 1 to 6, or ``layer`` / ``unit`` is not a
        letter (or ``layer`` a positive integer).
    TypeError
        If ``activation`` is not a non-empty string.

    Examples
    --------
    >>> neuron(3, layer="l", activation="g")  # doctest: +ELLIPSIS
    Diagram('One unit j of layer l: ...')
    """
    n_inputs = _check_count(n_inputs, "n_inputs", 1, 6)
    layer = _check_layer(layer)
    activation = _check_function_name(activation, "activation")
    if not isinstance(unit, str) or not re.fullmatch(r"[A-Za-z]", unit):
        raise ValueError(f"unit must be one letter such as 'j', got {unit!r}")
    here, before = _sup(layer), _sup(layer, -1)
    last = f"n_{{{before}}}"
    indices = [str(k) for k in range(1, n_inputs)] + ([last] if n_inputs > 1 else ["1"])
    if n_inputs == 1:
        indices = ["k"]

    with _style():
        width = 5.7
        spacing = 0.78 if n_inputs <= 4 else 0.62
        gap = 1 if n_inputs >= 3 else 0  # a slot for the vertical ellipsis
        slots = n_inputs + gap
        top = 1.2 + spacing * (slots - 1)
        height = top + 0.75
        fig, ax = _canvas(width, height)
        x_in, x_sum, x_act = 1.4, 3.3, 4.45
        y_mid = 1.2 + spacing * (slots - 1) / 2
        radius = 0.2

        sum_node = Circle((x_sum, y_mid), 0.36, fc=NODE_FILL, ec=INK, lw=1.4, zorder=2,
                          gid="sum")
        ax.add_patch(sum_node)
        ax.text(x_sum, y_mid, r"$\Sigma$", ha="center", va="center", fontsize=17, zorder=3)
        act_node = FancyBboxPatch(
            (x_act - 0.33, y_mid - 0.3), 0.66, 0.6, boxstyle="round,pad=0,rounding_size=0.1",
            fc=NODE_FILL, ec=INK, lw=1.4, zorder=2, gid="activation",
        )
        ax.add_patch(act_node)
        ax.text(x_act, y_mid, f"${activation}$", ha="center", va="center", fontsize=17,
                zorder=3)

        slot_ys = [top - spacing * s for s in range(slots)]
        ys = slot_ys[: n_inputs - 1] + slot_ys[-1:] if gap else slot_ys
        if gap:
            ax.text(x_in, slot_ys[-2], r"$\vdots$", ha="center", va="center", fontsize=15)
        for i, (k, y) in enumerate(zip(indices, ys, strict=True)):
            node = Circle((x_in, y), radius, fc=LEAF_FILL, ec=INK, lw=1.2, zorder=2)
            ax.add_patch(node)
            ax.text(x_in - radius - 0.08, y, f"$a^{{({before})}}_{{{k}}}$", ha="right",
                    va="center", fontsize=14, color=FORWARD, gid=f"input-{i}")
            _arrow(ax, (x_in, y), (x_sum, y_mid), patch_a=node, patch_b=sum_node, lw=1.2)
            # The weight sits on its edge, a third of the way from the input.
            t = 0.36
            ax.text(x_in + t * (x_sum - x_in), y + t * (y_mid - y) + 0.04,
                    f"$w^{{({here})}}_{{{unit}{k}}}$", ha="center", va="bottom", fontsize=14,
                    bbox=_label_box(), zorder=4, gid=f"weight-{i}")

        bias_top = (x_sum, min(top + 0.35, height - 0.3))
        ax.text(bias_top[0], bias_top[1] + 0.02, f"$b^{{({here})}}_{{{unit}}}$", ha="center",
                va="bottom", fontsize=14, gid="bias")
        _arrow(ax, bias_top, (x_sum, y_mid), patch_b=sum_node, lw=1.2)
        _arrow(ax, (x_sum, y_mid), (x_act, y_mid), patch_a=sum_node, patch_b=act_node,
               color=FORWARD, lw=1.6)
        ax.text((x_sum + 0.36 + x_act - 0.33) / 2, y_mid + 0.1,
                f"$z^{{({here})}}_{{{unit}}}$", ha="center", va="bottom", fontsize=14,
                color=FORWARD, gid="weighted-input")
        x_out = x_act + 0.95
        _arrow(ax, (x_act, y_mid), (x_out - 0.05, y_mid), patch_a=act_node, color=FORWARD,
               lw=1.6)
        ax.text(x_out, y_mid, f"$a^{{({here})}}_{{{unit}}}$", ha="left", va="center",
                fontsize=15, color=FORWARD, gid="output")
        box = FancyBboxPatch(
            (x_sum - 0.62, y_mid - 0.62), x_act - x_sum + 1.2, 1.24,
            boxstyle="round,pad=0,rounding_size=0.15", fc="none", ec=EDGE_GREY, lw=1.0,
            linestyle="--", zorder=1,
        )
        ax.add_patch(box)
        ax.text((x_sum + x_act) / 2 + 0.0, y_mid - 0.7, f"unit ${unit}$ of layer ${here}$",
                ha="center", va="top", fontsize=12, color="#555555")

        k = "k"
        formula = (
            f"$z^{{({here})}}_{{{unit}}} = \\sum_{{{k}=1}}^{{{last}}} "
            f"w^{{({here})}}_{{{unit}{k}}}\\, a^{{({before})}}_{{{k}}} + b^{{({here})}}_{{{unit}}}"
            f",\\qquad a^{{({here})}}_{{{unit}}} = {activation}(z^{{({here})}}_{{{unit}}})$"
        )
        ax.text(width / 2, 0.42, formula, ha="center", va="center", fontsize=14,
                gid="formula")
    description = (
        f"One unit {unit} of layer {here}: {n_inputs} input activation"
        f"{'s' if n_inputs > 1 else ''} a^({before})_k enter along edges labelled with "
        f"their weights w^({here})_{unit}k; a sum node adds them with the bias "
        f"b^({here})_{unit} into the weighted input z^({here})_{unit}, and the activation "
        f"{activation.strip(chr(92))} turns it into the output a^({here})_{unit}."
    )
    return Diagram(fig, description)


# --- network ---------------------------------------------------------------------------


def _drawn_units(n: int, max_units: int) -> list[int]:
    """The 1-based unit numbers drawn for a layer of n units (0 marks the ellipsis)."""
    if n <= max_units:
        return list(range(1, n + 1))
    return list(range(1, max_units - 1)) + [0, n]


def network(
    layer_sizes: Sequence[int],
    *,
    highlight: tuple[int, int, int] | None = None,
    batch: str | int = "m",
    shapes: bool = True,
    max_units: int = 7,
) -> Diagram:
    """A layered network, units as circles by layer ``l = 0..L``, with one weight labelled.

    The highlighted edge is ``w^(l)_{jk}``: *to* unit ``j`` of layer ``l`` *from* unit
    ``k`` of layer ``l − 1`` (Nielsen's picture; the row index of ``W^(l)`` is the unit the
    edge enters). Under the layers, the shapes of the matrices of a minibatch of ``m``
    examples: ``W^(l)`` is ``n_l × n_{l−1}``, ``Z^(l)`` and ``A^(l)`` are ``m × n_l``.

    Parameters
    ----------
    layer_sizes : sequence of int, length L + 1 >= 2
        ``[n_0, n_1, …, n_L]``, as for :class:`bpbook.MLP`.
    highlight : (l, j, k), optional
        The weight to label, with ``1 <= l <= L``, ``1 <= j <= n_l``,
        ``1 <= k <= n_{l−1}`` (units counted from 1, top to bottom, as in the notation).
        Default: an edge into the last layer with ``j != k`` where possible. Pass
        ``highlight=()`` to label none.
    batch : str or int
        What to write for the number of examples in the shapes, ``"m"`` or a number.
    shapes : bool
        Annotate the shapes of ``W^(l)``, ``Z^(l)`` and ``A^(l)``.
    max_units : int, 3 to 12
        Layers wider than this are drawn with their first ``max_units − 2`` units, an
        ellipsis, and their last unit.

    Returns
    -------
    Diagram

    Raises
    ------
    ValueError
        If ``layer_sizes`` has fewer than two entries or a size below 1, ``highlight``
        names an edge that does not exist or is hidden in an ellipsis, or ``max_units``
        or ``batch`` is out of range.

    Examples
    --------
    >>> network([2, 3, 1], highlight=(1, 3, 2))  # doctest: +ELLIPSIS
    Diagram('A network with layer sizes 2, 3, 1 ...')
    """
    sizes = _check_layer_sizes(layer_sizes)
    L = len(sizes) - 1
    max_units = _check_count(max_units, "max_units", 3, 12)
    symbol = isinstance(batch, str) and bool(batch.strip())
    if not symbol and not (is_integer(batch) and batch >= 1):
        raise ValueError(f"batch must be a symbol such as 'm' or a positive integer, got {batch!r}")
    drawn = [_drawn_units(n, max_units) for n in sizes]
    edge = _check_highlight(highlight, sizes, drawn)

    with _style():
        dx = 1.3
        dy = 0.52
        rows = max(len(d) for d in drawn)
        header = 0.8 if edge else 0.45
        footer = 1.1 if shapes else 0.2
        width = max(4.6, dx * L + 1.9)
        height = header + dy * (rows - 1) + 0.75 + footer
        fig, ax = _canvas(width, height)
        x0 = (width - dx * L) / 2
        y_top = height - header - 0.45
        radius = 0.17
        centres: dict[tuple[int, int], tuple[float, float]] = {}
        circles: dict[tuple[int, int], Circle] = {}
        for l, units in enumerate(drawn):
            x = x0 + dx * l
            offset = dy * (rows - len(units)) / 2
            for row, unit in enumerate(units):
                y = y_top - offset - dy * row
                if unit == 0:
                    ax.text(x, y, r"$\vdots$", ha="center", va="center", fontsize=14)
                    continue
                centres[l, unit] = (x, y)
                fill = LEAF_FILL if l == 0 else NODE_FILL
                circle = Circle((x, y), radius, fc=fill, ec=INK, lw=1.1, zorder=3)
                ax.add_patch(circle)
                circles[l, unit] = circle
            name = "input" if l == 0 else ("output" if l == L else "hidden")
            ax.text(x, y_top + 0.33, f"layer {l}", ha="center", va="bottom", fontsize=13,
                    gid=f"layer-{l}")
            ax.text(x, y_top + 0.3, f"{name}, $n_{{{l}}} = {sizes[l]}$", ha="center",
                    va="top", fontsize=12, color="#555555")
        for l in range(1, L + 1):
            for (layer_k, k), start in centres.items():
                if layer_k != l - 1:
                    continue
                for (layer_j, j), end in centres.items():
                    if layer_j == l and (l, j, k) != edge:
                        ax.plot([start[0], end[0]], [start[1], end[1]], color=EDGE_GREY,
                                lw=0.8, zorder=1)
        if edge:
            l, j, k = edge
            start, end = centres[l - 1, k], centres[l, j]
            _arrow(ax, start, end, color=FORWARD, lw=2.6, patch_a=circles[l - 1, k],
                   patch_b=circles[l, j], zorder=4, gid="highlight")
            for key, letter, side in (((l - 1, k), "k", -1), ((l, j), "j", 1)):
                cx, cy = centres[key]
                circles[key].set_edgecolor(FORWARD)
                circles[key].set_linewidth(2.2)
                ax.text(cx + side * (radius + 0.05), cy, f"${letter} = {key[1]}$",
                        ha="right" if side < 0 else "left", va="center", fontsize=12,
                        color=FORWARD, bbox=_label_box(), zorder=5, gid=f"highlight-{letter}")
            mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            ax.text(*mid, f"$w^{{({l})}}_{{{j}{k}}}$", ha="center", va="center", fontsize=14,
                    color=FORWARD, bbox=_label_box(), zorder=5, gid="highlight-label")
            ax.text(width / 2, height - 0.12,
                    f"$w^{{({l})}}_{{{j}{k}}}$: to unit $j = {j}$ of layer {l}, "
                    f"from unit $k = {k}$ of layer {l - 1}",
                    ha="center", va="top", fontsize=12, color=FORWARD, gid="highlight-caption")
        if shapes:
            m = str(batch)
            y_shape = 0.95
            for l in range(L + 1):
                x = x0 + dx * l
                name = "X = A^{(0)}" if l == 0 else f"Z^{{({l})}}, A^{{({l})}}"
                ax.text(x, y_shape, f"${name}$", ha="center", va="top", fontsize=12,
                        color=FORWARD, gid=f"shape-activations-{l}")
                ax.text(x, y_shape - 0.27, f"${m} \\times {sizes[l]}$", ha="center", va="top",
                        fontsize=12, color=FORWARD, gid=f"shape-activations-{l}-size")
            for l in range(1, L + 1):
                x = x0 + dx * (l - 0.5)
                ax.text(x, y_shape + 0.36, f"$W^{{({l})}}$", ha="center", va="bottom",
                        fontsize=12, color=INK, bbox=_label_box(), gid=f"shape-weights-{l}")
                ax.text(x, y_shape + 0.08, f"${sizes[l]} \\times {sizes[l - 1]}$", ha="center",
                        va="bottom", fontsize=12, color=INK, bbox=_label_box(),
                        gid=f"shape-weights-{l}-size")
    sizes_text = ", ".join(str(n) for n in sizes)
    description = (
        f"A network with layer sizes {sizes_text} (layers 0 to {L}), drawn as columns of circles"
    )
    if edge:
        l, j, k = edge
        description += (
            f"; the edge from unit {k} of layer {l - 1} to unit {j} of layer {l} is highlighted "
            f"and labelled w^({l})_{j}{k}"
        )
    if shapes:
        description += (
            f"; under the layers, the shapes: W^(l) is n_l by n_(l-1), Z^(l) and A^(l) are "
            f"{batch} by n_l"
        )
    return Diagram(fig, description + ".")


def _check_layer_sizes(layer_sizes: object) -> list[int]:
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes must be a sequence of integers such as [2, 3, 1], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least two layers (input and output), got {sizes}")
    for l, n in enumerate(sizes):
        if not is_integer(n) or n < 1:
            raise ValueError(f"layer_sizes[{l}] must be a positive integer, got {n!r}")
    return [int(n) for n in sizes]


def _check_highlight(
    highlight: object, sizes: list[int], drawn: list[list[int]]
) -> tuple[int, int, int] | None:
    L = len(sizes) - 1
    if highlight is None:
        l = L
        j = min(2, sizes[l]) if sizes[l] > 1 else 1
        k = next((k for k in drawn[l - 1] if k and k != j), drawn[l - 1][0])
        return (l, j, k)
    if highlight == ():
        return None
    if not isinstance(highlight, tuple) or len(highlight) != 3:
        raise ValueError(f"highlight must be (l, j, k) or (), got {highlight!r}")
    for name, value in zip("ljk", highlight, strict=True):
        if not is_integer(value):
            raise ValueError(f"highlight's {name} must be an integer, got {value!r}")
    l, j, k = (int(v) for v in highlight)
    if not 1 <= l <= L:
        raise ValueError(f"highlight's layer l must be from 1 to L = {L}, got {l}")
    if not 1 <= j <= sizes[l]:
        raise ValueError(f"highlight's j must be from 1 to n_{l} = {sizes[l]}, got {j}")
    if not 1 <= k <= sizes[l - 1]:
        raise ValueError(f"highlight's k must be from 1 to n_{l - 1} = {sizes[l - 1]}, got {k}")
    if j not in drawn[l] or k not in drawn[l - 1]:
        raise ValueError(
            f"highlight {highlight} names a unit hidden in an ellipsis; raise max_units "
            "or pick units near the top of their layers"
        )
    return (l, j, k)


# --- computational graph ----------------------------------------------------------------


_OPERATION_NAMES = {
    "+": "+", "*": "×", "-": MINUS, "/": "÷", "neg": f"{MINUS}(·)", "exp": "exp",
    "log": "log", "tanh": "tanh", "sigmoid": "σ(·)", "relu": "ReLU", "max": "max",
}


def _operation_name(op: str) -> str:
    if op in _OPERATION_NAMES:
        return _OPERATION_NAMES[op]
    power = re.fullmatch(r"\*\*(.+)", op)
    if power:
        return f"$(\\cdot)^{{{power.group(1).replace('-', MINUS)}}}$"
    return op


def _number(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, with a typographic minus sign."""
    text = f"{value:.{digits}g}"
    if text in ("-0", "0"):
        text = "0"
    return text.replace("-", MINUS)


@dataclass
class _Layout:
    """Positions of the nodes of a layered drawing, and the waypoints of every edge."""

    rank: list[int]
    slot: list[float]
    edge_points: list[list[tuple[float, float]]]  # (rank, slot) waypoints per edge


def _layered_layout(n: int, edges: list[tuple[int, int]], sweeps: int = 12) -> _Layout:
    """A Sugiyama-style layout of a directed acyclic graph whose edges go parent → child.

    Ranks by longest path from the leaves (a leaf then moves next to its first use), long
    edges get dummy waypoints, the order within each rank is improved by barycentre
    sweeps keeping the order with the fewest crossings, and slots are placed as close as
    possible to the mean of their neighbours at a minimum distance of 1.
    """
    parents: list[list[int]] = [[] for _ in range(n)]
    children: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        parents[v].append(u)
        children[u].append(v)
    rank = [0] * n
    for v in range(n):  # nodes come in topological order
        if parents[v]:
            rank[v] = 1 + max(rank[u] for u in parents[v])
    for v in range(n):
        if not parents[v] and children[v]:
            rank[v] = min(rank[c] for c in children[v]) - 1

    # Virtual graph: real nodes first, then one dummy per intermediate rank of long edges.
    vrank = list(rank)
    chains: list[list[int]] = []
    # Operands keep their order (x before y in x - y): the last hop of an edge into its
    # node is nudged by the operand's position, which breaks ties in the sweeps.
    incoming = [len(p) for p in parents]
    seen = [0] * n
    nudges: dict[tuple[int, int], float] = {}
    for u, v in edges:
        chain = [u]
        for r in range(rank[u] + 1, rank[v]):
            vrank.append(r)
            chain.append(len(vrank) - 1)
        chain.append(v)
        chains.append(chain)
        nudges[chain[-2], v] = 0.3 * (seen[v] - (incoming[v] - 1) / 2) / incoming[v]
        seen[v] += 1
    up: list[list[int]] = [[] for _ in vrank]
    down: list[list[int]] = [[] for _ in vrank]
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            down[a].append(b)
            up[b].append(a)
    n_ranks = max(vrank) + 1
    layers: list[list[int]] = [[] for _ in range(n_ranks)]
    for v, r in enumerate(vrank):
        layers[r].append(v)

    def positions() -> dict[int, int]:
        return {v: i for layer in layers for i, v in enumerate(layer)}

    def crossings() -> int:
        pos = positions()
        total = 0
        for layer in layers[:-1]:
            pairs = [(pos[a], pos[b]) for a in layer for b in down[a]]
            total += sum(
                1 for i, (a1, b1) in enumerate(pairs) for a2, b2 in pairs[i + 1:]
                if (a1 - a2) * (b1 - b2) < 0
            )
        return total

    best = [list(layer) for layer in layers]
    best_count = crossings()
    for sweep in range(sweeps):
        order = range(1, n_ranks) if sweep % 2 == 0 else range(n_ranks - 2, -1, -1)
        for r in order:
            pos = positions()
            neighbours = up if sweep % 2 == 0 else down

            def barycentre(
                v: int, pos: dict[int, int] = pos, nb: list[list[int]] = neighbours
            ) -> float:
                if nb[v]:
                    return sum(pos[u] + nudges.get((v, u), 0.0) for u in nb[v]) / len(nb[v])
                return float(pos[v])

            layers[r].sort(key=barycentre)
        count = crossings()
        if count <= best_count:
            best, best_count = [list(layer) for layer in layers], count
    layers = best

    # Coordinates: start centred, then pull every node toward its neighbours' mean,
    # keeping the order and a gap of at least 1 (isotonic regression by pooling).
    coord = [0.0] * len(vrank)
    for layer in layers:
        for i, v in enumerate(layer):
            coord[v] = i - (len(layer) - 1) / 2
    for _ in range(24):
        for layer in layers:
            targets = []
            for v in layer:
                nb = up[v] + down[v]
                targets.append(sum(coord[u] for u in nb) / len(nb) if nb else coord[v])
            for v, y in zip(layer, _ordered_with_gaps(targets), strict=True):
                coord[v] = y
    low = min(coord)
    coord = [c - low for c in coord]
    edge_points = [[(float(vrank[v]), coord[v]) for v in chain] for chain in chains]
    return _Layout(rank=rank, slot=coord[:n], edge_points=edge_points)


def _ordered_with_gaps(targets: list[float], gap: float = 1.0) -> list[float]:
    """The closest (least squares) positions to ``targets`` that keep their order ``gap`` apart."""
    shifted = [t - i * gap for i, t in enumerate(targets)]
    blocks: list[list[float]] = []  # [sum, count]
    for value in shifted:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted += [total / count] * int(count)
    return [f + i * gap for i, f in enumerate(fitted)]


def _gradients(order: list[Value]) -> tuple[dict[int, float], list[float]]:
    """Reverse sweep over ``order`` without touching ``.grad``.

    Returns the gradient of the output with respect to every node (by ``id``), and for
    every edge, in the order of ``_graph_edges``, the share ``local × grad(child)`` that
    flows back along it.
    """
    grad = {id(node): 0.0 for node in order}
    grad[id(order[-1])] = 1.0
    shares: dict[tuple[int, int], float] = {}
    for child in reversed(order):
        for slot, (parent, local) in enumerate(
            zip(child.parents, child.local_derivatives(), strict=True)
        ):
            share = local * grad[id(child)]
            shares[id(child), slot] = share
            grad[id(parent)] += share
    flows = [shares[id(child), slot] for child in order for slot in range(len(child.parents))]
    return grad, flows


def computational_graph(
    output: Value,
    *,
    gradients: bool = True,
    edge_labels: str = "gradient",
    digits: int = 3,
    direction: str = "auto",
    max_nodes: int = 80,
) -> Diagram:
    """The computational graph of a :class:`bpbook.autodiff.Value`, as the engine built it.

    Every node is a box with its label (leaves) or operation, and its forward value in
    blue; with ``gradients=True`` also the gradient of ``output`` with respect to it,
    in vermillion. Every edge carries, in vermillion, the gradient that flows back along
    it: the edge's local derivative times the gradient of the node it enters. So the
    gate patterns are visible on any expression: ``+`` passes its gradient unchanged to
    both operands, ``×`` sends each operand the gradient times the *other* operand, ReLU
    (and max) routes it to the active input, and a value used twice receives the *sum*
    of the gradients on its outgoing edges.

    The gradients are computed here by one reverse sweep over the graph (the engine's
    :meth:`~bpbook.autodiff.Value.local_derivatives`), without changing any ``.grad``;
    they equal what ``output.backward()`` stores.

    Parameters
    ----------
    output : Value
        The expression; the drawing holds every value it depends on.
    gradients : bool
        Print ``∂output/∂node`` in each node and the backward flow on each edge.
    edge_labels : {"gradient", "local"}
        What edges carry: the gradient flowing back (``local × downstream gradient``),
        or the local derivative ``∂child/∂parent`` alone.
    digits : int, 1 to 8
        Significant digits of the printed numbers.
    direction : {"auto", "LR", "TB"}
        Computation flowing left to right or top to bottom; ``"auto"`` picks the
        narrower drawing (a phone shrinks a drawing to fit its width).
    max_nodes : int
        Refuse larger graphs (a drawing of hundreds of boxes helps no one).

    Returns
    -------
    Diagram

    Raises
    ------
    TypeError
        If ``output`` is not a ``Value``.
    ValueError
        If the graph has more than ``max_nodes`` nodes, or an option is unknown.

    Examples
    --------
    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> computational_graph((w * x).tanh())  # doctest: +ELLIPSIS
    Diagram('The computational graph of tanh: 4 nodes ...')
    """
    if not isinstance(output, Value):
        raise TypeError(f"output must be a bpbook.autodiff.Value, got {type(output).__name__}")
    if edge_labels not in ("gradient", "local"):
        raise ValueError(f"edge_labels must be 'gradient' or 'local', got {edge_labels!r}")
    if direction not in ("auto", "LR", "TB"):
        raise ValueError(f"direction must be 'auto', 'LR' or 'TB', got {direction!r}")
    digits = _check_count(digits, "digits", 1, 8)
    max_nodes = _check_count(max_nodes, "max_nodes", 1, 10_000)
    order = topological_order(output)
    if len(order) > max_nodes:
        raise ValueError(
            f"output's graph has {len(order)} nodes, more than max_nodes = {max_nodes}; "
            "draw a smaller expression or raise max_nodes"
        )
    index = {id(node): i for i, node in enumerate(order)}
    edges = [(index[id(p)], index[id(child)]) for child in order for p in child.parents]
    locals_ = [d for child in order for d in child.local_derivatives()]
    grad, flows = _gradients(order)
    layout = _layered_layout(len(order), edges)
    n_ranks = max(layout.rank) + 1
    n_slots = max(layout.slot) + 1 if layout.slot else 1
    for points in layout.edge_points:
        n_slots = max(n_slots, max(y for _, y in points) + 1)

    box_w, box_h = 1.05, 0.82 if gradients else 0.58
    step_rank_lr, step_slot_lr = 1.75, 1.05 if gradients else 0.85
    step_rank_tb, step_slot_tb = 1.5 if gradients else 1.2, 1.35
    size_lr = (step_rank_lr * (n_ranks - 1) + box_w + 0.5,
               step_slot_lr * (n_slots - 1) + box_h + 1.1)
    size_tb = (step_slot_tb * (n_slots - 1) + box_w + 0.5,
               step_rank_tb * (n_ranks - 1) + box_h + 1.1)
    if direction == "auto":
        # The narrower drawing: a phone shrinks a drawing to its width, and a tall one
        # only scrolls.
        direction = "LR" if size_lr[0] < size_tb[0] else "TB"
    lr = direction == "LR"
    width, height = size_lr if lr else size_tb
    width = max(width, 4.2)

    def place(rank: float, slot: float) -> tuple[float, float]:
        if lr:
            return (0.25 + box_w / 2 + step_rank_lr * rank,
                    height - 0.95 - box_h / 2 - step_slot_lr * slot)
        return (width / 2 + step_slot_tb * (slot - (n_slots - 1) / 2),
                height - 0.95 - box_h / 2 - step_rank_tb * rank)

    with _style():
        fig, ax = _canvas(width, height)
        centres = [place(r, s) for r, s in zip(layout.rank, layout.slot, strict=True)]
        for i, node in enumerate(order):
            leaf = not node.parents
            title = node.label if node.label else (
                "constant" if leaf else _operation_name(node.op)
            )
            if node.label and not leaf:
                title = f"{node.label} = {_operation_name(node.op)}"
            x, y = centres[i]
            patch = FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2), box_w, box_h,
                boxstyle="round,pad=0,rounding_size=0.08",
                fc=LEAF_FILL if leaf else NODE_FILL, ec=INK, lw=1.1, zorder=3, gid=f"node-{i}",
            )
            ax.add_patch(patch)
            lines = [(title, INK, "title"), (_number(node.data, digits), FORWARD, "value")]
            if gradients:
                lines.append((_number(grad[id(node)], digits), BACKWARD, "grad"))
            spacing = 0.245
            for row, (text, color, kind) in enumerate(lines):
                ax.text(x, y + spacing * ((len(lines) - 1) / 2 - row), text, ha="center",
                        va="center", fontsize=12 if kind != "title" else 13, color=color,
                        zorder=4, gid=f"node-{i}-{kind}",
                        fontweight="bold" if kind == "title" else "normal")
        counts: dict[tuple[int, int], int] = {}
        placed: list[tuple[float, float, float, float]] = []  # edge labels drawn so far
        for e, ((u, v), points) in enumerate(zip(edges, layout.edge_points, strict=True)):
            repeat = counts[u, v] = counts.get((u, v), -1) + 1
            total = edges.count((u, v))
            bend = 0.35 * (2 * repeat - (total - 1)) if total > 1 else 0.0
            path = [place(r, s) for r, s in points]
            candidates = _draw_edge(ax, path, box_w, box_h, bend, gid=f"edge-{e}")
            if gradients or edge_labels == "local":
                value = flows[e] if edge_labels == "gradient" else locals_[e]
                text = _number(value, digits)
                label_at = _free_spot(candidates, 0.11 * len(text) + 0.25, 0.34, placed)
                ax.text(*label_at, text, ha="center", va="center",
                        fontsize=12, color=BACKWARD if edge_labels == "gradient" else INK,
                        bbox=_label_box(), zorder=5, gid=f"edge-{e}-label")
        legend = [("value (forward pass)", FORWARD)]
        if gradients:
            legend.append(("gradient of the output (backward pass)", BACKWARD))
        for row, (text, color) in enumerate(legend):
            ax.text(0.25, height - 0.15 - 0.28 * row, "■ " + text, ha="left", va="top",
                    fontsize=12, color=color)
    title = order[-1].label or _operation_name(order[-1].op) or "a leaf"
    description = (
        f"The computational graph of {title.strip('$')}: {len(order)} nodes "
        f"({sum(1 for v in order if not v.parents)} inputs and constants), each showing its "
        "operation and forward value"
    )
    if gradients:
        description += (
            ", and the gradient of the output with respect to it; each edge shows "
            + ("the gradient flowing back along it" if edge_labels == "gradient"
               else "its local derivative")
        )
    return Diagram(fig, description + ".")


def _draw_edge(
    ax: Axes,
    path: list[tuple[float, float]],
    box_w: float,
    box_h: float,
    bend: float,
    gid: str,
) -> list[tuple[float, float]]:
    """Draw one edge through its waypoints, clipped at the two boxes.

    Returns points on the edge where its label may go, best first.
    """
    start = _exit_point(path[0], path[1], box_w, box_h)
    end = _exit_point(path[-1], path[-2], box_w, box_h)
    points = [start, *path[1:-1], end]
    if bend:
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        normal = (-(y1 - y0) / length, (x1 - x0) / length)
        control = ((x0 + x1) / 2 + bend * normal[0], (y0 + y1) / 2 + bend * normal[1])
        codes = [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3]
        mpl_path = MplPath([start, control, end], codes)
        spots = [
            ((1 - t) ** 2 * x0 + 2 * t * (1 - t) * control[0] + t**2 * x1,
             (1 - t) ** 2 * y0 + 2 * t * (1 - t) * control[1] + t**2 * y1)
            for t in (0.5, 0.35, 0.65)
        ]
    else:
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
        mpl_path = MplPath(points, codes)
        # The label goes on the middle segment, at its middle if that spot is free.
        a, b = points[(len(points) - 1) // 2], points[(len(points) - 1) // 2 + 1]
        spots = [(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
                 for t in (0.5, 0.35, 0.65, 0.2, 0.8)]
    arrow = FancyArrowPatch(path=mpl_path, arrowstyle="-|>", mutation_scale=13, color="#666666",
                            lw=1.2, zorder=2)
    arrow.set_gid(gid)
    ax.add_patch(arrow)
    return spots


def _free_spot(
    spots: list[tuple[float, float]],
    width: float,
    height: float,
    placed: list[tuple[float, float, float, float]],
) -> tuple[float, float]:
    """The first spot where a label of this size overlaps no label placed before; record it."""
    def clearance(spot: tuple[float, float]) -> float:
        """How far the label is from overlapping the nearest label (negative: overlaps)."""
        x, y = spot
        return min(
            (max(abs(x - px) - (width + pw) / 2, abs(y - py) - (height + ph) / 2)
             for px, py, pw, ph in placed),
            default=math.inf,
        )

    spot = next((s for s in spots if clearance(s) >= 0), None)
    if spot is None:
        spot = max(spots, key=clearance)
    placed.append((spot[0], spot[1], width, height))
    return spot


def _exit_point(
    centre: tuple[float, float], toward: tuple[float, float], box_w: float, box_h: float
) -> tuple[float, float]:
    """Where the segment from a box's centre toward ``toward`` leaves the box."""
    dx, dy = toward[0] - centre[0], toward[1] - centre[1]
    scale = min(
        (box_w / 2 + 0.03) / abs(dx) if dx else math.inf,
        (box_h / 2 + 0.03) / abs(dy) if dy else math.inf,
    )
    if not math.isfinite(scale):
        return centre
    return (centre[0] + dx * scale, centre[1] + dy * scale)


# --- the delta recursion ------------------------------------------------------------------


def delta_recursion(*, layer: str | int = "l", batch: bool = False, shapes: bool = True) -> Diagram:
    """The delta recursion as a picture, beside the forward pass it runs backward through.

    Top row, left to right in blue: ``a^(l−1) → z^(l) → a^(l) → z^(l+1) → ⋯ → E``.
    Bottom row, right to left in vermillion, each quantity under the forward value it is
    the gradient for: ``δ^(l+1)`` goes back through ``(W^(l+1))ᵀ`` to ``∂E/∂a^(l)``, and
    through ``⊙ g′(z^(l))`` (computed from ``a^(l)``, which the forward pass kept) to
    ``δ^(l)``; from ``δ^(l)`` come the parameter gradients ``∂E/∂W^(l) = δ^(l) (a^(l−1))ᵀ``
    and ``∂E/∂b^(l) = δ^(l)``.

    Parameters
    ----------
    layer : str or int
        The layer ``l`` whose delta is computed: a letter or a number ``>= 1``.
    batch : bool
        Draw the minibatch form instead (rows are examples): ``A^(l)``, ``Z^(l)``,
        ``𝛅^(l) = (𝛅^(l+1) W^(l+1)) ⊙ g′(Z^(l))``, ``∂E/∂W^(l) = (𝛅^(l))ᵀ A^(l−1)``.
    shapes : bool
        Print each quantity's shape under it (``n_l``, or ``m × n_l`` with ``batch``).

    Returns
    -------
    Diagram

    Raises
    ------
    ValueError
        If ``layer`` is neither a letter nor a positive integer.

    Examples
    --------
    >>> delta_recursion(layer="l")  # doctest: +ELLIPSIS
    Diagram("The delta recursion: forward, a^(l-1) to z^(l) ...")
    """
    layer = _check_layer(layer)
    l0, l1, lm = _sup(layer), _sup(layer, 1), _sup(layer, -1)
    T = r"^{\mathsf{T}}"
    if batch:
        a_prev, z, a, z_next = (f"A^{{({lm})}}", f"Z^{{({l0})}}", f"A^{{({l0})}}",
                                f"Z^{{({l1})}}")
        d, d_next = rf"\boldsymbol{{\delta}}^{{({l0})}}", rf"\boldsymbol{{\delta}}^{{({l1})}}"
        forward_1 = rf"{a_prev}(W^{{({l0})}}){T} + \mathbf{{1}}(b^{{({l0})}}){T}"
        forward_2 = rf"{a}(W^{{({l1})}}){T} + \mathbf{{1}}(b^{{({l1})}}){T}"
        back_1 = rf"{d_next} W^{{({l1})}}"
        grad_w = rf"\partial E/\partial W^{{({l0})}} = ({d}){T} A^{{({lm})}}"
        grad_b = rf"\partial E/\partial b^{{({l0})}} = ({d}){T}\mathbf{{1}}"
        shape = {name: f"m \\times n_{{{sub}}}" for name, sub in
                 (("a_prev", lm), ("z", l0), ("a", l0), ("z_next", l1))}
    else:
        a_prev, z, a, z_next = (f"a^{{({lm})}}", f"z^{{({l0})}}", f"a^{{({l0})}}",
                                f"z^{{({l1})}}")
        d, d_next = rf"\delta^{{({l0})}}", rf"\delta^{{({l1})}}"
        forward_1 = rf"W^{{({l0})}} {a_prev} + b^{{({l0})}}"
        forward_2 = rf"W^{{({l1})}} {a} + b^{{({l1})}}"
        back_1 = rf"(W^{{({l1})}}){T} {d_next}"
        grad_w = rf"\partial E/\partial W^{{({l0})}} = {d}\,({a_prev}){T}"
        grad_b = rf"\partial E/\partial b^{{({l0})}} = {d}"
        shape = {name: f"n_{{{sub}}}" for name, sub in
                 (("a_prev", lm), ("z", l0), ("a", l0), ("z_next", l1))}
    back_2 = rf"\odot\, g'({z})"

    with _style():
        width, height = 6.5, 4.3
        fig, ax = _canvas(width, height)
        xs = [0.8, 2.3, 3.8, 5.3]
        y_top, y_bottom = 3.2, 1.6
        bw, bh = 0.92, 0.5
        top_names = [a_prev, z, a, z_next]
        bottom_names = [rf"\partial E/\partial {a_prev}", d, rf"\partial E/\partial {a}", d_next]
        keys = ["a_prev", "z", "a", "z_next"]
        top_boxes, bottom_boxes = [], []
        for x, name, key in zip(xs, top_names, keys, strict=True):
            top_boxes.append(_box(ax, (x, y_top), f"${name}$", width=bw, height=bh,
                                  fill=NODE_FILL, edge=FORWARD, color=FORWARD, fontsize=15,
                                  gid=f"forward-{key}"))
        for x, name, key in zip(xs, bottom_names, keys, strict=True):
            wide = name.startswith(r"\partial")
            bottom_boxes.append(_box(
                ax, (x, y_bottom), f"${name}$", width=1.3 if wide else bw, height=bh,
                fill="#fbe9df", edge=BACKWARD, color=BACKWARD, fontsize=14 if wide else 15,
                gid=f"backward-{key}"))
        if shapes:
            # Shapes between the rows: under the forward boxes, over the backward ones (a
            # gradient has the shape of what it is the gradient for).
            for x, key in zip(xs, keys, strict=True):
                ax.text(x, y_top - bh / 2 - 0.06, f"${shape[key]}$", ha="center", va="top",
                        fontsize=12, color="#555555", gid=f"shape-forward-{key}")
                ax.text(x, y_bottom + bh / 2 + 0.06, f"${shape[key]}$", ha="center",
                        va="bottom", fontsize=12, color="#555555", gid=f"shape-backward-{key}")
        # Forward arrows, each with its operation just above it.
        for i, text in enumerate([forward_1, f"g({z})", forward_2]):
            _arrow(ax, (xs[i], y_top), (xs[i + 1], y_top), patch_a=top_boxes[i],
                   patch_b=top_boxes[i + 1], color=FORWARD, lw=1.6)
            ax.text((xs[i] + xs[i + 1]) / 2, y_top + bh / 2 + 0.04, f"${text}$",
                    ha="center", va="bottom", fontsize=12 if batch and i != 1 else 13,
                    color=FORWARD, gid=f"forward-op-{i}")
        x_end = width - 0.25
        _arrow(ax, (xs[3], y_top), (x_end - 0.3, y_top), patch_a=top_boxes[3], color=FORWARD,
               lw=1.6, linestyle=(0, (4, 3)))
        ax.text(x_end - 0.05, y_top, "$E$", ha="right", va="center", fontsize=16,
                color=FORWARD, gid="loss")
        # From the loss back to delta^(l+1), through the layers above (dashed).
        _arrow(ax, (x_end - 0.2, y_top - 0.22), (xs[3], y_bottom), patch_b=bottom_boxes[3],
               color=BACKWARD, lw=1.6, linestyle=(0, (4, 3)), connection="arc3,rad=-0.25")
        ax.text(x_end - 0.1, (y_top + y_bottom) / 2 - 0.1, r"$\cdots$", ha="right",
                va="center", fontsize=14, color=BACKWARD)
        # Backward arrows, each with its operation just under it.
        for i, text in ((2, back_1), (1, back_2)):
            _arrow(ax, (xs[i + 1], y_bottom), (xs[i], y_bottom), patch_a=bottom_boxes[i + 1],
                   patch_b=bottom_boxes[i], color=BACKWARD, lw=1.8)
            ax.text((xs[i] + xs[i + 1]) / 2, y_bottom - bh / 2 - 0.06, f"${text}$",
                    ha="center", va="top", fontsize=13, color=BACKWARD,
                    gid=f"backward-op-{i}")
        # The recursion goes on to the layer below (dashed, in lighter type).
        _arrow(ax, (xs[1], y_bottom), (xs[0], y_bottom), patch_a=bottom_boxes[1],
               patch_b=bottom_boxes[0], color=BACKWARD, lw=1.2, linestyle=(0, (4, 3)))
        # What the backward pass reads from the forward pass: g'(z^(l)) is computed from
        # the stored activation a^(l) (for the sigmoid, a(1 - a)), as the package does.
        _arrow(ax, (xs[2] - 0.15, y_top - bh / 2 - 0.28),
               ((xs[1] + xs[2]) / 2, y_bottom - bh / 2 - 0.1), color="#777777", lw=1.0,
               linestyle=(0, (1.5, 2)), zorder=5)
        ax.text(xs[2] + 0.05, (y_top + y_bottom) / 2 + 0.05,
                f"from ${a}$, kept by\nthe forward pass", ha="left", va="center", fontsize=12,
                color="#555555")
        # The parameter gradients hang under delta^(l).
        y_grad = 0.35
        _arrow(ax, (xs[1], y_bottom - bh / 2), (xs[1], y_grad + 0.17), color=BACKWARD, lw=1.4)
        ax.text(xs[1] - 0.55, y_grad, f"${grad_w}$,   ${grad_b}$", ha="left", va="center",
                fontsize=13, color=BACKWARD, gid="parameter-gradients")
        ax.text(0.12, height - 0.1, "forward pass", ha="left", va="top", fontsize=12,
                color=FORWARD, fontweight="bold")
        ax.text(0.12, y_bottom - bh / 2 - 0.55, "backward pass", ha="left", va="top",
                fontsize=12, color=BACKWARD, fontweight="bold")
    if batch:
        description = (
            f"The delta recursion for a minibatch: forward, A^({lm}) to Z^({l0}) to A^({l0}) to "
            f"Z^({l1}) and on to the loss E; backward, the delta matrix of layer {l1} times "
            f"W^({l1}) gives dE/dA^({l0}), and the elementwise product with g'(Z^({l0})) gives "
            f"the delta matrix of layer {l0}, from which dE/dW^({l0}) = (delta^({l0}))^T A^({lm})."
        )
    else:
        description = (
            f"The delta recursion: forward, a^({lm}) to z^({l0}) to a^({l0}) to z^({l1}) and on "
            f"to the loss E; backward, each quantity under the one it is the gradient for: "
            f"delta^({l1}) times the transpose of W^({l1}) gives dE/da^({l0}), and the "
            f"elementwise product with g'(z^({l0})) gives delta^({l0}), from which "
            f"dE/dW^({l0}) = delta^({l0}) (a^({lm}))^T and dE/db^({l0}) = delta^({l0})."
        )
    return Diagram(fig, description)


# --- loss surfaces ----------------------------------------------------------------------------


Loss2D = Callable[[NDArray[np.float64]], Any]


def _evaluate(loss: Loss2D, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """``loss`` at each row of ``points`` (shape (k, 2)), batched if the function allows.

    A function of one point ``θ`` of shape (2,) is called once per point; one that takes
    a batch of rows (like :class:`bpbook.evolution.NetworkObjective`) is called once,
    after checking on three points that it gives the same values as one at a time.
    """
    def one(theta: NDArray[np.float64]) -> float:
        value = np.asarray(loss(theta), dtype=np.float64)
        if value.size != 1:
            raise ValueError(
                f"loss must return one number for a point of shape (2,), got shape {value.shape}"
            )
        return float(value.reshape(()))

    try:
        batched = np.asarray(loss(points), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a function of one point may fail on a batch in any way
        batched = None
    if batched is not None and batched.shape in ((len(points),), (len(points), 1)):
        batched = batched.reshape(-1)
        probe = np.linspace(0, len(points) - 1, 3).astype(int)
        if np.allclose([one(points[i]) for i in probe], batched[probe], rtol=1e-9, atol=1e-12,
                       equal_nan=True):
            values = batched
        else:
            values = np.array([one(p) for p in points])
    else:
        values = np.array([one(p) for p in points])
    return values


def _check_loss(loss: object) -> Loss2D:
    if not callable(loss):
        raise TypeError(f"loss must be a callable θ -> E(θ), got {type(loss).__name__}")
    return loss


def _check_bounds(bounds: object) -> tuple[float, float, float, float]:
    if not isinstance(bounds, Sequence) or len(bounds) != 4:
        raise ValueError(f"bounds must be (x_min, x_max, y_min, y_max), got {bounds!r}")
    values = []
    for value in bounds:
        if not is_real(value) or not math.isfinite(value):
            raise ValueError(f"bounds must hold four finite numbers, got {bounds!r}")
        values.append(float(value))
    if not (values[0] < values[1] and values[2] < values[3]):
        raise ValueError(f"bounds must have x_min < x_max and y_min < y_max, got {bounds!r}")
    return values[0], values[1], values[2], values[3]


def _window(points: NDArray[np.float64], margin: float = 0.2) -> tuple[float, float, float, float]:
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-3 * np.maximum(1.0, np.abs(high).max()))
    # Square-ish window: the same scale on both axes keeps gradients at right angles
    # to the contour lines.
    span = np.full(2, span.max())
    centre = (low + high) / 2
    half = span * (0.5 + margin)
    return (centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1])


def _contours(
    ax: Axes,
    loss: Loss2D,
    bounds: tuple[float, float, float, float],
    levels: int | Sequence[float],
    resolution: int,
) -> NDArray[np.float64]:
    gx, gy = np.meshgrid(np.linspace(bounds[0], bounds[1], resolution),
                         np.linspace(bounds[2], bounds[3], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    values = _evaluate(loss, grid).reshape(gx.shape)
    check_finite(values, "loss over the window")
    if is_integer(levels):
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        low, high = float(values.min()), float(values.max())
        # Levels crowd toward the minimum, like the contours of a bowl in equal steps of
        # distance from its bottom.
        fractions = np.linspace(0.0, 1.0, int(levels) + 2)[1:-1] ** 2
        level_values = low + (high - low) * fractions
    else:
        level_values = np.unique(as_float_array(levels, "levels", ndim=1))
        if len(level_values) < 1:
            raise ValueError("levels must hold at least one value")
    # The top fifth of the colour map (pale yellow) is left out: it fades into white.
    low, high = float(values.min()), float(values.max())
    ax.contour(gx, gy, values, levels=level_values, cmap=SEQUENTIAL_CMAP, linewidths=1.0,
               vmin=low, vmax=high + 0.25 * (high - low))
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal")
    return values


def _path_points(path: object, name: str) -> NDArray[np.float64]:
    # A DescentPath or anything else with .points, or the points themselves; whatever it
    # is, as_float_array refuses it unless it is an array of numbers.
    points = cast("ArrayLike", getattr(path, "points", path))
    array = as_float_array(points, name, ndim=2)
    if array.shape[1] != 2 or len(array) < 1:
        raise ValueError(f"{name} must hold points of shape (k, 2) with k >= 1, got {array.shape}")
    check_finite(array, name)
    return array


_PATH_COLOURS = [COLORS[key] for key in ("gd", "momentum", "adam", "sgd", "hill_climber")]
_PATH_NAMES = {"gd": "gradient descent", "sgd": "SGD", "adam": "Adam", "es": "ES",
               "cma_es": "CMA-ES", "ga": "genetic algorithm", "hill_climber": "hill climber"}


def _label_beside(
    ax: Axes, point: NDArray[np.float64], away: NDArray[np.float64], text: str, color: str,
    distance: float = 11.0, fontsize: float = 14,
) -> None:
    """Put ``text`` next to ``point``, ``distance`` points off in the direction ``away``."""
    norm = float(np.hypot(*away))
    ux, uy = (away / norm) if norm > 0 else (0.7071, 0.7071)
    ax.annotate(
        text, tuple(point), xytext=(distance * ux, distance * uy), textcoords="offset points",
        ha="left" if ux > 0.3 else ("right" if ux < -0.3 else "center"),
        va="bottom" if uy > 0.3 else ("top" if uy < -0.3 else "center"),
        fontsize=fontsize, color=color, zorder=6,
        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85},
    )


def descent_path(
    loss: Loss2D,
    path: Any,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    levels: int | Sequence[float] = 12,
    minimum: ArrayLike | None = None,
    axis_labels: tuple[str, str] = ("first coordinate of $\\theta$",
                                    "second coordinate of $\\theta$"),
    resolution: int = 160,
) -> Diagram:
    """Contour lines of a loss of two parameters, with gradient-descent paths ``θ_t`` over them.

    Parameters
    ----------
    loss : callable
        ``loss(θ)`` for ``θ`` of shape (2,), returning ``E(θ)``; a function that takes a
        batch of rows, shape (k, 2), and returns k values also works (and is faster).
    path : Trajectory, array_like of shape (t + 1, 2), or mapping of name to one of those
        The iterates ``θ_0, θ_1, …`` (a :class:`bpbook.optim.Trajectory` has them in
        ``.points``). A mapping draws several paths with a legend; a name that is a key
        of :data:`bpbook.plotting.COLORS` (``"gd"``, ``"momentum"``, ``"adam"``, …) gets
        its colour.
    bounds : (x_min, x_max, y_min, y_max), optional
        The window; default: a square around the paths (and ``minimum``) with a margin.
    levels : int or sequence of float
        Number of contour lines (crowded toward the minimum), or their values.
    minimum : array_like, shape (2,), optional
        Where the minimum is; marked with a star.
    axis_labels : (str, str)
        Labels of the two axes.
    resolution : int, 20 to 400
        Grid points per axis at which ``loss`` is evaluated.

    Returns
    -------
    Diagram

    Raises
    ------
    TypeError
        If ``loss`` is not callable.
    ValueError
        If a path is not of shape (k, 2) or holds NaN or infinity, ``bounds`` is not a
        window, ``levels`` is below 2, or ``loss`` does not return one finite number per
        point.

    Examples
    --------
    >>> from bpbook.optim import minimize
    >>> E = lambda t: 0.5 * (t[..., 0] ** 2 + 10 * t[..., 1] ** 2)
    >>> grad = lambda t: np.array([t[0], 10 * t[1]])
    >>> run = minimize(E, grad, np.array([-2.0, 1.0]), learning_rate=0.15, steps=20)
    >>> descent_path(E, run, minimum=[0.0, 0.0])  # doctest: +ELLIPSIS
    Diagram('Contour lines of a loss ...')
    """
    loss = _check_loss(loss)
    resolution = _check_count(resolution, "resolution", 20, 400)
    if isinstance(path, Mapping):
        if not path:
            raise ValueError("path is an empty mapping; give at least one path")
        named = {str(name): _path_points(p, f"path[{name!r}]") for name, p in path.items()}
    else:
        named = {"": _path_points(path, "path")}
    if minimum is not None:
        minimum = as_float_array(minimum, "minimum", ndim=1)
        if minimum.shape != (2,):
            raise ValueError(f"minimum must have shape (2,), got {minimum.shape}")
    if bounds is None:
        everything = np.vstack(list(named.values()) + ([minimum[None]] if minimum is not None
                                                        else []))
        bounds = _window(everything)
    else:
        bounds = _check_bounds(bounds)
    with _style():
        fig = Figure(figsize=(5.4, 4.6), layout="constrained")
        ax = fig.add_subplot()
        _contours(ax, loss, bounds, levels, resolution)
        starts: list[NDArray[np.float64]] = []
        for i, (name, points) in enumerate(named.items()):
            color = COLORS.get(name, _PATH_COLOURS[i % len(_PATH_COLOURS)])
            line, = ax.plot(points[:, 0], points[:, 1], "o-", ms=4, lw=1.6, color=color,
                            label=_PATH_NAMES.get(name, name) or None, zorder=3)
            line.set_gid(f"path-{i}")
            if len(points) > 1:
                # Each label sits on the side away from the path's first or last step.
                if not any(np.array_equal(points[0], other[0]) for other in starts):
                    _label_beside(ax, points[0], points[0] - points[1], r"$\theta_0$", color)
                _label_beside(ax, points[-1], points[-1] - points[-2],
                              rf"$\theta_{{{len(points) - 1}}}$", color)
            else:
                _label_beside(ax, points[0], np.array([1.0, 1.0]), r"$\theta_0$", color)
            starts.append(points[0])
        if minimum is not None:
            ax.plot(*minimum, marker="*", ms=14, color="black", ls="none", zorder=4,
                    label="minimum" if len(named) > 1 or named.get("") is None else None)
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
        if any(named):
            ax.legend(loc="best", framealpha=0.9)
    counts = ", ".join(f"{len(p) - 1} steps" + (f" of {n}" if n else "")
                       for n, p in named.items())
    description = (
        f"Contour lines of a loss of two parameters, with the gradient-descent path"
        f"{'s' if len(named) > 1 else ''} theta_0, theta_1, ... drawn over them ({counts})"
        + (", and the minimum marked by a star." if minimum is not None else ".")
    )
    return Diagram(fig, description)


def es_probes(
    loss: Loss2D,
    theta: ArrayLike,
    sigma: float,
    *,
    n_probes: int = 20,
    seed: int = 0,
    epsilons: ArrayLike | None = None,
    estimate: ArrayLike | None = None,
    gradient: Callable[[NDArray[np.float64]], ArrayLike] | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    levels: int | Sequence[float] = 12,
    axis_labels: tuple[str, str] = ("first coordinate of $\\theta$",
                                    "second coordinate of $\\theta$"),
    resolution: int = 160,
) -> Diagram:
    """One step of an evolution strategy on a loss of two parameters.

    The ``M`` probes ``θ + σ ε_r`` are drawn around ``θ`` over the contour lines of
    ``E``, coloured by their loss ``E(θ + σ ε_r)``; two arrows from ``θ`` compare the
    step direction of the estimate, ``−\\widehat{∇E_σ}``, with the true ``−∇E(θ)``, drawn
    to the same scale. A dashed circle of radius ``σ`` shows the probe scale.

    Parameters
    ----------
    loss : callable
        ``loss(θ)`` for ``θ`` of shape (2,) (or a batch of rows, shape (k, 2)).
    theta : array_like, shape (2,)
        The current point ``θ``.
    sigma : float, > 0
        The probe scale ``σ``.
    n_probes : int, >= 2
        ``M``, the number of probes, when ``epsilons`` is not given.
    seed : int
        Seed of the directions ``ε_r ~ N(0, I_2)`` when ``epsilons`` is not given.
    epsilons : array_like, shape (M, 2), optional
        The probe directions, to draw exactly the probes a chapter used.
    estimate : array_like, shape (2,), optional
        ``\\widehat{∇E_σ}`` as the chapter's strategy computed it. Default: the plain
        estimate ``(1/(Mσ)) Σ_r E(θ + σ ε_r) ε_r``
        (:func:`bpbook.evolution.es_gradient` applied to the losses).
    gradient : callable, optional
        ``gradient(θ)`` returning ``∇E(θ)``, shape (2,). Default: central differences
        of ``loss`` with step ``h = 1e-6 · max(1, ‖θ‖)``.
    bounds, levels, axis_labels, resolution
        As for :func:`descent_path`; the default window is a square of half-width
        ``3.5 σ`` around ``θ``, grown to hold every probe.

    Returns
    -------
    Diagram

    Raises
    ------
    TypeError
        If ``loss`` or ``gradient`` is not callable.
    ValueError
        If ``theta`` or ``estimate`` is not of shape (2,), ``sigma`` is not positive,
        ``epsilons`` is not of shape (M, 2) with M >= 2, or ``loss`` returns something
        other than finite numbers.

    Examples
    --------
    >>> E = lambda t: 0.5 * (t[..., 0] ** 2 + 4 * t[..., 1] ** 2)
    >>> es_probes(E, [1.5, 1.0], sigma=0.3, n_probes=16)  # doctest: +ELLIPSIS
    Diagram('Evolution-strategy probes: 16 points ...')
    """
    from bpbook.evolution import es_gradient

    loss = _check_loss(loss)
    theta = as_float_array(theta, "theta", ndim=1)
    if theta.shape != (2,):
        raise ValueError(f"theta must have shape (2,), got {theta.shape}")
    check_finite(theta, "theta")
    sigma = check_positive(sigma, "sigma")
    resolution = _check_count(resolution, "resolution", 20, 400)
    if epsilons is None:
        n_probes = _check_count(n_probes, "n_probes", 2, 10_000)
        epsilons = np.random.default_rng(seed).standard_normal((n_probes, 2))
    else:
        epsilons = as_float_array(epsilons, "epsilons", ndim=2)
        if epsilons.shape[1] != 2 or len(epsilons) < 2:
            raise ValueError(f"epsilons must have shape (M, 2) with M >= 2, got {epsilons.shape}")
        check_finite(epsilons, "epsilons")
    probes = theta + sigma * epsilons
    losses = _evaluate(loss, probes)
    check_finite(losses, "loss at the probes")
    if estimate is None:
        estimate = es_gradient(losses, epsilons, sigma)
    else:
        estimate = as_float_array(estimate, "estimate", ndim=1)
        if estimate.shape != (2,):
            raise ValueError(f"estimate must have shape (2,), got {estimate.shape}")
        check_finite(estimate, "estimate")
    if gradient is None:
        h = 1e-6 * max(1.0, float(np.linalg.norm(theta)))
        true = np.array([(_evaluate(loss, np.array([theta + h * e]))[0]
                          - _evaluate(loss, np.array([theta - h * e]))[0]) / (2 * h)
                         for e in np.eye(2)])
    else:
        if not callable(gradient):
            raise TypeError(f"gradient must be callable, got {type(gradient).__name__}")
        true = as_float_array(np.asarray(gradient(theta), dtype=np.float64), "gradient(theta)",
                              ndim=1)
        if true.shape != (2,):
            raise ValueError(f"gradient(theta) must have shape (2,), got {true.shape}")
    check_finite(true, "gradient(theta)")
    if bounds is None:
        half = max(3.5 * sigma, float(np.abs(probes - theta).max()) * 1.15)
        bounds = (theta[0] - half, theta[0] + half, theta[1] - half, theta[1] + half)
    else:
        bounds = _check_bounds(bounds)
    # Both arrows to one scale: the longer one spans 40% of the window's half-width.
    half_width = min(bounds[1] - bounds[0], bounds[3] - bounds[2]) / 2
    longest = max(float(np.linalg.norm(estimate)), float(np.linalg.norm(true)), 1e-300)
    scale = 0.8 * half_width / longest

    with _style():
        fig = Figure(figsize=(5.6, 4.6), layout="constrained")
        ax = fig.add_subplot()
        _contours(ax, loss, bounds, levels, resolution)
        ax.add_patch(Circle(tuple(theta), sigma, fc="none", ec="#555555", lw=1.0,
                            linestyle=(0, (4, 3)), zorder=2))
        ax.annotate(r"$\sigma$", (theta[0] + sigma * 0.71, theta[1] + sigma * 0.71),
                    xytext=(3, 3), textcoords="offset points", fontsize=13, color="#555555")
        cloud = ax.scatter(probes[:, 0], probes[:, 1], c=losses, cmap=SEQUENTIAL_CMAP, s=38,
                           edgecolors="black", linewidths=0.6, zorder=3,
                           label=r"probes $\theta + \sigma\varepsilon_r$")
        cloud.set_gid("probes")
        colorbar = fig.colorbar(cloud, ax=ax, shrink=0.85)
        colorbar.set_label(r"$E(\theta + \sigma\varepsilon_r)$")
        for vector, color, text, gid in (
            (-true, INK, r"$-\nabla E(\theta)$", "true-gradient"),
            (-estimate, COLORS["es"], r"$-\widehat{\nabla E_\sigma}$", "es-estimate"),
        ):
            tip = theta + scale * vector
            arrow = FancyArrowPatch(tuple(theta), tuple(tip), arrowstyle="-|>",
                                    mutation_scale=18, color=color, lw=2.4, zorder=5)
            arrow.set_gid(gid)
            ax.add_patch(arrow)
            _label_beside(ax, tip, vector, text, color, distance=6.0)
        ax.plot(*theta, "o", ms=7, color="black", zorder=6)
        _label_beside(ax, theta, true + estimate / max(float(np.linalg.norm(estimate)), 1e-300)
                      * float(np.linalg.norm(true)), r"$\theta$", "black", distance=9.0)
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
    cosine = float(estimate @ true / (np.linalg.norm(estimate) * np.linalg.norm(true) or 1.0))
    description = (
        f"Evolution-strategy probes: {len(probes)} points theta + sigma epsilon_r scattered "
        f"around theta (sigma = {sigma:g}) over the contour lines of the loss, coloured by "
        f"their loss; two arrows from theta compare the step direction of the ES estimate "
        f"with the negative true gradient (cosine {cosine:.2f})."
    )
    return Diagram(fig, description)
