"""Tests of bpbook.diagrams: what the SVG says, not how it looks.

The drawings are checked through their structure: the labels each one must show (in the
Notation page's symbols), the shapes it annotates, and, for computational graphs, that
every number printed on the graph is the engine's. Text in the SVG is drawn as outlines,
and matplotlib writes each string as a comment inside a group whose id the diagram sets,
so ``<g id="node-3-grad"> <!-- 0.501 -->`` reads as "node 3's gradient is 0.501".
"""

from __future__ import annotations

import base64
import doctest
import html
import io
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text
from myst_nb.core.render import get_mime_priority
from PIL import Image

from bpbook import diagrams
from bpbook.autodiff import Value, topological_order
from bpbook.evolution import es_gradient
from bpbook.optim import minimize

MINUS = "\N{MINUS SIGN}"


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """Diagrams must not register figures with pyplot (a notebook would show them twice)."""
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def texts(diagram: diagrams.Diagram) -> dict[str, str]:
    """Every labelled string of the SVG, by the id of its group."""
    svg = diagram.to_svg()
    return {gid: html.unescape(text)
            for gid, text in re.findall(
                r'<g id="([^"]+)">\s*(?:<g id="patch_\d+">(?:(?!<!--).)*?</g>\s*)?<!-- (.*?) -->',
                svg, re.S)}


def all_strings(diagram: diagrams.Diagram) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", diagram.to_svg(), re.S)]


def number(text: str) -> float:
    return float(text.replace(MINUS, "-"))


def figure_texts(diagram: diagrams.Diagram) -> list[Text]:
    return [t for t in diagram.figure.findobj(Text) if t.get_text().strip()]


# --- the Diagram object --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> diagrams.Diagram:
    return diagrams.neuron(2)


def test_a_diagram_offers_svg_pdf_png_and_text(small):
    bundle = small._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "application/pdf", "image/png", "text/plain"}
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert base64.b64decode(bundle["application/pdf"]).startswith(b"%PDF")
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert bundle["text/plain"] == repr(small)


def test_myst_nb_puts_the_svg_on_the_website_and_the_pdf_into_the_latex_book(small):
    """The builders' own mime priorities choose our SVG for HTML and our PDF for LaTeX."""
    offered = set(small._repr_mimebundle_())
    chosen = {builder: next(m for m in get_mime_priority(builder, []) if m in offered)
              for builder in ("html", "latex")}
    assert chosen == {"html": "image/svg+xml", "latex": "application/pdf"}


def test_the_svg_carries_a_title_for_screen_readers(small):
    svg = small.to_svg()
    root = re.search(r"<svg\b[^>]*>", svg).group(0)
    assert 'role="img"' in root
    title = re.search(r"<title>(.*?)</title>", svg, re.S).group(1)
    assert html.unescape(title) == small.description
    assert "unit j of layer l" in small.description


def test_renderings_are_deterministic():
    """Two drawings of the same thing give the same bytes (the determinism test hashes them)."""
    first, second = diagrams.delta_recursion(), diagrams.delta_recursion()
    assert first.to_svg() == second.to_svg()
    assert first.to_pdf() == second.to_pdf()
    assert first.to_png() == second.to_png()


def test_the_background_is_opaque_white(small):
    """Readable in the website's dark mode: no transparent pixels at the edges."""
    image = Image.open(io.BytesIO(small.to_png(dpi=30))).convert("RGBA")
    corners = [image.getpixel(p) for p in
               [(0, 0), (image.width - 1, 0), (0, image.height - 1),
                (image.width - 1, image.height - 1)]]
    assert corners == [(255, 255, 255, 255)] * 4
    assert 'style="fill: #ffffff"' in small.to_svg()


def test_save_picks_the_format_from_the_suffix(small, tmp_path):
    assert small.save(tmp_path / "n.svg").read_text().startswith("<?xml")
    assert small.save(tmp_path / "n.pdf").read_bytes().startswith(b"%PDF")
    assert small.save(tmp_path / "n.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="path must end in .svg, .pdf or .png"):
        small.save(tmp_path / "n.jpg")


def test_diagram_refuses_what_is_not_a_figure():
    with pytest.raises(TypeError, match="figure must be a matplotlib Figure"):
        diagrams.Diagram("figure", "text")
    with pytest.raises(ValueError, match="description must be a non-empty string"):
        diagrams.Diagram(Figure(), " ")


def every_diagram() -> dict[str, diagrams.Diagram]:
    x, w, b = Value(1.5, "x"), Value(-0.5, "w"), Value(0.2, "b")
    quadratic = lambda t: 0.5 * (t[..., 0] ** 2 + 5 * t[..., 1] ** 2)  # noqa: E731
    run = minimize(quadratic, lambda t: np.array([t[0], 5 * t[1]]), np.array([-2.0, 1.0]),
                   learning_rate=0.3, steps=15)
    return {
        "neuron": diagrams.neuron(3),
        "network": diagrams.network([3, 4, 4, 2]),
        "graph": diagrams.computational_graph((w * x + b).tanh()),
        "delta": diagrams.delta_recursion(),
        "delta-batch": diagrams.delta_recursion(batch=True),
        "descent": diagrams.descent_path(quadratic, run, minimum=[0, 0]),
        "es": diagrams.es_probes(quadratic, [1.0, 1.0], sigma=0.3),
    }


#: Width in CSS pixels of a figure on a phone 400 px wide (measured in the book's theme).
PHONE_FIGURE_PX = 352


def test_every_diagram_is_legible_on_a_phone():
    """On a phone the browser shrinks a drawing of w inches (w × 96 px) to 352 px; every
    text must still be at least 9 px tall there, and no drawing wider than 7.5 inches."""
    for name, diagram in every_diagram().items():
        width = diagram.figure.get_size_inches()[0]
        assert width <= 7.5, f"{name} is {width:.1f} in wide"
        smallest = min(t.get_fontsize() for t in figure_texts(diagram))
        on_phone = smallest * 4 / 3 * PHONE_FIGURE_PX / (width * 96)
        assert on_phone >= 9, f"{name}: {smallest} pt text is {on_phone:.1f} px on a phone"


def test_docstring_examples_run():
    results = doctest.testmod(diagrams, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 7 and results.failed == 0


# --- neuron ----------------------------------------------------------------------------------


def test_neuron_shows_inputs_weights_bias_sum_activation_and_output():
    labels = texts(diagrams.neuron(3))
    assert [labels[f"input-{i}"] for i in range(3)] == [
        "$a^{(l-1)}_{1}$", "$a^{(l-1)}_{2}$", "$a^{(l-1)}_{n_{l-1}}$"]
    assert [labels[f"weight-{i}"] for i in range(3)] == [
        "$w^{(l)}_{j1}$", "$w^{(l)}_{j2}$", "$w^{(l)}_{jn_{l-1}}$"]
    assert labels["bias"] == "$b^{(l)}_{j}$"
    assert labels["weighted-input"] == "$z^{(l)}_{j}$"
    assert labels["output"] == "$a^{(l)}_{j}$"
    formula = labels["formula"]
    assert r"\sum_{k=1}^{n_{l-1}} w^{(l)}_{jk}\, a^{(l-1)}_{k} + b^{(l)}_{j}" in formula
    assert "a^{(l)}_{j} = g(z^{(l)}_{j})" in formula


def test_neuron_of_the_first_layer_reads_the_input_layer():
    labels = texts(diagrams.neuron(2, layer=1, activation=r"\sigma"))
    assert labels["input-0"] == "$a^{(0)}_{1}$"
    assert labels["weight-1"] == "$w^{(1)}_{jn_{0}}$"
    assert r"= \sigma(z^{(1)}_{j})" in labels["formula"]


def test_neuron_with_one_input_uses_k():
    labels = texts(diagrams.neuron(1))
    assert labels["input-0"] == "$a^{(l-1)}_{k}$"
    assert labels["weight-0"] == "$w^{(l)}_{jk}$"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_inputs": 0}, ValueError, "n_inputs must be an integer from 1 to 6"),
        ({"n_inputs": 2.0}, ValueError, "n_inputs must be an integer"),
        ({"layer": 0}, ValueError, "layer must be a letter or an integer >= 1"),
        ({"layer": "l1"}, ValueError, "layer must be one letter"),
        ({"activation": ""}, TypeError, "activation must be a non-empty string"),
        ({"unit": "jj"}, ValueError, "unit must be one letter"),
    ],
)
def test_neuron_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        diagrams.neuron(**kwargs)


# --- network ---------------------------------------------------------------------------------


def test_network_labels_one_edge_to_j_from_k():
    labels = texts(diagrams.network([3, 4, 2], highlight=(2, 1, 3)))
    assert labels["highlight-label"] == "$w^{(2)}_{13}$"
    assert labels["highlight-caption"] == (
        "$w^{(2)}_{13}$: to unit $j = 1$ of layer 2, from unit $k = 3$ of layer 1")
    assert labels["highlight-j"] == "$j = 1$"
    assert labels["highlight-k"] == "$k = 3$"
    assert [labels[f"layer-{l}"] for l in range(3)] == ["layer 0", "layer 1", "layer 2"]


def test_network_highlight_runs_from_unit_k_on_the_left_to_unit_j_on_the_right():
    picture = diagrams.network([3, 4, 2], highlight=(2, 1, 3))
    (arrow,) = [p for p in picture.figure.findobj(FancyArrowPatch) if p.get_gid() == "highlight"]
    (start, end) = arrow._posA_posB
    circles = {(round(c.center[0], 6), round(c.center[1], 6))
               for c in picture.figure.findobj(lambda a: hasattr(a, "center"))}
    assert (round(start[0], 6), round(start[1], 6)) in circles
    columns = sorted({x for x, _ in circles})
    rows_of = {x: sorted((y for cx, y in circles if cx == x), reverse=True) for x in columns}
    # Unit k = 3 of layer 1 (third from the top) to unit j = 1 of layer 2 (the top one).
    assert start[0] == pytest.approx(columns[1])
    assert start[1] == pytest.approx(rows_of[columns[1]][2])
    assert end[0] == pytest.approx(columns[2])
    assert end[1] == pytest.approx(rows_of[columns[2]][0])


def test_network_annotates_the_shapes_of_w_z_and_a():
    labels = texts(diagrams.network([3, 5, 2]))
    shapes = {gid: (labels[gid], labels[f"{gid}-size"]) for gid in labels
              if gid.startswith("shape-") and not gid.endswith("-size")}
    assert shapes == {
        "shape-weights-1": ("$W^{(1)}$", "$5 \\times 3$"),
        "shape-weights-2": ("$W^{(2)}$", "$2 \\times 5$"),
        "shape-activations-0": ("$X = A^{(0)}$", "$m \\times 3$"),
        "shape-activations-1": ("$Z^{(1)}, A^{(1)}$", "$m \\times 5$"),
        "shape-activations-2": ("$Z^{(2)}, A^{(2)}$", "$m \\times 2$"),
    }
    assert "shape-weights-1" not in texts(diagrams.network([3, 5, 2], shapes=False))
    assert texts(diagrams.network([3, 2], batch=32))["shape-activations-1-size"] == (
        "$32 \\times 2$")


def test_network_default_highlight_has_distinct_j_and_k():
    labels = texts(diagrams.network([2, 3, 3]))
    j, k = re.fullmatch(r"\$w\^\{\(2\)\}_\{(\d)(\d)\}\$", labels["highlight-label"]).groups()
    assert j != k
    assert "highlight-label" not in texts(diagrams.network([2, 3], highlight=()))


def test_wide_layers_are_drawn_with_an_ellipsis():
    picture = diagrams.network([784, 30, 10], highlight=(1, 2, 3), max_units=6)
    strings = all_strings(picture)
    assert strings.count(r"$\vdots$") == 3
    assert "$30 \\times 784$" in strings
    with pytest.raises(ValueError, match="hidden in an ellipsis"):
        diagrams.network([784, 30, 10], highlight=(1, 2, 700))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([3],), {}, ValueError, "at least two layers"),
        (("32",), {}, TypeError, "layer_sizes must be a sequence"),
        (([3, 0],), {}, ValueError, r"layer_sizes\[1\] must be a positive integer"),
        (([3, 2],), {"highlight": (2, 1, 1)}, ValueError, "layer l must be from 1 to L = 1"),
        (([3, 2],), {"highlight": (1, 3, 1)}, ValueError, "j must be from 1 to n_1 = 2"),
        (([3, 2],), {"highlight": (1, 1, 4)}, ValueError, "k must be from 1 to n_0 = 3"),
        (([3, 2],), {"highlight": (1, 1)}, ValueError, r"highlight must be \(l, j, k\)"),
        (([3, 2],), {"max_units": 2}, ValueError, "max_units must be an integer from 3"),
        (([3, 2],), {"batch": 0}, ValueError, "batch must be a symbol"),
    ],
)
def test_network_refuses_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        diagrams.network(*args, **kwargs)


# --- computational graph -----------------------------------------------------------------


def gate_expression() -> Value:
    """Every gate pattern of CS231n in one expression: add, multiply, ReLU, fan-out."""
    x, y, z = Value(3.0, "x"), Value(-4.0, "y"), Value(2.0, "z")
    return (x * y + z.relu()) * (x + y) + x * x + (y - 1.5).relu()


def test_graph_prints_each_node_value_and_the_engines_gradient():
    output = gate_expression()
    picture = diagrams.computational_graph(output, digits=6)
    output.backward()
    labels = texts(picture)
    order = topological_order(output)
    for i, node in enumerate(order):
        assert number(labels[f"node-{i}-value"]) == pytest.approx(node.data, rel=1e-5)
        assert number(labels[f"node-{i}-grad"]) == pytest.approx(node.grad, rel=1e-5, abs=1e-9)
    leaves = {labels[f"node-{i}-title"] for i, node in enumerate(order) if not node.parents}
    assert leaves == {"x", "y", "z", "1.5"}  # the engine labels a constant by its value


def test_graph_edges_show_the_gate_patterns():
    """Edges carry local derivative × downstream gradient, so + passes the gradient on,
    × swaps the operands, ReLU routes, and a fan-out node's gradient is its edges' sum."""
    output = gate_expression()
    labels = texts(diagrams.computational_graph(output, digits=6))
    order = topological_order(output)
    output.backward()
    edges = [(parent, child) for child in order for parent in child.parents]
    flows = [number(labels[f"edge-{e}-label"]) for e in range(len(edges))]
    assert len(re.findall(r'<g id="edge-\d+"', diagrams.computational_graph(output).to_svg())) \
        == len(edges)
    for (parent, child), flow in zip(edges, flows, strict=True):
        if child.op == "+":
            assert flow == pytest.approx(child.grad)
        elif child.op == "*" and child.parents[0] is not child.parents[1]:
            other = child.parents[1] if parent is child.parents[0] else child.parents[0]
            assert flow == pytest.approx(other.data * child.grad)
        elif child.op == "relu":
            assert flow == (child.grad if parent.data > 0 else 0.0)
    for node in order:
        outgoing = [f for (parent, _), f in zip(edges, flows, strict=True) if parent is node]
        if outgoing:
            assert sum(outgoing) == pytest.approx(node.grad, abs=1e-9)


def test_graph_does_not_touch_the_engines_gradients():
    output = gate_expression()
    diagrams.computational_graph(output)
    assert all(node.grad == 0.0 for node in topological_order(output))


def test_graph_can_show_local_derivatives_instead():
    x, y = Value(3.0, "x"), Value(-4.0, "y")
    labels = texts(diagrams.computational_graph(x * y, edge_labels="local"))
    assert sorted(number(labels[f"edge-{e}-label"]) for e in range(2)) == [-4.0, 3.0]
    plain = texts(diagrams.computational_graph(x * y, gradients=False))
    assert "node-0-grad" not in plain and "edge-0-label" not in plain


def neuron_loss(n_inputs: int = 3, seed: int = 0) -> Value:
    """A two-layer network's squared error on one example: a few dozen nodes."""
    rng = np.random.default_rng(seed)
    xs = [Value(float(v), f"x{k + 1}") for k, v in enumerate(rng.normal(size=n_inputs))]
    hidden = []
    for j in range(2):
        z = Value(0.1, f"b{j + 1}")
        for k, x in enumerate(xs):
            z = z + Value(float(rng.normal()), f"w{j + 1}{k + 1}") * x
        hidden.append(z.tanh())
    out = Value(0.0, "b") + sum(Value(float(rng.normal()), f"v{j + 1}") * h
                                for j, h in enumerate(hidden))
    return (out - 1.0) ** 2


def test_graph_of_a_few_dozen_nodes_has_no_overlapping_boxes():
    output = neuron_loss(4)
    n_nodes = len(topological_order(output))
    assert n_nodes >= 30
    picture = diagrams.computational_graph(output)
    boxes = [p.get_bbox() for p in picture.figure.findobj(FancyBboxPatch)
             if (p.get_gid() or "").startswith("node-")]
    assert len(boxes) == n_nodes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0


def test_layered_layout_removes_avoidable_crossings():
    # Leaves 0, 1 feed nodes 3, 2 "crosswise" in the initial order; a layout without
    # crossings exists and must be found.
    edges = [(0, 3), (1, 2), (0, 4), (1, 4), (2, 5), (3, 5), (4, 5)]
    layout = diagrams._layered_layout(6, edges)
    assert layout.rank == [0, 0, 1, 1, 1, 2]
    pos = dict(enumerate(layout.slot))
    pairs = [(pos[u], pos[v]) for u, v in edges if layout.rank[v] == 1]
    crossings = sum(1 for i, (a, b) in enumerate(pairs) for c, d in pairs[i + 1:]
                    if (a - c) * (b - d) < 0)
    assert crossings == 0
    for r in (0, 1):
        ys = sorted(s for s, rank in zip(layout.slot, layout.rank, strict=True) if rank == r)
        assert all(b - a >= 1 - 1e-9 for a, b in zip(ys, ys[1:], strict=False))


def test_ordered_with_gaps_is_the_least_squares_fit():
    assert diagrams._ordered_with_gaps([0.0, 0.2, 5.0]) == pytest.approx([-0.4, 0.6, 5.0])


def test_graph_refuses_bad_arguments():
    with pytest.raises(TypeError, match="output must be a bpbook.autodiff.Value"):
        diagrams.computational_graph(3.0)
    with pytest.raises(ValueError, match="more than max_nodes = 5"):
        diagrams.computational_graph(neuron_loss(), max_nodes=5)
    with pytest.raises(ValueError, match="edge_labels must be 'gradient' or 'local'"):
        diagrams.computational_graph(Value(1.0), edge_labels="both")
    with pytest.raises(ValueError, match="direction must be"):
        diagrams.computational_graph(Value(1.0), direction="RL")
    with pytest.raises(ValueError, match="digits must be an integer from 1 to 8"):
        diagrams.computational_graph(Value(1.0), digits=0)


# --- delta recursion ------------------------------------------------------------------------


def test_delta_recursion_shows_the_recursion_in_the_notation():
    labels = texts(diagrams.delta_recursion())
    assert labels["forward-z-label"] == "$z^{(l)}$"
    assert labels["backward-z-label"] == r"$\delta^{(l)}$"
    assert labels["backward-z_next-label"] == r"$\delta^{(l+1)}$"
    assert labels["backward-a-label"] == r"$\partial E/\partial a^{(l)}$"
    assert labels["backward-op-2"] == r"$(W^{(l+1)})^{\mathsf{T}} \delta^{(l+1)}$"
    assert labels["backward-op-1"] == r"$\odot\, g'(z^{(l)})$"
    assert labels["forward-op-0"] == "$W^{(l)} a^{(l-1)} + b^{(l)}$"
    assert r"\partial E/\partial W^{(l)} = \delta^{(l)}\,(a^{(l-1)})^{\mathsf{T}}" in labels[
        "parameter-gradients"]
    assert labels["shape-forward-z"] == labels["shape-backward-z"] == "$n_{l}$"


def test_delta_recursion_for_a_given_layer_and_a_minibatch():
    labels = texts(diagrams.delta_recursion(layer=2, batch=True))
    assert labels["forward-a_prev-label"] == "$A^{(1)}$"
    assert labels["backward-z-label"] == r"$\boldsymbol{\delta}^{(2)}$"
    assert labels["backward-op-2"] == r"$\boldsymbol{\delta}^{(3)} W^{(3)}$"
    assert (r"\partial E/\partial W^{(2)} = (\boldsymbol{\delta}^{(2)})^{\mathsf{T}} A^{(1)}"
            in labels["parameter-gradients"])
    assert labels["shape-forward-z_next"] == r"$m \times n_{3}$"
    assert "shape-forward-z" not in texts(diagrams.delta_recursion(shapes=False))


def test_delta_recursion_refuses_a_bad_layer():
    with pytest.raises(ValueError, match="layer must be a letter or an integer >= 1"):
        diagrams.delta_recursion(layer=0)


# --- descent_path and es_probes ------------------------------------------------------------------


def quadratic(theta):
    theta = np.asarray(theta)
    return 0.5 * (theta[..., 0] ** 2 + 4.0 * theta[..., 1] ** 2)


def quadratic_gradient(theta):
    return np.array([theta[0], 4.0 * theta[1]])


def drawn_line(picture, gid):
    (line,) = [a for a in picture.figure.axes[0].lines if a.get_gid() == gid]
    return np.column_stack(line.get_data())


def test_descent_path_draws_the_trajectory_over_the_contours():
    run = minimize(quadratic, quadratic_gradient, np.array([-2.0, 1.0]), learning_rate=0.2,
                   steps=12)
    picture = diagrams.descent_path(quadratic, run, minimum=[0.0, 0.0])
    np.testing.assert_array_equal(drawn_line(picture, "path-0"), run.points)
    strings = all_strings(picture)
    assert r"$\theta_0$" in strings and r"$\theta_{12}$" in strings
    ax = picture.figure.axes[0]
    assert ax.collections, "contour lines"
    x0, x1 = ax.get_xlim()
    assert x0 < run.points[:, 0].min() and x1 > 0.0


def test_descent_path_compares_named_paths_in_their_book_colours():
    gd = minimize(quadratic, quadratic_gradient, np.array([-2.0, 1.0]), learning_rate=0.2,
                  steps=10)
    heavy = minimize(quadratic, quadratic_gradient, np.array([-2.0, 1.0]), learning_rate=0.1,
                     steps=10, momentum=0.8)
    picture = diagrams.descent_path(quadratic, {"gd": gd, "momentum": heavy.points})
    ax = picture.figure.axes[0]
    colours = {line.get_label(): line.get_color() for line in ax.lines}
    assert colours["gradient descent"] == diagrams.COLORS["gd"]
    assert colours["momentum"] == diagrams.COLORS["momentum"]


def test_a_batched_loss_draws_the_same_contours_as_a_pointwise_one():
    points = np.random.default_rng(0).normal(size=(50, 2))
    pointwise = diagrams._evaluate(lambda t: float(t @ np.diag([1.0, 4.0]) @ t) / 2, points)
    np.testing.assert_allclose(diagrams._evaluate(quadratic, points), pointwise)


def test_a_loss_that_returns_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="loss must return one number"):
        diagrams.descent_path(lambda t: np.ones(3), [[0.0, 0.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((None, [[0.0, 0.0]]), {}, TypeError, "loss must be a callable"),
        ((quadratic, [[0.0, 0.0, 0.0]]), {}, ValueError, r"path must hold points of shape"),
        ((quadratic, [[np.nan, 0.0]]), {}, ValueError, "path contains NaN"),
        ((quadratic, {}), {}, ValueError, "empty mapping"),
        ((quadratic, [[0.0, 0.0]]), {"bounds": (1, 0, 0, 1)}, ValueError, "x_min < x_max"),
        ((quadratic, [[0.0, 0.0]]), {"levels": 1}, ValueError, "levels must be at least 2"),
        ((quadratic, [[0.0, 0.0]]), {"minimum": [0.0]}, ValueError, "minimum must have shape"),
        ((quadratic, [[0.0, 0.0]]), {"resolution": 5}, ValueError, "resolution must be"),
    ],
)
def test_descent_path_refuses_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        diagrams.descent_path(*args, **kwargs)


def arrow_vector(picture, gid):
    (arrow,) = [p for p in picture.figure.findobj(FancyArrowPatch) if p.get_gid() == gid]
    start, end = arrow._posA_posB
    return np.subtract(end, start)


def test_es_probes_draws_the_probes_and_both_gradients_to_one_scale():
    theta, sigma = np.array([1.0, 0.8]), 0.25
    epsilons = np.random.default_rng(3).standard_normal((12, 2))
    picture = diagrams.es_probes(quadratic, theta, sigma, epsilons=epsilons,
                                 gradient=quadratic_gradient)
    (cloud,) = [c for c in picture.figure.axes[0].collections if c.get_gid() == "probes"]
    np.testing.assert_allclose(cloud.get_offsets(), theta + sigma * epsilons)
    losses = quadratic(theta + sigma * epsilons)
    np.testing.assert_allclose(cloud.get_array(), losses)
    estimate = es_gradient(losses, epsilons, sigma)
    true = quadratic_gradient(theta)
    drawn_estimate = arrow_vector(picture, "es-estimate")
    drawn_true = arrow_vector(picture, "true-gradient")
    # Both point downhill (minus the gradient), with one common scale factor.
    scale = drawn_true[0] / -true[0]
    assert scale > 0
    np.testing.assert_allclose(drawn_true, -scale * true)
    np.testing.assert_allclose(drawn_estimate, -scale * estimate)
    strings = all_strings(picture)
    assert r"$-\widehat{\nabla E_\sigma}$" in strings
    assert r"$-\nabla E(\theta)$" in strings
    assert r"$E(\theta + \sigma\varepsilon_r)$" in strings


def test_es_probes_default_true_gradient_is_the_central_difference():
    theta = np.array([0.5, -0.4])
    given = diagrams.es_probes(quadratic, theta, 0.2, gradient=quadratic_gradient)
    default = diagrams.es_probes(quadratic, theta, 0.2)
    np.testing.assert_allclose(arrow_vector(default, "true-gradient"),
                               arrow_vector(given, "true-gradient"), rtol=1e-5)


def test_es_probes_uses_a_given_estimate():
    picture = diagrams.es_probes(quadratic, [1.0, 1.0], 0.3, estimate=[0.0, 2.0],
                                 gradient=quadratic_gradient)
    vector = arrow_vector(picture, "es-estimate")
    assert vector[0] == 0.0 and vector[1] < 0.0
    ratio = np.linalg.norm(vector) / np.linalg.norm(arrow_vector(picture, "true-gradient"))
    assert math.isclose(ratio, 2.0 / np.linalg.norm([1.0, 4.0]), rel_tol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"theta": [1.0]}, ValueError, r"theta must have shape \(2,\)"),
        ({"sigma": 0.0}, ValueError, "sigma"),
        ({"epsilons": np.zeros((1, 2))}, ValueError, r"epsilons must have shape \(M, 2\)"),
        ({"estimate": [1.0, 2.0, 3.0]}, ValueError, r"estimate must have shape \(2,\)"),
        ({"gradient": 3.0}, TypeError, "gradient must be callable"),
        ({"n_probes": 1}, ValueError, "n_probes must be an integer from 2"),
    ],
)
def test_es_probes_refuses_bad_arguments(kwargs, error, match):
    arguments = {"loss": quadratic, "theta": [1.0, 1.0], "sigma": 0.3, **kwargs}
    with pytest.raises(error, match=match):
        diagrams.es_probes(**arguments)
