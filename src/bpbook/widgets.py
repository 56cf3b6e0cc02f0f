"""Interactive experiments that work with a Python kernel and on the static website.

A plain ``ipywidgets.interact`` slider runs its callback in the kernel. The published book
has no kernel: its pages only carry the widget *state* saved at build time, so such a
slider moves and nothing happens. :func:`explorer` therefore has two modes that look the
same to the chapter:

``"live"``
    The slider's callback calls ``render(value)`` whenever the slider moves (JupyterLab,
    Binder, Colab).
``"static"``
    Every frame is drawn once, up front, into an ``ipywidgets.Stack`` with one image per
    value; the Stack's ``selected_index`` is linked to the slider's ``index`` *in the
    browser* with ``ipywidgets.jslink``, so moving the slider flips frames with no kernel.

``mode="auto"`` picks ``"static"`` when the environment variable
``BPBOOK_STATIC_WIDGETS`` is ``"1"`` (``tools/build_book.py`` sets it for the book
build) and ``"live"`` otherwise.

Each frame is a PNG inside an ``ipywidgets.HTML`` widget (``<img src="data:...">``):
plain JSON state that any widget manager renders, with no binary buffers. Precomputed
frames are the page's weight, so :func:`state_size` measures the embedded state, and a
static explorer heavier than :data:`MAX_STATE_BYTES` is refused with advice on what to
shrink.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import ipywidgets
import ipywidgets.embed
import matplotlib.pyplot as plt
from ipywidgets.widgets.widget_link import Link
from matplotlib.figure import Figure

from bpbook._checks import is_real

__all__ = [
    "ENV_VAR",
    "MAX_STATE_BYTES",
    "MODES",
    "Explorer",
    "explorer",
    "resolve_mode",
    "state_size",
]

#: Environment variable that switches ``mode="auto"`` to precomputed frames.
ENV_VAR = "BPBOOK_STATIC_WIDGETS"

#: The largest embedded state (bytes) a static explorer may have: the page weight budget.
MAX_STATE_BYTES = 1_500_000

MODES = ("auto", "static", "live")


class Explorer(ipywidgets.VBox):
    """The widget returned by :func:`explorer`: a slider above the current frame.

    Attributes
    ----------
    slider : ipywidgets.SelectionSlider
        One option per value; its ``index`` selects the frame.
    frames : ipywidgets.Stack or ipywidgets.HTML
        Static mode: a Stack of one ``HTML`` image per value. Live mode: one ``HTML``
        image, redrawn on every slider change.
    link : ipywidgets.widgets.widget_link.Link or None
        Static mode: the browser-side link ``slider.index → frames.selected_index``.
    mode : {"static", "live"}
        The mode actually used (``"auto"`` resolved).
    """

    def __init__(
        self,
        slider: ipywidgets.SelectionSlider,
        frames: ipywidgets.Widget,
        link: Link | None,
        mode: str,
    ) -> None:
        super().__init__(children=[slider, frames])
        self.slider = slider
        self.frames = frames
        self.link = link
        self.mode = mode


def explorer(
    render: Callable[[Any], Figure],
    values: Sequence[Any],
    description: str = "η",
    labels: Sequence[str] | None = None,
    initial: Any = None,
    mode: str = "auto",
    *,
    dpi: float = 80,
    alt: str | None = None,
) -> Explorer:
    """A slider over ``values`` that shows the figure ``render(value)`` for the chosen one.

    Parameters
    ----------
    render : callable
        ``render(value)`` draws one frame and returns its ``matplotlib.figure.Figure``.
        The explorer saves it as PNG and closes it, so frames never pile up as open
        figures or get displayed a second time by the notebook.
    values : sequence, length n >= 1
        The grid of parameter values, in slider order: numbers or any objects that
        compare with ``==`` (a slider's value is looked up by equality).
    description : str
        Text to the left of the slider, e.g. ``"η"``.
    labels : sequence of str, length n, optional
        What the slider shows for each value; default: numbers to 4 significant digits,
        other objects as ``str(value)``. Labels must be distinct.
    initial : object, optional
        The value selected at first (one of ``values``); default ``values[0]``.
    mode : {"auto", "static", "live"}
        ``"static"`` precomputes all n frames (works without a kernel); ``"live"``
        renders on demand; ``"auto"`` is ``"static"`` if the environment variable
        ``BPBOOK_STATIC_WIDGETS`` is ``"1"``, else ``"live"``.
    dpi : float, keyword-only
        Resolution of the PNG frames. A line plot of 6 × 3.5 inches at dpi 80 takes
        20–40 kB per frame, so about 20 frames fit the page budget comfortably;
        :func:`state_size` tells the exact weight.
    alt : str, optional, keyword-only
        Alt text of the frames for screen readers: what a frame shows, e.g. ``"Loss
        against step for gradient descent at the learning rate on the slider."``. Each
        frame's ``<img alt=...>`` is this text followed by the slider setting it shows
        (``"… (η = 0.5)"``). Default: the slider setting alone, which says nothing
        about the picture, so chapters should pass ``alt``.

    Returns
    -------
    Explorer
        A ``VBox`` (slider above frame); display it as the last expression of a cell.

    Raises
    ------
    TypeError
        If ``render`` is not callable or returns something other than a ``Figure``, or
        ``description`` / a label / ``alt`` is not a string.
    ValueError
        If ``values`` is empty, ``labels`` has the wrong length or repeats a label, ``alt``
        is blank, ``initial`` is not among ``values``, ``mode`` is unknown, or the static
        frames exceed :data:`MAX_STATE_BYTES`.

    Examples
    --------
    >>> import numpy as np
    >>> def render(eta):
    ...     fig, ax = plt.subplots(figsize=(3, 2))
    ...     ax.plot(np.arange(10), (1 - eta) ** np.arange(10))
    ...     return fig
    >>> w = explorer(render, [0.1, 0.5, 1.5], description="η", mode="static")
    >>> len(w.frames.children), w.slider.label
    (3, '0.1')
    """
    if not callable(render):
        raise TypeError(f"render must be a callable value -> Figure, got {type(render).__name__}")
    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}")
    values = _check_values(values)
    labels = _check_labels(labels, values)
    index = _initial_index(initial, values)
    mode = resolve_mode(mode)
    dpi = _check_dpi(dpi)
    alt = _check_alt(alt)

    slider = ipywidgets.SelectionSlider(
        options=list(zip(labels, values, strict=True)),
        index=index,
        description=description,
        # Static frames switch instantly, so follow the drag; live frames are drawn by
        # the kernel, so redraw only where the slider is released.
        continuous_update=(mode == "static"),
        style={"description_width": "initial"},
        layout=ipywidgets.Layout(width="min(100%, 560px)"),
    )

    def frame_html(i: int) -> str:
        setting = f"{description} = {labels[i]}"
        text = f"{alt} ({setting})" if alt else setting
        return _figure_html(_rendered(render, values[i]), text, dpi)

    if mode == "live":
        frame = ipywidgets.HTML(frame_html(index))

        def redraw(change: dict[str, Any]) -> None:
            frame.value = frame_html(change["new"])

        slider.observe(redraw, names="index")
        return Explorer(slider, frame, None, mode)

    stack = ipywidgets.Stack(
        children=[ipywidgets.HTML(frame_html(i)) for i in range(len(values))],
        selected_index=index,
    )
    link = ipywidgets.jslink((slider, "index"), (stack, "selected_index"))
    widget = Explorer(slider, stack, link, mode)
    size = state_size(widget)
    if size > MAX_STATE_BYTES:
        raise ValueError(
            f"the {len(values)} precomputed frames weigh {size / 1e6:.2f} MB of widget state, "
            f"more than the {MAX_STATE_BYTES / 1e6:.1f} MB allowed per widget; "
            "use fewer values, a smaller figure, or a lower dpi"
        )
    return widget


def state_size(widget: ipywidgets.Widget) -> int:
    """Bytes of widget state embedded in a page for ``widget`` and everything it uses.

    Counts the JSON state of the widget, of all widgets it refers to (children, layouts,
    styles), and of the ``jslink`` links between them, as ``ipywidgets.embed`` writes it.

    Parameters
    ----------
    widget : ipywidgets.Widget

    Returns
    -------
    int
        Size in bytes of the UTF-8 encoded JSON.

    Raises
    ------
    TypeError
        If ``widget`` is not an ipywidgets widget.

    Examples
    --------
    >>> state_size(ipywidgets.HTML("hello")) < 2000
    True
    """
    if not isinstance(widget, ipywidgets.Widget):
        raise TypeError(f"widget must be an ipywidgets.Widget, got {type(widget).__name__}")
    state = ipywidgets.embed.dependency_state(widget, drop_defaults=True)
    data = ipywidgets.embed.embed_data(views=[widget], drop_defaults=True, state=state)
    return len(json.dumps(data["manager_state"]).encode("utf-8"))


def resolve_mode(mode: str) -> str:
    """``"static"`` or ``"live"``: ``mode`` itself, or for ``"auto"`` what the environment says."""
    if mode not in MODES:
        known = ", ".join(repr(m) for m in MODES)
        raise ValueError(f"unknown mode {mode!r}; known modes: {known}")
    if mode == "auto":
        return "static" if os.environ.get(ENV_VAR) == "1" else "live"
    return mode


def _check_values(values: Sequence[Any]) -> list[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(
            f"values must be a sequence of parameter values, got {type(values).__name__}"
        )
    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one parameter value to explore")
    return values


def _compact(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    return f"{float(value):.4g}"


def _check_labels(labels: Sequence[str] | None, values: list[Any]) -> list[str]:
    if labels is None:
        labels = [_compact(v) for v in values]
        hint = "; pass labels= to tell them apart"
    else:
        labels = list(labels)
        if len(labels) != len(values):
            raise ValueError(
                f"labels has {len(labels)} entries but values has {len(values)}; "
                "give one label per value"
            )
        for i, label in enumerate(labels):
            if not isinstance(label, str):
                raise TypeError(f"labels[{i}] must be a string, got {type(label).__name__}")
        hint = ""
    if len(set(labels)) != len(labels):
        repeated = next(label for label in labels if labels.count(label) > 1)
        raise ValueError(f"the slider label {repeated!r} appears more than once{hint}")
    return labels


def _initial_index(initial: Any, values: list[Any]) -> int:
    if initial is None:
        return 0
    for i, value in enumerate(values):
        if value is initial or value == initial:
            return i
    raise ValueError(f"initial={initial!r} is not one of the values")


def _check_alt(alt: str | None) -> str | None:
    if alt is None:
        return None
    if not isinstance(alt, str):
        raise TypeError(f"alt must be a string or None, got {type(alt).__name__}")
    if not alt.strip():
        raise ValueError("alt must describe the frames; got a blank string")
    return alt.strip()


def _check_dpi(dpi: float) -> float:
    if not is_real(dpi) or not 10 <= dpi <= 600:
        raise ValueError(f"dpi must be a number between 10 and 600, got {dpi!r}")
    return float(dpi)


def _rendered(render: Callable[[Any], Figure], value: Any) -> Figure:
    figure = render(value)
    if not isinstance(figure, Figure):
        raise TypeError(
            f"render({value!r}) returned {type(figure).__name__}; it must return the "
            "matplotlib Figure it drew on (e.g. fig, ax = plt.subplots(); ...; return fig)"
        )
    return figure


def _figure_html(figure: Figure, alt: str, dpi: float) -> str:
    """The figure as an inline PNG ``<img>``; the figure is closed afterwards."""
    buffer = io.BytesIO()
    try:
        # No metadata: the PNG bytes then depend only on the pixels, so two builds match.
        # Opaque white paper, whatever the figure's style: the frame must read in the
        # website's dark mode. (The figure is closed below, so changing it is harmless.)
        figure.patch.set_alpha(1.0)
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                       facecolor="white", transparent=False)
    finally:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{encoded}" alt="{_escape(alt)}" '
        'style="max-width:100%;height:auto">'
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
