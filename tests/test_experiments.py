import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from bpbook import MLP, datasets
from bpbook.experiments import loss_curve, loss_curves_explorer, plot_loss_curve
from bpbook.optim import GradientDescent, minimize, train
from bpbook.widgets import MAX_STATE_BYTES, state_size


def parabola(eta, steps=60):
    return minimize(lambda x: 0.5 * x**2, lambda x: x, 1.0, learning_rate=eta, steps=steps)


def test_loss_curve_of_a_history_is_per_epoch_and_of_a_trajectory_per_step():
    X, Y = datasets.xor()
    history = train(MLP([2, 2, 1]), X, Y, optimizer=GradientDescent(0.1), epochs=4)
    x, y, unit = loss_curve(history)
    assert unit == "epoch" and x.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(y, history.train_loss)
    x, y, unit = loss_curve(parabola(0.5, steps=3))
    assert unit == "step" and y.tolist() == [0.5, 0.125, 0.03125, 0.0078125]
    with pytest.raises(TypeError, match="History or a Trajectory"):
        loss_curve([1.0, 2.0])


def test_a_diverged_curve_ends_in_a_labelled_cross_at_the_last_finite_loss():
    run = parabola(2.5)
    ax = Figure().subplots()
    plot_loss_curve(ax, run, label="η = 2.5")
    curve, cross = ax.lines
    assert cross.get_xdata()[0] == len(run.values) - 1 == run.diverged_at - 1
    assert cross.get_ydata()[0] == run.values[-1]
    assert ax.texts[0].get_text() == f"diverged at step {run.diverged_at}"
    assert curve.get_label() == "η = 2.5 (diverged)"
    assert ax.get_yscale() == "log"


def test_a_converged_curve_has_no_divergence_mark():
    ax = Figure().subplots()
    plot_loss_curve(ax, parabola(0.5), label="η = 0.5")
    assert len(ax.lines) == 1 and not ax.texts


def test_explorer_has_one_frame_per_learning_rate_within_the_page_budget():
    results = {eta: parabola(eta) for eta in (0.5, 1.0, 1.5, 2.0, 2.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        widget = loss_curves_explorer(results, mode="static", initial=1.5)
    assert len(widget.frames.children) == 5
    assert widget.slider.index == 2
    assert 0 < state_size(widget) <= MAX_STATE_BYTES
    assert all("<img" in frame.value for frame in widget.frames.children)


@pytest.mark.parametrize(
    "results, error, words",
    [
        ({}, ValueError, "empty"),
        ({-0.1: None}, ValueError, "> 0"),
        ({0.1: [1.0]}, TypeError, "History or a Trajectory"),
    ],
)
def test_explorer_rejects_bad_results(results, error, words):
    with pytest.raises(error, match=words):
        loss_curves_explorer(results, mode="static")


def test_explorer_frames_carry_alt_text():
    results = {eta: parabola(eta) for eta in (0.5, 2.5)}
    widget = loss_curves_explorer(results, mode="static", alt="Loss of the parabola")
    assert all('alt="Loss of the parabola' in frame.value for frame in widget.frames.children)
    default = loss_curves_explorer(results, mode="static", title="3 vs 7")
    assert 'alt="3 vs 7: training loss' in default.frames.children[0].value
