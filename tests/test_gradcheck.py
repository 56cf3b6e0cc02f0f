import numpy as np
import pytest

from bpbook import MLP
from bpbook.gradcheck import GradientCheck, check_gradients, numerical_gradient, relative_error


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


def test_relative_error_cases():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert relative_error(1.0, -1.0) == pytest.approx(2.0)
    assert relative_error([1e-20], [2e-20]) == pytest.approx(0.5)


def test_check_gradients_reports_each_layer():
    rng = np.random.default_rng(0)
    net = MLP([3, 4, 2], activation="tanh", seed=0)
    report = check_gradients(net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    assert isinstance(report, GradientCheck)
    assert len(report.weight_errors) == len(report.bias_errors) == 2
    assert report.passed(1e-7)
    assert "layer" in str(report)


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
    assert report.weight_errors[1] < 1e-7
    assert not report.passed()


def test_bad_arguments():
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3, np.ones(2))
    with pytest.raises(TypeError, match="x must be a float64 numpy array"):
        numerical_gradient(lambda v: 0.0, [1.0, 2.0])
    with pytest.raises(TypeError, match="of dtype float32"):
        numerical_gradient(lambda v: 0.0, np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        numerical_gradient(lambda v: 0.0, np.ones(2), h=-1e-5)
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        relative_error(np.ones(2), np.ones(3))
