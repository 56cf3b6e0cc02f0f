import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpbook import activations, losses
from bpbook.gradcheck import numerical_gradient

rng = np.random.default_rng(0)


def test_mse_is_sum_over_outputs_mean_over_examples():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    Y = np.zeros((3, 2))
    assert losses.mse(A, Y) == pytest.approx((1 + 4 + 9 + 16) / 3)


def test_mse_gradient_matches_finite_differences():
    A, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    numeric = numerical_gradient(lambda a: losses.mse(a, Y), A.copy())
    np.testing.assert_allclose(losses.mse_gradient(A, Y), numeric, rtol=1e-7)


def test_binary_cross_entropy_forms_agree():
    Z = rng.normal(size=(5, 2))
    Y = rng.integers(0, 2, (5, 2)).astype(float)
    A = activations.sigmoid(Z)
    assert losses.binary_cross_entropy(A, Y) == pytest.approx(
        losses.binary_cross_entropy_with_logits(Z, Y), rel=1e-12
    )
    numeric = numerical_gradient(lambda a: losses.binary_cross_entropy(a, Y), A.copy())
    np.testing.assert_allclose(losses.binary_cross_entropy_gradient(A, Y), numeric, rtol=1e-6)


def test_binary_cross_entropy_with_logits_survives_saturation():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = losses.binary_cross_entropy_with_logits([[800.0]], [[0.0]])
    assert value == pytest.approx(800.0)
    assert losses.binary_cross_entropy([[1.0]], [[0.0]]) == np.inf


def test_softmax_cross_entropy_accepts_labels_and_one_hot():
    Z = rng.normal(size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    one_hot = np.eye(4)[labels]
    assert losses.softmax_cross_entropy(Z, labels) == losses.softmax_cross_entropy(Z, one_hot)
    direct = -np.mean(np.log(activations.softmax(Z))[np.arange(6), labels])
    assert losses.softmax_cross_entropy(Z, labels) == pytest.approx(direct, rel=1e-12)


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    Z, labels = rng.normal(size=(3, 5)), np.array([4, 0, 2])
    numeric = numerical_gradient(lambda z: losses.softmax_cross_entropy(z, labels), Z.copy())
    np.testing.assert_allclose(losses.softmax_cross_entropy_gradient(Z, labels), numeric, rtol=1e-7)


@given(st.floats(-1e300, 1e300), st.floats(-1e300, 1e300), st.integers(0, 1))
def test_softmax_cross_entropy_is_finite_for_finite_logits(z0, z1, label):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = losses.softmax_cross_entropy([[z0, z1]], [label])
    assert np.isfinite(value) and value >= 0


@given(st.floats(-700, 700), st.floats(0, 1))
def test_softplus_and_logits_bce_are_finite(z, y):
    value = losses.binary_cross_entropy_with_logits([[z]], [[y]])
    assert np.isfinite(value) and value >= -1e-12


def test_logsumexp_matches_naive_where_naive_works():
    Z = rng.normal(size=(4, 3))
    np.testing.assert_allclose(losses.logsumexp(Z), np.log(np.exp(Z).sum(axis=1)))
    assert losses.logsumexp(np.array([[1000.0, 1000.0]]))[0] == pytest.approx(1000 + np.log(2))


def test_l2_penalty_is_half_alpha_times_the_squared_norms():
    weights = [np.ones((2, 3)), 2 * np.ones((1, 2))]
    assert losses.l2_penalty(weights, 0.5) == pytest.approx(0.5 / 2 * (6 + 8))
    assert losses.l2_penalty(weights, 0.0) == 0.0


def test_negative_l2_is_refused():
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -0.1"):
        losses.l2_penalty([np.ones((1, 1))], -0.1)
    with pytest.raises(TypeError, match="l2 must be a real number"):
        losses.l2_penalty([np.ones((1, 1))], "0.1")


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"A has shape \(2, 3\) but Y has shape \(2, 2\)"):
        losses.mse(np.ones((2, 3)), np.ones((2, 2)))


def test_label_errors_are_named():
    with pytest.raises(ValueError, match=r"integer labels in Y must lie in \[0, 3\)"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="Y has 3 labels but X has 2 examples"):
        losses.check_targets(np.array([0, 1, 2]), 2, 3, "softmax_cross_entropy")
    with pytest.raises(ValueError, match="each row of Y to sum to 1"):
        losses.softmax_cross_entropy(np.zeros((1, 2)), np.array([[1.0, 1.0]]))
    with pytest.raises(ValueError, match="needs targets Y in \\[0, 1\\]"):
        losses.check_targets(np.array([[2.0]]), 1, 1, "binary_cross_entropy")


def test_probabilities_out_of_range_are_refused():
    with pytest.raises(ValueError, match="A must hold probabilities"):
        losses.binary_cross_entropy([[1.5]], [[1.0]])


def test_unknown_loss_and_wrong_output_activation():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*'mse'"):
        losses.check_loss_and_output("hinge", "identity")
    expected = "'binary_cross_entropy' needs output_activation 'sigmoid'"
    with pytest.raises(ValueError, match=expected):
        losses.check_loss_and_output("binary_cross_entropy", "identity")


@pytest.mark.parametrize(
    "loss, output",
    [("mse", "identity"), ("mse", "tanh"), ("mse", "softmax"),
     ("binary_cross_entropy", "sigmoid"), ("softmax_cross_entropy", "identity")],
)
def test_output_delta_is_gradient_with_respect_to_z(loss, output):
    Z = rng.normal(size=(4, 3))
    Y = (np.eye(3)[[0, 2, 1, 1]] if loss == "softmax_cross_entropy"
         else rng.integers(0, 2, (4, 3)).astype(float))

    def forward(z):
        if output == "softmax":
            return activations.softmax(z)
        return activations.get_activation(output)(z)

    def value(z):
        return losses.loss_and_output_delta(loss, z, forward(z), Y, output)[0]

    _, delta = losses.loss_and_output_delta(loss, Z, forward(Z), Y, output)
    np.testing.assert_allclose(delta, numerical_gradient(value, Z.copy()), rtol=1e-7, atol=1e-11)


# --- the error rate (0-1 loss) ------------------------------------------------------


def test_error_rate_counts_wrong_classes():
    A = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2]])
    labels = np.array([0, 1, 1, 0])  # the tie in the last row goes to class 0
    assert losses.error_rate(A, labels) == 0.25
    assert losses.error_rate(A, np.eye(3)[labels]) == 0.25
    assert losses.error_rate(A, np.argmax(A, axis=1)) == 0.0


def test_error_rate_of_one_output_uses_the_threshold():
    A = np.array([[0.7], [0.4], [-0.2], [0.1]])
    assert losses.error_rate(A, [1, 0, 0, 0]) == 0.0
    assert losses.error_rate(A, np.array([[1.0], [0.0], [0.0], [0.0]])) == 0.0
    assert losses.error_rate(A, [1, 0, 0, 0], threshold=0.0) == 0.5  # 0.4 and 0.1 flip


def test_error_rate_has_zero_gradient_where_cross_entropy_does_not():
    Z = rng.normal(size=(20, 4))
    labels = rng.integers(0, 4, size=20)
    step = numerical_gradient(lambda z: losses.error_rate(z, labels), Z.copy())
    smooth = numerical_gradient(lambda z: losses.softmax_cross_entropy(z, labels), Z.copy())
    assert np.all(step == 0.0)
    assert np.all(smooth != 0.0)


def test_error_rate_refuses_bad_labels_and_shapes():
    with pytest.raises(ValueError, match=r"labels in Y must be classes 0 \.\. 2"):
        losses.error_rate(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match=r"labels in Y must be classes 0 \.\. 1"):
        losses.error_rate(np.zeros((2, 1)), [0, 2])
    with pytest.raises(ValueError, match=r"Y must hold 2 labels"):
        losses.error_rate(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"Y has shape \(2, 2\) but A has shape \(2, 3\)"):
        losses.error_rate(np.zeros((2, 3)), np.eye(2))
    with pytest.raises(TypeError, match="threshold must be a finite real number"):
        losses.error_rate(np.zeros((2, 1)), [0, 1], threshold=float("nan"))


# --- the Gaussian negative log-likelihood -------------------------------------------


def test_gaussian_nll_is_the_negative_mean_log_density():
    from scipy.stats import norm

    A, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    variance = rng.uniform(0.2, 3.0, size=(5, 3))
    expected = -np.sum(norm.logpdf(Y, loc=A, scale=np.sqrt(variance))) / 5
    assert losses.gaussian_nll(A, Y, variance) == pytest.approx(expected, rel=1e-13)
    shared = -np.sum(norm.logpdf(Y, loc=A, scale=np.sqrt(0.7))) / 5
    assert losses.gaussian_nll(A, Y, 0.7) == pytest.approx(shared, rel=1e-13)


def test_gaussian_nll_at_variance_one_half_is_mse_plus_a_constant():
    for K in (1, 4):
        A, Y = rng.normal(size=(6, K)), rng.normal(size=(6, K))
        gap = losses.gaussian_nll(A, Y, 0.5) - losses.mse(A, Y)
        assert gap == pytest.approx(K / 2 * np.log(np.pi), rel=1e-13)
        np.testing.assert_allclose(
            losses.gaussian_nll_gradient(A, Y, 0.5), losses.mse_gradient(A, Y), rtol=1e-15
        )


def test_gaussian_nll_gradient_matches_finite_differences():
    A, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    variance = rng.uniform(0.5, 2.0, size=(4, 1))  # one variance per example, broadcast
    numeric = numerical_gradient(lambda a: losses.gaussian_nll(a, Y, variance), A.copy())
    np.testing.assert_allclose(
        losses.gaussian_nll_gradient(A, Y, variance), numeric, rtol=1e-7
    )


def test_gaussian_nll_refuses_a_bad_variance():
    A = np.zeros((2, 2))
    with pytest.raises(ValueError, match="variance must be > 0 everywhere"):
        losses.gaussian_nll(A, A, [[1.0], [0.0]])
    with pytest.raises(ValueError, match=r"variance has shape \(3,\), which does not"):
        losses.gaussian_nll(A, A, np.ones(3))
    with pytest.raises(ValueError, match="variance contains NaN or infinity"):
        losses.gaussian_nll(A, A, np.inf)
