"""Tests of bpbook.gradcheck: finite differences, the two relative errors, the layer report."""

import numpy as np
import pytest

from bpbook import MLP
from bpbook.gradcheck import (
    GradientCheck,
    check_gradients,
    elementwise_relative_error,
    numerical_gradient,
    numerical_partials,
    relative_error,
)


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: float(np.sum(np.sin(v) * v)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-9)


def test_numerical_gradient_restores_x_even_when_f_fails():
    x = np.array([1.0, 2.0])

    def failing(v):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(failing, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_central_difference_error_is_second_order():
    f = lambda v: float(np.exp(v[0]))  # noqa: E731
    x = np.array([0.3])
    errors = [abs(numerical_gradient(f, x, h)[0] - np.exp(0.3)) for h in (1e-2, 1e-3)]
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)


def test_partials_are_the_chosen_entries_of_the_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    f = lambda v: float(np.sum(np.tanh(v) * v[::-1]))  # noqa: E731
    full = numerical_gradient(f, x)
    before = x.copy()
    some = numerical_partials(f, x, [11, 0, 5])
    np.testing.assert_array_equal(some, full.reshape(-1)[[11, 0, 5]])
    np.testing.assert_array_equal(x, before)
    assert numerical_partials(f, x, []).shape == (0,)


def test_partials_count_evaluations():
    calls = []
    x = np.zeros(10)
    numerical_partials(lambda v: calls.append(1) or 0.0, x, [1, 2, 3])
    assert len(calls) == 6


def test_relative_error_cases():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert relative_error(1.0, -1.0) == pytest.approx(2.0)
    assert relative_error([1e-20], [2e-20]) == pytest.approx(0.5)


def test_elementwise_error_sees_what_the_norm_ratio_hides():
    exact = np.array([1.0, -0.5, 2e-9])
    wrong = np.array([1.0, -0.5, 0.0])  # the small entry is 100% wrong
    assert relative_error(exact, wrong) < 1e-8
    errors = elementwise_relative_error(exact, wrong)
    np.testing.assert_array_equal(errors, [0.0, 0.0, 1.0])
    assert float(elementwise_relative_error(2.0, -2.0)) == 2.0
    assert elementwise_relative_error(np.zeros(3), np.zeros(3)).tolist() == [0.0] * 3


def test_check_gradients_reports_each_layer():
    rng = np.random.default_rng(0)
    net = MLP([3, 4, 2], activation="tanh", seed=0)
    report = check_gradients(net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    assert isinstance(report, GradientCheck)
    assert len(report.weight_errors) == len(report.bias_errors) == 2
    assert len(report.weight_elementwise) == len(report.bias_elementwise) == 2
    assert report.coordinates == net.n_parameters
    assert report.passed(1e-7)
    # |a_k − b_k| ≤ e max(|a_k|, |b_k|) for all k gives ‖a − b‖ ≤ √2 e max(‖a‖, ‖b‖).
    assert report.max_error <= np.sqrt(2) * report.max_elementwise_error
    assert report.passed(1e-5, elementwise=True)
    text = str(report).splitlines()
    # Layers are numbered as in the book, l = 1 .. L.
    assert [line.split()[0] for line in text[1:]] == ["1", "2"]


def test_check_gradients_catches_a_wrong_gradient():
    class Broken(MLP):
        def gradients(self, X, Y, loss="mse", l2=0.0):
            E, gw, gb = super().gradients(X, Y, loss, l2)
            gw[0] = gw[0] * 1.01  # a 1% error in one layer
            return E, gw, gb

    rng = np.random.default_rng(1)
    net = Broken([3, 4, 2], seed=1)
    report = check_gradients(net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    assert report.weight_errors[0] > 1e-3
    assert report.weight_elementwise[0] == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert report.weight_errors[1] < 1e-7
    assert not report.passed()


def test_a_small_wrong_entry_passes_the_norm_ratio_but_not_the_elementwise_check():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    reference = MLP([3, 4, 2], activation="tanh", seed=2)
    _, gw, _ = reference.gradients(X, Y)
    small = np.unravel_index(np.argmin(np.abs(gw[0])), gw[0].shape)

    class SmallEntryWrong(MLP):
        def gradients(self, X, Y, loss="mse", l2=0.0):
            E, gw, gb = super().gradients(X, Y, loss, l2)
            gw[0][small] = -gw[0][small]  # wrong sign, in the smallest entry only
            return E, gw, gb

    net = SmallEntryWrong([3, 4, 2], activation="tanh", seed=2)
    report = check_gradients(net, X, Y)
    ratio = 2 * abs(gw[0][small]) / np.linalg.norm(gw[0])
    assert report.weight_errors[0] == pytest.approx(ratio, rel=1e-3)
    assert report.weight_elementwise[0] == pytest.approx(2.0, rel=1e-4)


def test_random_coordinates():
    rng = np.random.default_rng(3)
    net = MLP([5, 6, 3], activation="tanh", seed=3)
    X, Y = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    report = check_gradients(net, X, Y, n_checked=4, seed=1)
    # 4 of 30 weights, 4 of 6 biases, 4 of 18 weights, all 3 biases.
    assert report.coordinates == 4 + 4 + 4 + 3
    assert report.passed(1e-7)
    again = check_gradients(net, X, Y, n_checked=4, seed=1)
    assert again == report


def test_strided_views_and_fortran_order_are_nudged_in_place():
    # A nudge must reach the caller's array whatever its memory layout: x.reshape(-1) is
    # a copy for a strided view or a matrix in Fortran order.
    base = np.arange(12.0).reshape(3, 4)
    view = base[:, 1:3]
    grad = numerical_gradient(lambda _: float(np.sum(base**2)), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-9)
    np.testing.assert_array_equal(base, np.arange(12.0).reshape(3, 4))
    net = MLP([3, 4, 2], activation="tanh", seed=0)
    net.weights[0] = np.asfortranarray(net.weights[0])  # as net.weights[0] = W.T does
    X = np.random.default_rng(0).normal(size=(5, 3))
    Y = np.random.default_rng(1).normal(size=(5, 2))
    assert check_gradients(net, X, Y).passed(1e-7)
    assert check_gradients(net, X, Y, n_checked=3).passed(1e-7)


def test_bad_arguments():
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3, np.ones(2))
    with pytest.raises(TypeError, match="x must be a float64 numpy array"):
        numerical_gradient(lambda v: 0.0, [1.0, 2.0])
    with pytest.raises(TypeError, match="of dtype float32"):
        numerical_gradient(lambda v: 0.0, np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        numerical_gradient(lambda v: 0.0, np.ones(2), h=-1e-5)
    with pytest.raises(IndexError, match="out of range"):
        numerical_partials(lambda v: 0.0, np.ones(3), [3])
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=r"a has shape"):
        elementwise_relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="n_checked"):
        check_gradients(MLP([2, 1]), [[0.0, 1.0]], [[0.0]], n_checked=0)
