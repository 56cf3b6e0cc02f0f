"""Tests of bpbook.plotting: the figures show the data they are given, and bad input is refused."""

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from bpbook import activations
from bpbook.plotting import (
    COLORS,
    SEQUENTIAL_CMAP,
    activation_figure,
    decision_figure,
    image_grid,
    use_book_style,
)


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """The helpers must not register figures with pyplot (they would leak in a notebook)."""
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


# image_grid ---------------------------------------------------------------------------


def test_image_grid_draws_each_image_reshaped_on_a_common_scale():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (7, 12))
    fig = image_grid(images, titles=[str(i) for i in range(7)], image_shape=(3, 4), n_cols=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 9  # 3 rows of 3; the last two cells are empty
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 7
    for i, ax in enumerate(drawn):
        shown = ax.images[0]
        np.testing.assert_array_equal(shown.get_array(), images[i].reshape(3, 4))
        assert shown.get_clim() == (images.min(), images.max())
        assert ax.get_title() == str(i)


def test_image_grid_uses_fewer_columns_than_images_when_few_images():
    fig = image_grid(np.zeros((2, 64)), n_cols=10)
    assert len(fig.axes) == 2


def test_image_grid_accepts_integer_pixels():
    fig = image_grid(np.arange(64).reshape(1, 64))
    assert fig.axes[0].images[0].get_array()[7, 7] == 63.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"images": np.zeros(64)}, ValueError, "images must be a 2-dimensional array"),
        ({"images": np.zeros((2, 63))}, ValueError, r"63 columns but image_shape \(8, 8\) needs"),
        ({"images": np.zeros((0, 64))}, ValueError, "no rows"),
        ({"images": np.full((1, 64), np.nan)}, ValueError, "images contains NaN"),
        ({"images": np.zeros((1, 64), np.float32)}, TypeError, "float32"),
        ({"images": np.zeros((2, 64)), "titles": ["a"]}, ValueError, "titles has 1 entries for 2"),
        ({"images": np.zeros((2, 64)), "n_cols": 0}, ValueError, "n_cols must be a positive"),
        ({"images": np.zeros((2, 64)), "image_shape": (8,)}, ValueError, "image_shape must be"),
        ({"images": np.zeros((2, 64)), "image_shape": (8, 8.0)}, ValueError, r"image_shape\[1\]"),
    ],
)
def test_image_grid_refuses_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        image_grid(**kwargs)


# activation_figure --------------------------------------------------------------------


def test_activation_figure_fills_rows_and_removes_empty_cells():
    fig = activation_figure(["sigmoid", "tanh", "relu"], n_cols=2)
    assert [ax.get_title() for ax in fig.axes] == ["sigmoid $\\sigma$", "tanh", "ReLU"]
    assert fig.axes[2].get_subplotspec().rowspan.start == 1


def test_activation_figure_plots_g_and_its_derivative():
    fig = activation_figure(["tanh", "relu"], z_range=(-2.0, 3.0), n_points=11)
    assert [ax.get_title() for ax in fig.axes] == ["tanh", "ReLU"]
    for ax, name in zip(fig.axes, ["tanh", "relu"], strict=True):
        g = activations.get_activation(name)
        value, slope = [line for line in ax.get_lines() if line.get_label().startswith("$g")]
        z = value.get_xdata()
        np.testing.assert_array_equal(z, np.linspace(-2.0, 3.0, 11))
        np.testing.assert_array_equal(value.get_ydata(), g(z))
        drawn = slope.get_ydata()
        shown = ~np.isnan(drawn)  # a jump of g' is left as a gap
        np.testing.assert_array_equal(drawn[shown], g.derivative(z)[shown])
        assert shown.sum() >= len(z) - 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"names": ["swish"]}, ValueError, "unknown activation 'swish'"),
        ({"names": "tanh"}, TypeError, "not a string"),
        ({"names": []}, ValueError, "names is empty"),
        ({"z_range": (1.0, -1.0)}, ValueError, "z_range must be finite with low < high"),
        ({"z_range": (0.0, np.inf)}, ValueError, "z_range must be finite"),
        ({"z_range": (0.0,)}, ValueError, r"z_range must be \(low, high\)"),
        ({"z_range": ("a", 1.0)}, TypeError, "z_range must be two real numbers"),
        ({"n_points": 1}, ValueError, "n_points must be at least 2"),
        ({"n_cols": 0}, ValueError, "n_cols must be a positive integer"),
    ],
)
def test_activation_figure_refuses_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        activation_figure(**kwargs)


# decision_figure ----------------------------------------------------------------------

X_XOR = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = np.array([0, 1, 1, 0])


def test_decision_figure_evaluates_the_function_on_the_window_and_marks_the_points():
    calls = []

    def f(P):
        calls.append(P.copy())
        return P[:, 0] - P[:, 1]

    fig = decision_figure(f, X_XOR, Y_XOR, bounds=(-1.0, 2.0, -0.5, 1.5), resolution=30)
    (grid,) = calls
    assert grid.shape == (900, 2)
    np.testing.assert_allclose(grid.min(axis=0), [-1.0, -0.5])
    np.testing.assert_allclose(grid.max(axis=0), [2.0, 1.5])
    ax = fig.axes[0]
    assert ax.get_xlim() == (-1.0, 2.0)
    points = [c for c in ax.collections if c.get_label().startswith("class")]
    marked = np.vstack([c.get_offsets() for c in points])
    np.testing.assert_array_equal(np.sort(marked, axis=0), np.sort(X_XOR, axis=0))


def test_decision_figure_draws_into_a_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert decision_figure(lambda P: P.sum(axis=1, keepdims=True), X_XOR, Y_XOR, ax=ax) is fig


def test_decision_figure_default_window_contains_the_points_with_a_margin():
    fig = decision_figure(lambda P: P[:, 0], X_XOR, Y_XOR, resolution=5)
    assert fig.axes[0].get_xlim() == (-0.25, 1.25)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((None, X_XOR, Y_XOR), {}, TypeError, "function must be callable"),
        ((np.sum, X_XOR[:, :1], Y_XOR), {}, ValueError, r"X must have shape \(m, 2\)"),
        ((np.sum, X_XOR, Y_XOR[:3]), {}, ValueError, r"y must have shape \(4,\)"),
        ((lambda P: P, X_XOR, Y_XOR), {}, ValueError, "one value per point"),
        ((lambda P: np.full(len(P), np.nan), X_XOR, Y_XOR), {}, ValueError, "contains NaN"),
        ((lambda P: P[:, 0], X_XOR, Y_XOR), {"bounds": (0, 1, 0)}, ValueError, "bounds must be"),
        ((lambda P: P[:, 0], X_XOR, Y_XOR), {"bounds": (1, 0, 0, 1)}, ValueError, "low < high"),
        ((lambda P: P[:, 0], X_XOR, Y_XOR), {"resolution": 1}, ValueError, "at least 2"),
        ((lambda P: P[:, 0], np.zeros((5, 2)), np.arange(5)), {}, ValueError, "at most 4"),
    ],
)
def test_decision_figure_refuses_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        decision_figure(*args, **kwargs)


# colours and the book's style ----------------------------------------------------------


def test_activation_figure_draws_g_forward_and_g_prime_backward_colours():
    ax = activation_figure(["tanh"]).axes[0]
    g, g_prime = [line for line in ax.lines if line.get_label().startswith("$g")]
    assert g.get_color() == COLORS["forward"]
    assert g_prime.get_color() == COLORS["backward"]
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 10


@pytest.mark.parametrize(
    "make",
    [
        lambda: activation_figure(["relu"]),
        lambda: image_grid(np.eye(2, 64), titles=["a", "b"]),
        lambda: decision_figure(lambda P: P[:, 0], X_XOR, Y_XOR, resolution=5),
    ],
)
def test_package_figures_have_an_opaque_white_background(make):
    with matplotlib.rc_context({"figure.facecolor": "none"}):
        fig = make()
    assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_use_book_style_sets_the_palette_fonts_and_paper():
    with matplotlib.rc_context():
        use_book_style()
        rc = matplotlib.rcParams
        assert rc["figure.facecolor"] == rc["savefig.facecolor"] == "white"
        assert rc["font.size"] >= 10 and rc["legend.fontsize"] >= 10
        assert rc["figure.figsize"][0] <= 7
        cycle = [c.lower() for c in rc["axes.prop_cycle"].by_key()["color"]]
        okabe_ito = {c.lower() for c in COLORS.values()}
        assert set(cycle) <= okabe_ito | {"#000000"}
        assert cycle[:3] == [COLORS["forward"].lower(), COLORS["backward"].lower(),
                             COLORS["test"].lower()]
        assert rc["image.cmap"] == SEQUENTIAL_CMAP


def test_colors_are_the_okabe_ito_palette():
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                 "#CC79A7", "#999999"}
    assert set(COLORS.values()) <= okabe_ito
    assert COLORS["forward"] != COLORS["backward"]


def test_a_jump_of_the_derivative_is_a_gap_not_a_line():
    fig = activation_figure(["relu"], z_range=(-1.0, 1.0), n_points=201)
    slope = fig.axes[0].lines[-1].get_ydata()
    assert np.isnan(slope).sum() == 1
    finite = slope[~np.isnan(slope)]
    assert set(np.unique(finite)) == {0.0, 1.0}  # no point drawn between the two levels
