import numpy as np
import pytest

from bpbook import MLP
from bpbook.initialization import layer_statistics, spread


def test_spread_is_the_root_mean_variance_over_examples():
    A = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 1.0], [4.0, 1.0, 3.0]])
    variances = [np.var([0.0, 2.0, 4.0]), 0.0, np.var([5.0, 1.0, 3.0])]
    assert spread(A) == pytest.approx(np.sqrt(np.mean(variances)))
    assert spread(np.tile([[1.0, -2.0]], (5, 1))) == 0.0  # every example the same


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((0, 2)), [[1.0, np.nan]]])
def test_spread_refuses_bad_input(bad):
    with pytest.raises(ValueError, match="A"):
        spread(bad)


def test_layer_statistics_measure_the_forward_pass():
    net = MLP([3, 4, 2], activation="tanh", seed=1)
    net.biases = [np.full(4, 0.5), np.array([-1.0, 2.0])]
    X = np.random.default_rng(0).normal(size=(6, 3))
    stats = layer_statistics(net, X)
    zs, acts = net.forward_pass(X)
    assert stats.z_second_moment.shape == stats.z_spread.shape == (2,)
    assert stats.a_second_moment.shape == stats.a_spread.shape == (3,)
    for l in (1, 2):
        W, b, A = net.weights[l - 1], net.biases[l - 1], acts[l - 1]
        assert stats.z_second_moment[l - 1] == pytest.approx(np.mean(zs[l - 1] ** 2))
        predicted = W.shape[1] * np.mean(W**2) * np.mean(A**2) + np.mean(b**2)
        assert stats.z_second_moment_predicted[l - 1] == pytest.approx(predicted)
        assert stats.z_spread[l - 1] == pytest.approx(spread(zs[l - 1]))
        assert stats.z_spread_predicted[l - 1] == pytest.approx(
            np.sqrt(W.shape[1] * np.mean(W**2)) * spread(A)
        )
    assert stats.a_second_moment[0] == pytest.approx(np.mean(X**2))


def test_layer_statistics_refuses_other_objects():
    with pytest.raises(TypeError, match="net must be an MLP"):
        layer_statistics([np.eye(2)], np.eye(2))
    with pytest.raises(ValueError, match="columns"):
        layer_statistics(MLP([3, 2]), np.eye(2))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_predictions_hold_on_average_over_random_weights(activation):
    # (1) and (2) are statements about the expectation over the weights: averaged over
    # many initialisations, measurement and prediction must agree closely.
    X = np.random.default_rng(2).uniform(0.0, 1.0, size=(40, 16))
    measured, predicted, spread_measured, spread_predicted = [], [], [], []
    for seed in range(300):
        stats = layer_statistics(MLP([16, 12, 12], activation=activation, seed=seed), X)
        measured.append(stats.z_second_moment)
        predicted.append(stats.z_second_moment_predicted)
        spread_measured.append(stats.z_spread**2)
        spread_predicted.append(stats.z_spread_predicted**2)
    ratio = np.mean(measured, axis=0) / np.mean(predicted, axis=0)
    spread_ratio = np.mean(spread_measured, axis=0) / np.mean(spread_predicted, axis=0)
    np.testing.assert_allclose(ratio, 1.0, atol=0.06)
    np.testing.assert_allclose(spread_ratio, 1.0, atol=0.06)


def test_the_mlp_scale_keeps_relu_layers_the_same_size():
    # The MLP docstring's claim: with Var(w) = 2/n_{l-1} for ReLU, E[z²] neither grows
    # nor shrinks from layer to layer (ReLU zeroes half of a symmetric z).
    X = np.random.default_rng(3).normal(size=(30, 50))
    moments = np.mean(
        [layer_statistics(MLP([50, 80, 80, 80], activation="relu", seed=s), X).z_second_moment
         for s in range(100)],
        axis=0,
    )
    np.testing.assert_allclose(moments[1:] / moments[:-1], 1.0, atol=0.08)
