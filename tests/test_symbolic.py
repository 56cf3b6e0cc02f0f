import numpy as np
import pytest
import sympy as sp

from bpbook import symbolic


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
