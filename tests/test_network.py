import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpbook import MLP
from bpbook.gradcheck import check_gradients, numerical_gradient

HIDDEN = ["sigmoid", "tanh", "relu", "identity"]
# (loss, output activation) pairs the package supports.
LOSS_OUTPUTS = [
    ("mse", "identity"), ("mse", "sigmoid"), ("mse", "tanh"), ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("softmax_cross_entropy", "identity"), ("softmax_cross_entropy", "softmax"),
]
ARCHITECTURES = [(3, 4, 2), (2, 5, 3, 3), (4, 3)]


def make_targets(loss, m, k, rng):
    if loss == "mse":
        return rng.normal(size=(m, k))
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, k)).astype(float)
    return rng.integers(0, k, m)


def far_from_relu_kinks(net, X, margin=1e-3):
    """Finite differences straddle ReLU's kink within h of z = 0; avoid that region."""
    return all(np.min(np.abs(z)) > margin for z in net.forward_pass(X).zs[:-1])


@pytest.mark.parametrize(
    "hidden, loss_output, sizes, l2",
    list(itertools.product(HIDDEN, LOSS_OUTPUTS, ARCHITECTURES, [0.0, 0.7])),
)
def test_backprop_matches_finite_differences(hidden, loss_output, sizes, l2):
    loss, output = loss_output
    rng = np.random.default_rng(zlib.crc32(repr((hidden, loss_output, sizes, l2)).encode()))
    net = MLP(sizes, activation=hidden, output_activation=output, seed=int(rng.integers(1000)))
    # Non-zero biases: with the initial zero biases, an example that silences every ReLU
    # of one layer puts the next layer exactly on the kink z = 0.
    net.biases = [rng.normal(0.0, 0.5, b.shape) for b in net.biases]
    for _ in range(20):
        X = rng.normal(size=(6, sizes[0]))
        if hidden != "relu" or far_from_relu_kinks(net, X):
            break
    else:
        pytest.fail("no input batch found that keeps every ReLU away from its kink")
    Y = make_targets(loss, 6, sizes[-1], rng)
    report = check_gradients(net, X, Y, loss=loss, l2=l2)
    assert report.max_error <= 1e-7, str(report)


@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    m=st.integers(1, 5),
    hidden=st.sampled_from(["sigmoid", "tanh"]),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_backprop_property(sizes, m, hidden, scale, seed):
    """Any shape, inputs from tiny to saturating: gradients stay finite and correct."""
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation=hidden, output_activation="sigmoid", seed=seed)
    X = scale * rng.normal(size=(m, sizes[0]))
    Y = rng.integers(0, 2, (m, sizes[-1])).astype(float)
    E, gw, gb = net.gradients(X, Y, loss="binary_cross_entropy")
    assert np.isfinite(E) and all(np.all(np.isfinite(g)) for g in gw + gb)
    assert [g.shape for g in gw] == [w.shape for w in net.weights]
    assert [g.shape for g in gb] == [b.shape for b in net.biases]
    # Compare with central differences entrywise. Their own error is about
    # h^2 |f'''| / 6 + eps |E| / h (truncation plus rounding). Inputs of size 30 make f'''
    # large (it grows like |x|^3), so the h^2 term is removed by Richardson extrapolation,
    # (4 D(h/2) - D(h)) / 3, whose truncation error is O(h^4). With saturated units the
    # true gradients can be smaller than the rounding error, hence the absolute part.
    def f(_):
        return net.loss(X, Y, loss="binary_cross_entropy")

    atol = 1e-8 * max(1.0, E)
    for g, p in zip(gw + gb, list(net.weights) + list(net.biases), strict=True):
        coarse, fine = numerical_gradient(f, p, h=1e-4), numerical_gradient(f, p, h=5e-5)
        np.testing.assert_allclose(g, (4 * fine - coarse) / 3, rtol=1e-6, atol=atol)


def test_gradients_returns_the_loss_with_penalty():
    rng = np.random.default_rng(3)
    net = MLP([3, 4, 2], seed=3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    E, _, _ = net.gradients(X, Y, l2=0.2)
    penalty = 0.2 / 2 * sum(np.sum(W**2) for W in net.weights)
    assert E == pytest.approx(np.mean(np.sum((net.forward(X) - Y) ** 2, axis=1)) + penalty)
    assert net.loss(X, Y, l2=0.2) == pytest.approx(E)


def test_bias_is_not_regularised():
    rng = np.random.default_rng(4)
    net = MLP([2, 3, 1], seed=4)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    _, gw0, gb0 = net.gradients(X, Y, l2=0.0)
    _, gw1, gb1 = net.gradients(X, Y, l2=2.0)
    for g0, g1 in zip(gb0, gb1, strict=True):
        np.testing.assert_array_equal(g0, g1)
    for g0, g1, W in zip(gw0, gw1, net.weights, strict=True):
        np.testing.assert_allclose(g1 - g0, 2.0 * W, rtol=1e-12)


def test_forward_matches_per_example_loop():
    rng = np.random.default_rng(5)
    net = MLP([3, 4, 2], activation="tanh", output_activation="sigmoid", seed=5)
    X = rng.normal(size=(7, 3))
    for x, out in zip(X, net.forward(X), strict=True):
        a = x
        for l, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            z = W @ a + b
            a = np.tanh(z) if l == 0 else 1 / (1 + np.exp(-z))
        np.testing.assert_allclose(out, a, rtol=1e-12)


def test_weights_set_by_assignment_are_used():
    net = MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid")
    net.weights[0] = np.array([[20.0, 20.0], [-20.0, -20.0]])
    net.biases[0] = np.array([-10.0, 30.0])
    net.weights[1] = np.array([[20.0, 20.0]])
    net.biases[1] = np.array([-30.0])
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(net.predict(X), [0, 1, 1, 0])


def test_assignment_copies_the_array():
    net = MLP([2, 1])
    W = np.ones((1, 2))
    net.weights[0] = W
    W[0, 0] = 5.0
    assert net.weights[0][0, 0] == 1.0


def test_seed_determines_initialisation():
    a, b, c = MLP([4, 3, 2], seed=7), MLP([4, 3, 2], seed=7), MLP([4, 3, 2], seed=8)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_copy_is_independent():
    net = MLP([2, 3, 1], seed=1)
    twin = net.copy()
    twin.weights[0][0, 0] += 1.0
    assert net.weights[0][0, 0] != twin.weights[0][0, 0]


def test_predict_for_several_outputs_is_argmax():
    net = MLP([2, 3], output_activation="softmax", seed=2)
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(net.predict(X), np.argmax(net.forward(X), axis=1))


def test_repr_and_counts():
    net = MLP([64, 30, 10], activation="relu")
    assert net.n_parameters == 64 * 30 + 30 + 30 * 10 + 10
    assert net.n_layers == 2
    assert "64-30-10" in repr(net) and "relu" in repr(net)


# --- bad input: every message names the argument and what was expected ---------------

@pytest.mark.parametrize(
    "sizes, error, message",
    [
        ([3], ValueError, "at least an input and an output"),
        ([3, 0], ValueError, r"layer_sizes\[1\] must be a positive integer, got 0"),
        ([3, 2.5], ValueError, r"layer_sizes\[1\] must be a positive integer"),
        ("32", TypeError, "layer_sizes must be a sequence of integers"),
    ],
)
def test_bad_layer_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        MLP(sizes)


def test_unknown_activations():
    with pytest.raises(ValueError, match="unknown activation 'sigmoidal'"):
        MLP([2, 1], activation="sigmoidal")
    with pytest.raises(ValueError, match="unknown output_activation 'linear'.*'identity'"):
        MLP([2, 1], output_activation="linear")
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        MLP([2, 2, 1], activation="softmax")


def test_wrong_input_shapes():
    net = MLP([3, 2])
    with pytest.raises(ValueError, match=r"X has 2 columns \(features\) but the network expects 3"):
        net.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match="X must be a 2-dimensional array, got shape \\(3,\\)"):
        net.forward(np.ones(3))
    with pytest.raises(ValueError, match="X holds no examples"):
        net.forward(np.ones((0, 3)))


def test_label_count_mismatch():
    net = MLP([3, 2])
    with pytest.raises(ValueError, match="Y has 5 rows \\(labels\\) but X has 4 examples"):
        net.gradients(np.ones((4, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="Y has 3 columns but the network has 2 outputs"):
        net.gradients(np.ones((4, 3)), np.ones((4, 3)))


def test_nan_and_inf_inputs():
    net = MLP([2, 1])
    X = np.array([[0.0, 1.0], [np.nan, 0.0]])
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index \(1, 0\)\)"):
        net.forward(X)
    with pytest.raises(ValueError, match="Y contains NaN or infinity"):
        net.gradients(np.ones((1, 2)), np.array([[np.inf]]))


def test_negative_l2():
    net = MLP([2, 1])
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -1"):
        net.gradients(np.ones((1, 2)), np.ones((1, 1)), l2=-1)


def test_float32_is_refused_everywhere():
    net = MLP([2, 1])
    with pytest.raises(TypeError, match="X has dtype float32"):
        net.forward(np.ones((1, 2), dtype=np.float32))
    with pytest.raises(TypeError, match=r"weights\[0\] has dtype float32"):
        net.weights[0] = np.ones((1, 2), dtype=np.float32)


def test_bad_weight_assignment():
    net = MLP([3, 2, 1])
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(2, 3\), got \(3, 2\)"):
        net.weights[0] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"biases\[1\] contains NaN"):
        net.biases[1] = np.array([np.nan])
    with pytest.raises(ValueError, match="weights needs 2 arrays, got 1"):
        net.weights = [np.ones((2, 3))]
    with pytest.raises(IndexError):
        net.weights[2] = np.ones((1, 2))


def test_loss_needs_matching_output_activation():
    net = MLP([2, 1], output_activation="identity")
    expected = "'binary_cross_entropy' needs output_activation 'sigmoid'"
    with pytest.raises(ValueError, match=expected):
        net.gradients(np.ones((1, 2)), np.ones((1, 1)), loss="binary_cross_entropy")
    with pytest.raises(ValueError, match="unknown loss 'cross_entropy'"):
        net.loss(np.ones((1, 2)), np.ones((1, 1)), loss="cross_entropy")


def test_one_dimensional_targets_for_one_output():
    net = MLP([2, 1], output_activation="sigmoid")
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert net.loss(X, np.array([0.0, 1.0]), "binary_cross_entropy") == pytest.approx(
        net.loss(X, np.array([[0.0], [1.0]]), "binary_cross_entropy")
    )
