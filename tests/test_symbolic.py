import numpy as np
import pytest
import sympy as sp

from bpbook import activations, symbolic


def test_assert_matches_accepts_equal_and_reports_different():
    x = sp.Symbol("x")
    assert symbolic.assert_matches(sp.sin(x) ** 2, [x], lambda v: np.sin(v) ** 2) < 1e-12
    with pytest.raises(AssertionError, match="differs from symbolic"):
        symbolic.assert_matches(sp.sin(x), [x], lambda v: np.sin(v) + 1e-6)


def test_activation_lookup():
    y = sp.Symbol("y")
    assert symbolic.activation("tanh", 2 * y) == sp.tanh(2 * y)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        symbolic.activation("gelu")


@pytest.mark.parametrize("name", sorted(symbolic.ACTIVATIONS))
def test_activations_and_derivatives_match_the_package(name):
    g = activations.get_activation(name)
    expr = symbolic.activation(name)
    derivative = sp.diff(expr, symbolic.z)
    symbolic.assert_matches(expr, [symbolic.z], g.function, samples=200, low=-8, high=8)
    symbolic.assert_matches(derivative, [symbolic.z], g.derivative, samples=200, low=-8, high=8)
    symbolic.assert_matches(derivative, [symbolic.z],
                            lambda v: g.derivative_from_output(g.function(v)),
                            samples=200, low=-8, high=8)


def test_relu_derivative_at_zero_is_a_convention():
    # What the docstring of symbolic.ACTIVATIONS says: SymPy's derivative of Max(0, z) is
    # Heaviside(z), which SymPy sets to 1/2 at 0, while the package uses 0 there.
    derivative = sp.diff(symbolic.activation("relu"), symbolic.z)
    assert derivative == sp.Heaviside(symbolic.z)
    assert derivative.subs(symbolic.z, 0) == sp.Rational(1, 2)
    assert activations.relu_prime(0.0) == 0.0
