import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from bpbook import activations as act
from bpbook import symbolic
from bpbook.gradcheck import numerical_gradient

ELEMENTWISE = ["sigmoid", "tanh", "relu", "identity"]
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_sympy(name):
    g = act.get_activation(name)
    expr = symbolic.activation(name)
    symbolic.assert_matches(expr, [symbolic.z], g.function)
    # ReLU's derivative is Heaviside in SymPy; random points are never exactly 0.
    symbolic.assert_matches(sp.diff(expr, symbolic.z), [symbolic.z], g.derivative)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    g = act.get_activation(name)
    z = np.array([-2.3, -0.7, 0.4, 1.9])
    numeric = np.array([numerical_gradient(lambda v: float(g(v)[0]), np.array([x]))[0] for x in z])
    np.testing.assert_allclose(g.derivative(z), numeric, rtol=1e-7, atol=1e-10)


def test_sigmoid_extremes_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert act.sigmoid(-1000.0) == 0.0
        assert act.sigmoid(1000.0) == 1.0
        assert act.sigmoid_prime(-1000.0) == 0.0


@given(arrays(np.float64, array_shapes(max_dims=3, max_side=5), elements=finite))
def test_sigmoid_is_bounded_and_symmetric(z):
    s = act.sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + act.sigmoid(-z), 1.0, atol=1e-15)
    assert np.all(act.sigmoid_prime(z) <= 0.25)


@given(arrays(np.float64, array_shapes(min_dims=2, max_dims=2, max_side=6), elements=finite))
def test_softmax_rows_are_distributions(z):
    p = act.softmax(z)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


def test_softmax_is_shift_invariant_and_stable():
    z = np.array([[1000.0, 999.0, -1000.0]])
    np.testing.assert_allclose(act.softmax(z), act.softmax(z - 1000.0))


def test_softmax_jacobian_matches_sympy_and_backward():
    z = sp.symbols("z0:3", real=True)
    e = [sp.exp(zi) for zi in z]
    p = [ei / sum(e) for ei in e]
    jac = sp.Matrix(3, 3, lambda k, j: sp.diff(p[k], z[j]))
    point = {zi: v for zi, v in zip(z, [0.3, -1.2, 2.0], strict=True)}
    expected = np.array(jac.subs(point).evalf(), dtype=float)
    J = act.softmax_jacobian(np.array([0.3, -1.2, 2.0]))
    np.testing.assert_allclose(J, expected, rtol=1e-12)
    g = np.array([[0.5, -1.0, 2.0]])
    probs = act.softmax(np.array([[0.3, -1.2, 2.0]]))
    np.testing.assert_allclose(act.softmax_backward(probs, g), (J.T @ g[0])[None], rtol=1e-12)


def test_relu_derivative_at_zero_is_zero():
    assert act.relu_prime(0.0) == 0.0


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*'sigmoid'"):
        act.get_activation("swish")
    with pytest.raises(TypeError, match="activation name must be a string"):
        act.get_activation(3)


def test_non_numeric_input_is_refused():
    with pytest.raises(TypeError, match="z must contain real numbers"):
        act.sigmoid(["a", "b"])


def test_float32_is_refused():
    with pytest.raises(TypeError, match="z has dtype float32.*float64"):
        act.tanh(np.ones(3, dtype=np.float32))


def test_integers_are_accepted_as_float64():
    assert act.relu(np.array([-2, 3])).dtype == np.float64


def test_softmax_backward_shape_mismatch():
    with pytest.raises(ValueError, match="p has shape"):
        act.softmax_backward(np.ones((2, 3)) / 3, np.ones((2, 2)))


@pytest.mark.parametrize("K", [2, 5, 11])
def test_softmax_jacobian_is_diag_p_minus_p_p_transpose_for_any_K(K):
    rng = np.random.default_rng(K)
    z = rng.normal(scale=2.0, size=K)
    p = act.softmax(z)
    J = act.softmax_jacobian(z)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-14, atol=1e-16)
    numeric = np.column_stack([
        numerical_gradient(lambda v, k=k: float(act.softmax(v)[k]), z.copy()) for k in range(K)
    ]).T  # row k is the gradient of p_k
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(J, J.T, rtol=0, atol=0)
    np.testing.assert_allclose(J.sum(axis=0), 0.0, atol=1e-15)


def test_softmax_backward_is_the_vector_jacobian_product_for_a_batch():
    rng = np.random.default_rng(7)
    Z, G = rng.normal(size=(6, 9)), rng.normal(size=(6, 9))
    J = act.softmax_jacobian(Z)  # shape (6, 9, 9)
    expected = np.einsum("ikj,ik->ij", J, G)  # row i is J_iᵀ g_i
    np.testing.assert_allclose(act.softmax_backward(act.softmax(Z), G), expected, rtol=1e-12,
                               atol=1e-15)


def test_softmax_backward_ignores_a_gradient_shared_by_all_classes():
    rng = np.random.default_rng(8)
    P = act.softmax(rng.normal(size=(3, 4)))
    G = rng.normal(size=(3, 4))
    shifted = G + rng.normal(size=(3, 1))  # add the same number to every class of a row
    np.testing.assert_allclose(act.softmax_backward(P, shifted), act.softmax_backward(P, G),
                               atol=1e-14)
