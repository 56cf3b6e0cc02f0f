"""Every loss in ``bpbook.losses`` against an independent SymPy derivation.

Each test writes the loss for a whole ``(m, K)`` batch as a SymPy expression in one
symbol per entry, differentiates it with ``sympy.diff``, evaluates value and gradient at
seeded random points with ``lambdify``, and compares with the package. The identities
the loss-functions chapter states (softmax + cross-entropy gives p − y, sigmoid + binary
cross-entropy gives a − y, sigmoid + squared error keeps σ'(z)) are proved with
``simplify``.
"""

import numpy as np
import pytest
import sympy as sp

from bpbook import activations, losses
from bpbook.symbolic import activation

SHAPES = [(1, 1), (3, 2), (5, 4)]
CLASS_SHAPES = [(1, 2), (3, 3), (4, 5)]
RTOL, ATOL = 1e-12, 1e-14


def symbols(name, shape):
    """A matrix of real symbols ``name_i_k`` of the given shape."""
    return sp.Matrix(*shape, lambda i, k: sp.Symbol(f"{name}_{i}_{k}", real=True))


def evaluate(expr, variables, arrays):
    """``expr`` at the point where each symbol matrix takes the matching array's values."""
    flat_symbols = [s for matrix in variables for s in matrix]
    flat_values = [v for array in arrays for v in np.asarray(array, dtype=float).ravel()]
    return np.asarray(sp.lambdify(flat_symbols, expr, "numpy")(*flat_values), dtype=float)


def gradient(E, matrix):
    """The matrix of partial derivatives ``∂E/∂matrix[i, k]``."""
    return matrix.applyfunc(lambda s: sp.diff(E, s))


def sigmoid(x):
    return activation("sigmoid", x)


def softmax_rows(Z):
    """Row-wise softmax of a symbol matrix."""
    rows = []
    for i in range(Z.rows):
        total = sum(sp.exp(Z[i, j]) for j in range(Z.cols))
        rows.append([sp.exp(Z[i, k]) / total for k in range(Z.cols)])
    return sp.Matrix(rows)


def one_hot_rows(rng, shape):
    return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]


def distribution_rows(rng, shape):
    weights = rng.uniform(0.1, 1.0, size=shape)
    return weights / weights.sum(axis=1, keepdims=True)


# --- symbolic losses, written from their definitions --------------------------------


def mse_expr(A, Y):
    m = A.rows
    return sum((A[i, k] - Y[i, k]) ** 2 for i in range(m) for k in range(A.cols)) / m


def bce_expr(A, Y):
    """Negative log of the Bernoulli likelihood, averaged over the rows."""
    m = A.rows
    log_likelihood = sum(
        Y[i, k] * sp.log(A[i, k]) + (1 - Y[i, k]) * sp.log(1 - A[i, k])
        for i in range(m)
        for k in range(A.cols)
    )
    return -log_likelihood / m


def softmax_ce_expr(Z, Y):
    """Negative log of the categorical likelihood of softmax(Z), averaged over rows."""
    P = softmax_rows(Z)
    m = Z.rows
    return -sum(Y[i, k] * sp.log(P[i, k]) for i in range(m) for k in range(Z.cols)) / m


# --- values and gradients -----------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_mse_value_and_gradient(shape):
    rng = np.random.default_rng(sum(shape))
    A_sym, Y_sym = symbols("a", shape), symbols("y", shape)
    E = mse_expr(A_sym, Y_sym)
    A, Y = rng.normal(size=shape), rng.normal(size=shape)
    point = ((A_sym, Y_sym), (A, Y))
    np.testing.assert_allclose(losses.mse(A, Y), evaluate(E, *point), rtol=RTOL)
    np.testing.assert_allclose(
        losses.mse_gradient(A, Y), evaluate(gradient(E, A_sym), *point), rtol=RTOL, atol=ATOL
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("targets", ["labels", "soft"])
def test_binary_cross_entropy_value_and_gradient(shape, targets):
    rng = np.random.default_rng(10 + sum(shape))
    A_sym, Y_sym = symbols("a", shape), symbols("y", shape)
    E = bce_expr(A_sym, Y_sym)
    A = rng.uniform(0.02, 0.98, size=shape)
    Y = rng.integers(0, 2, size=shape).astype(float) if targets == "labels" else rng.uniform(
        size=shape
    )
    point = ((A_sym, Y_sym), (A, Y))
    np.testing.assert_allclose(losses.binary_cross_entropy(A, Y), evaluate(E, *point), rtol=RTOL)
    np.testing.assert_allclose(
        losses.binary_cross_entropy_gradient(A, Y),
        evaluate(gradient(E, A_sym), *point),
        rtol=1e-10,
        atol=ATOL,
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_binary_cross_entropy_with_logits_is_the_nll_of_a_sigmoid(shape):
    rng = np.random.default_rng(20 + sum(shape))
    Z_sym, Y_sym = symbols("z", shape), symbols("y", shape)
    E = bce_expr(Z_sym.applyfunc(sigmoid), Y_sym)
    Z = rng.normal(scale=3.0, size=shape)
    Y = rng.integers(0, 2, size=shape).astype(float)
    point = ((Z_sym, Y_sym), (Z, Y))
    np.testing.assert_allclose(
        losses.binary_cross_entropy_with_logits(Z, Y), evaluate(E, *point), rtol=RTOL
    )


@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("targets", ["one-hot", "distribution"])
def test_softmax_cross_entropy_value_and_gradient(shape, targets):
    rng = np.random.default_rng(30 + sum(shape))
    Z_sym, Y_sym = symbols("z", shape), symbols("y", shape)
    E = softmax_ce_expr(Z_sym, Y_sym)
    Z = rng.normal(scale=3.0, size=shape)
    Y = one_hot_rows(rng, shape) if targets == "one-hot" else distribution_rows(rng, shape)
    point = ((Z_sym, Y_sym), (Z, Y))
    np.testing.assert_allclose(losses.softmax_cross_entropy(Z, Y), evaluate(E, *point), rtol=RTOL)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy_gradient(Z, Y),
        evaluate(gradient(E, Z_sym), *point),
        rtol=1e-10,
        atol=ATOL,
    )


def test_integer_labels_mean_the_same_as_one_hot_rows():
    rng = np.random.default_rng(40)
    Z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    assert losses.softmax_cross_entropy(Z, labels) == losses.softmax_cross_entropy(
        Z, np.eye(4)[labels]
    )


# --- the output delta of every loss and output activation ---------------------------

DELTA_CASES = [
    ("mse", "identity"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "relu"),
    ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("softmax_cross_entropy", "softmax"),
    ("softmax_cross_entropy", "identity"),
]


def loss_of_logits(loss, output, Z_sym, Y_sym):
    """E as a function of the output layer's weighted input Z, from the definitions."""
    if loss == "softmax_cross_entropy":  # the softmax is part of the loss for "identity"
        return softmax_ce_expr(Z_sym, Y_sym)
    if output == "softmax":
        A_sym = softmax_rows(Z_sym)
    else:
        A_sym = Z_sym.applyfunc(lambda x: activation(output, x))
    return mse_expr(A_sym, Y_sym) if loss == "mse" else bce_expr(A_sym, Y_sym)


def output_of(output, Z):
    if output == "softmax":
        return activations.softmax(Z)
    return activations.get_activation(output).function(Z)


@pytest.mark.parametrize(("loss", "output"), DELTA_CASES)
@pytest.mark.parametrize("shape", [(1, 2), (4, 3)])
def test_loss_and_output_delta(loss, output, shape):
    rng = np.random.default_rng([DELTA_CASES.index((loss, output)), *shape])
    Z_sym, Y_sym = symbols("z", shape), symbols("y", shape)
    E = loss_of_logits(loss, output, Z_sym, Y_sym)
    Z = rng.normal(scale=2.0, size=shape)
    if loss == "mse":
        Y = rng.normal(size=shape)
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=shape).astype(float)
    else:
        Y = one_hot_rows(rng, shape)
    value, delta = losses.loss_and_output_delta(loss, Z, output_of(output, Z), Y, output)
    point = ((Z_sym, Y_sym), (Z, Y))
    np.testing.assert_allclose(value, evaluate(E, *point), rtol=1e-11)
    np.testing.assert_allclose(
        delta, evaluate(gradient(E, Z_sym), *point), rtol=1e-10, atol=1e-14
    )


# --- the identities of the chapter, proved symbolically -----------------------------

z, y = sp.symbols("z y", real=True)
m = sp.Symbol("m", positive=True)


def test_sigmoid_with_binary_cross_entropy_gives_a_minus_y():
    a = sp.Symbol("a", real=True)
    E = (-y * sp.log(a) - (1 - y) * sp.log(1 - a)) / m
    delta = sp.diff(E.subs(a, sigmoid(z)), z)
    assert sp.simplify(delta - (sigmoid(z) - y) / m) == 0


def test_sigmoid_with_squared_error_keeps_the_sigmoid_slope():
    a = sp.Symbol("a", real=True)
    E = (a - y) ** 2 / m
    delta = sp.diff(E.subs(a, sigmoid(z)), z)
    slope = sp.diff(sigmoid(z), z)
    assert sp.simplify(delta - 2 * (sigmoid(z) - y) * slope / m) == 0
    # ... so the a − y form of cross-entropy does not hold for it:
    assert sp.simplify(delta - (sigmoid(z) - y) / m) != 0


@pytest.mark.parametrize("K", [2, 3])
def test_softmax_with_cross_entropy_gives_p_minus_y(K):
    Z_sym, Y_sym = symbols("z", (1, K)), symbols("y", (1, K))
    E = softmax_ce_expr(Z_sym, Y_sym)
    P = softmax_rows(Z_sym)
    on_simplex = {Y_sym[0, K - 1]: 1 - sum(Y_sym[0, k] for k in range(K - 1))}
    for k in range(K):
        gap = sp.diff(E, Z_sym[0, k]) - (P[0, k] - Y_sym[0, k])
        assert sp.simplify(gap.subs(on_simplex)) == 0


def test_p_minus_y_needs_targets_that_sum_to_one():
    Z_sym, Y_sym = symbols("z", (1, 3)), symbols("y", (1, 3))
    E = softmax_ce_expr(Z_sym, Y_sym)
    P = softmax_rows(Z_sym)
    gap = sp.diff(E, Z_sym[0, 0]) - (P[0, 0] - Y_sym[0, 0])
    assert sp.simplify(gap) != 0
    total = sum(Y_sym)
    assert sp.simplify(sp.diff(E, Z_sym[0, 0]) - (P[0, 0] * total - Y_sym[0, 0])) == 0


def test_binary_cross_entropy_is_convex_in_the_logit():
    a = sp.Symbol("a", real=True)
    E = (-y * sp.log(a) - (1 - y) * sp.log(1 - a)) / m
    second = sp.diff(E.subs(a, sigmoid(z)), z, 2)
    assert sp.simplify(second - sigmoid(z) * (1 - sigmoid(z)) / m) == 0


# --- L2 regularisation --------------------------------------------------------------


@pytest.mark.parametrize("shapes", [[(2, 3)], [(4, 3), (2, 4)]])
def test_l2_penalty_value_and_gradient(shapes):
    rng = np.random.default_rng(len(shapes))
    alpha = 0.7
    W_syms = [symbols(f"w{l}", shape) for l, shape in enumerate(shapes)]
    alpha_sym = sp.Symbol("alpha", positive=True)
    penalty = alpha_sym / 2 * sum(w**2 for W in W_syms for w in W)
    Ws = [rng.normal(size=shape) for shape in shapes]
    expected = evaluate(penalty.subs(alpha_sym, alpha), W_syms, Ws)
    assert losses.l2_penalty(Ws, alpha) == pytest.approx(float(expected), rel=1e-13)
    for W_sym in W_syms:
        grad = gradient(penalty, W_sym)
        assert sp.simplify(grad - alpha_sym * W_sym) == sp.zeros(*W_sym.shape)


# --- squared error as a Gaussian likelihood; the canonical links --------------------


def gaussian_nll_expr(A, Y, V):
    """Negative log of the Gaussian density N(y; a, v), summed over entries, mean over rows."""
    m = A.rows
    return -sum(
        sp.log(sp.exp(-((Y[i, k] - A[i, k]) ** 2) / (2 * V[i, k])) / sp.sqrt(2 * sp.pi * V[i, k]))
        for i in range(m)
        for k in range(A.cols)
    ) / m


@pytest.mark.parametrize("shape", [(1, 1), (3, 2)])
def test_gaussian_nll_value_and_gradient(shape):
    rng = np.random.default_rng(50 + sum(shape))
    A_sym, Y_sym = symbols("a", shape), symbols("y", shape)
    V_sym = sp.Matrix(*shape, lambda i, k: sp.Symbol(f"v_{i}_{k}", positive=True))
    E = gaussian_nll_expr(A_sym, Y_sym, V_sym)
    A, Y = rng.normal(size=shape), rng.normal(size=shape)
    V = rng.uniform(0.3, 2.0, size=shape)
    point = ((A_sym, Y_sym, V_sym), (A, Y, V))
    np.testing.assert_allclose(losses.gaussian_nll(A, Y, V), evaluate(E, *point), rtol=RTOL)
    np.testing.assert_allclose(
        losses.gaussian_nll_gradient(A, Y, V),
        evaluate(gradient(E, A_sym), *point),
        rtol=1e-10,
        atol=ATOL,
    )


def test_squared_error_is_the_gaussian_nll_with_variance_one_half():
    a = sp.Symbol("a", real=True)
    nll = -sp.log(sp.exp(-((y - a) ** 2) / (2 * sp.Rational(1, 2))) / sp.sqrt(sp.pi))
    assert sp.simplify(sp.expand_log(nll, force=True) - ((a - y) ** 2 + sp.log(sp.pi) / 2)) == 0


@pytest.mark.parametrize(
    ("name", "log_partition", "link"),
    [
        ("bernoulli", sp.log(1 + sp.exp(z)), activation("sigmoid")),
        ("gaussian", z**2 / 2, z),
    ],
)
def test_canonical_link_makes_the_delta_a_minus_y(name, log_partition, link):
    """−log p(y | z) = A(z) − y z + const, so ∂/∂z = A'(z) − y, and A' is the output activation."""
    assert sp.simplify(sp.diff(log_partition, z) - link) == 0, name
    nll = log_partition - y * z
    assert sp.simplify(sp.diff(nll, z) - (link - y)) == 0, name


@pytest.mark.parametrize("K", [2, 3, 4])
def test_categorical_log_partition_is_logsumexp_and_its_gradient_the_softmax(K):
    Z_sym, Y_sym = symbols("z", (1, K)), symbols("y", (1, K))
    log_partition = sp.log(sum(sp.exp(Z_sym[0, k]) for k in range(K)))
    P = softmax_rows(Z_sym)
    for k in range(K):
        assert sp.simplify(sp.diff(log_partition, Z_sym[0, k]) - P[0, k]) == 0
    # one-hot (or any target summing to 1): −Σ y log p = logsumexp(z) − yᵀz
    on_simplex = {Y_sym[0, K - 1]: 1 - sum(Y_sym[0, k] for k in range(K - 1))}
    nll = (log_partition - sum(Y_sym[0, k] * Z_sym[0, k] for k in range(K))).subs(on_simplex)
    ce = softmax_ce_expr(Z_sym, Y_sym).subs(on_simplex)
    assert sp.simplify(sp.expand_log(ce - nll, force=True)) == 0


@pytest.mark.parametrize("K", [2, 3, 5])
def test_softmax_jacobian_entries_are_p_k_times_indicator_minus_p_j(K):
    Z_sym = symbols("z", (1, K))
    P = softmax_rows(Z_sym)
    for k in range(K):
        for j in range(K):
            claimed = P[0, k] * ((1 if k == j else 0) - P[0, j])
            assert sp.simplify(sp.diff(P[0, k], Z_sym[0, j]) - claimed) == 0
