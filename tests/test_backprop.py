"""Tests of bpbook.backprop: the per-example, perturbation and symbolic forms of backprop."""

import numpy as np
import pytest
import sympy as sp

from bpbook import MLP
from bpbook.backprop import (
    adjust_and_retest,
    backprop_example,
    count_forward_passes,
    deltas_by_paths,
    minibatch_deltas,
    multiply_adds,
    perturbation_gradients,
    symbolic_gradients,
    symbolic_network,
    theta_delta_gradients,
)
from bpbook.gradcheck import numerical_gradient, relative_error

# (layer sizes, hidden activation, output activation, loss)
CASES = [
    ((2, 2, 1), "sigmoid", "sigmoid", "mse"),
    ((3, 5, 2), "tanh", "identity", "mse"),
    ((4, 6, 5, 3), "relu", "softmax", "softmax_cross_entropy"),
    ((4, 3, 3), "tanh", "identity", "softmax_cross_entropy"),
    ((2, 7, 4, 2), "sigmoid", "sigmoid", "binary_cross_entropy"),
    ((5, 4), "identity", "tanh", "mse"),
    ((3, 4, 4, 4, 2), "relu", "softmax", "mse"),
]


def problem(sizes, loss, m=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, sizes[0]))
    K = sizes[-1]
    if loss == "softmax_cross_entropy":
        Y = rng.integers(0, K, size=m)
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=(m, K))
    else:
        Y = rng.normal(size=(m, K))
    return X, Y


def assert_same_gradients(a, b, rtol=1e-12, atol=1e-14):
    assert a[0] == pytest.approx(b[0], rel=rtol, abs=atol)
    for ga, gb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        assert ga.shape == gb.shape
        np.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol)


@pytest.mark.parametrize("sizes, act, out, loss", CASES)
@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_theta_delta_equals_vectorised(sizes, act, out, loss, l2):
    net = MLP(sizes, activation=act, output_activation=out, seed=3)
    X, Y = problem(sizes, loss)
    assert_same_gradients(theta_delta_gradients(net, X, Y, loss, l2), net.gradients(X, Y, loss, l2))


@pytest.mark.parametrize("sizes, act, out, loss", CASES)
def test_theta_delta_agrees_with_finite_differences(sizes, act, out, loss):
    # An independent reference: equality with MLP.gradients alone would not catch a
    # mistake the two implementations share.
    net = MLP(sizes, activation=act, output_activation=out, seed=6)
    X, Y = problem(sizes, loss, seed=1)
    _, gw, gb = theta_delta_gradients(net, X, Y, loss, 0.4)

    def f(_):
        return net.loss(X, Y, loss, 0.4)

    for g, P in zip(gw + gb, list(net.weights) + list(net.biases), strict=True):
        assert relative_error(g, numerical_gradient(f, P)) < 1e-7


def test_theta_delta_does_not_regularise_biases():
    net = MLP((3, 4, 2), activation="tanh", seed=1)
    X, Y = problem((3, 4, 2), "mse")
    _, gw0, gb0 = theta_delta_gradients(net, X, Y, l2=0.0)
    _, gw1, gb1 = theta_delta_gradients(net, X, Y, l2=2.0)
    for a, b in zip(gb0, gb1, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b, W in zip(gw0, gw1, net.weights, strict=True):
        np.testing.assert_allclose(b - a, 2.0 * W, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sizes, act, out, loss", CASES)
def test_example_trace_is_consistent(sizes, act, out, loss):
    net = MLP(sizes, activation=act, output_activation=out, seed=5)
    X, Y = problem(sizes, loss, m=1)
    trace = backprop_example(net, X[0], Y[0], loss)
    passed = net.forward_pass(X)
    for z, Z in zip(trace.zs, passed.zs, strict=True):
        np.testing.assert_allclose(z, Z[0], rtol=1e-13, atol=1e-15)
    for a, A in zip(trace.activations, passed.activations, strict=True):
        np.testing.assert_allclose(a, A[0], rtol=1e-13, atol=1e-15)
    # With one example the minibatch gradient is the example's gradient (m = 1).
    E, gw, gb = net.gradients(X, Y, loss)
    assert trace.loss == pytest.approx(E, rel=1e-13)
    for mine, theirs in zip(trace.grad_weights + trace.grad_biases, gw + gb, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)
    for d, b in zip(trace.deltas, trace.grad_biases, strict=True):
        np.testing.assert_array_equal(d, b)


@pytest.mark.parametrize("sizes, act, out, loss", [c for c in CASES if len(c[0]) <= 4])
def test_sum_over_paths_equals_the_recursion(sizes, act, out, loss):
    net = MLP(sizes, activation=act, output_activation=out, seed=8)
    X, Y = problem(sizes, loss, m=1, seed=2)
    by_paths, paths = deltas_by_paths(net, X[0], Y[0], loss)
    recursion = backprop_example(net, X[0], Y[0], loss).deltas
    for a, b in zip(by_paths, recursion, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert paths[-1] == 1
    assert paths[0] == int(np.prod(sizes[2:]))


def test_path_count_by_enumeration():
    net = MLP((2, 3, 4, 2, 2), activation="tanh", seed=0)
    _, paths = deltas_by_paths(net, [0.5, -0.5], [1.0, 0.0])
    assert paths == [4 * 2 * 2, 2 * 2, 2, 1]


def test_adjust_and_retest_keeps_only_improvements():
    sizes = (3, 4, 2)
    net = MLP(sizes, activation="tanh", seed=1)
    X, Y = problem(sizes, "mse", m=10)
    run = adjust_and_retest(net, X, Y, step=0.2, max_passes=300)
    assert len(run.losses) == 300 and run.forward_passes[-1] == 300
    assert np.all(np.diff(run.losses) <= 0)
    assert run.accepted == np.count_nonzero(np.diff(run.losses) < 0)
    assert net.loss(X, Y) == run.losses[-1]  # the network is the one kept


def test_adjust_and_retest_counts_its_forward_passes():
    sizes = (3, 4, 2)
    net = MLP(sizes, activation="tanh", seed=1)
    X, Y = problem(sizes, "mse", m=5)
    with count_forward_passes(net) as counter:
        run = adjust_and_retest(net, X, Y, max_passes=77)
    assert counter.count == 77 == len(run.losses)


def test_adjust_and_retest_starts_at_the_output_layer():
    sizes = (3, 4, 2)
    net = MLP(sizes, activation="tanh", seed=1)
    X, Y = problem(sizes, "mse", m=5)
    before = [W.copy() for W in net.weights] + [b.copy() for b in net.biases]
    # At least one pass per parameter: after the first pass (the starting loss), 10 more
    # cannot get past the 2 × 4 + 2 = 10 parameters of the output layer.
    adjust_and_retest(net, X, Y, max_passes=11)
    np.testing.assert_array_equal(net.weights[0], before[0])
    np.testing.assert_array_equal(net.biases[0], before[2])
    assert not np.array_equal(net.weights[1], before[1])


def test_adjust_and_retest_shrinks_the_step_at_a_minimum():
    # One weight, a quadratic with its minimum at 0.3: steps of 1 overshoot, so the step
    # must shrink, and the weight ends within one final step of the minimum.
    net = MLP((1, 1), activation="identity", seed=0)
    net.weights = [np.array([[0.0]])]
    run = adjust_and_retest(net, [[1.0]], [[0.3]], step=1.0, max_passes=200)
    assert run.step < 1e-3
    assert abs(net.weights[0][0, 0] + net.biases[0][0] - 0.3) <= 2 * run.step


def test_minibatch_deltas_average_to_bias_gradients():
    sizes = (3, 5, 4, 2)
    net = MLP(sizes, activation="tanh", seed=2)
    X, Y = problem(sizes, "mse", m=9)
    deltas = minibatch_deltas(net, X, Y)
    assert [d.shape for d in deltas] == [(9, 5), (9, 4), (9, 2)]
    _, _, gb = net.gradients(X, Y)
    for d, g in zip(deltas, gb, strict=True):
        np.testing.assert_allclose(d.mean(axis=0), g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sizes, act, out, loss", CASES[:5])
def test_perturbation_uses_n_plus_one_forward_passes(sizes, act, out, loss):
    net = MLP(sizes, activation=act, output_activation=out, seed=4)
    X, Y = problem(sizes, loss)
    with count_forward_passes(net) as counter:
        E, gw, gb = perturbation_gradients(net, X, Y, loss)
    assert counter.count == net.n_parameters + 1
    with count_forward_passes(net) as counter:
        reference = net.gradients(X, Y, loss)
    assert counter.count == 1
    # One-sided differences are accurate to O(h) = O(1e-7), not to rounding.
    assert E == reference[0]
    for a, b in zip(gw + gb, reference[1] + reference[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_nudges_reach_a_weight_matrix_assigned_in_fortran_order():
    # net.weights[0] = W.T (CS231n's W1 is our W^(1) transposed) hands over a matrix in
    # Fortran order, where W.reshape(-1) is a copy: a nudge of such a copy changes
    # nothing, so finite differences returned zeros and the re-test could not move the
    # weights. The network now stores every assigned matrix in C order.
    sizes = (3, 4, 2)
    net = MLP(sizes, activation="tanh", seed=3)
    net.weights[0] = np.asfortranarray(net.weights[0])
    assert net.weights[0].flags["C_CONTIGUOUS"]
    X, Y = problem(sizes, "mse", m=6)
    _, gw, gb = perturbation_gradients(net, X, Y)
    _, gw_ref, gb_ref = net.gradients(X, Y)
    for a, b in zip(gw + gb, gw_ref + gb_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    before = net.weights[0].copy()
    run = adjust_and_retest(net, X, Y, step=0.1, max_passes=2 * net.n_parameters + 1)
    assert not np.array_equal(net.weights[0], before)
    assert net.loss(X, Y) == run.losses[-1] < run.losses[0]


def test_perturbation_restores_parameters():
    net = MLP((2, 3, 1), seed=0)
    before = [W.copy() for W in net.weights] + [b.copy() for b in net.biases]
    perturbation_gradients(net, [[1.0, 2.0]], [[0.5]])
    for a, b in zip(before, list(net.weights) + list(net.biases), strict=True):
        np.testing.assert_array_equal(a, b)


def test_counter_is_removed_after_the_block():
    net = MLP((2, 3, 1), seed=0)
    with count_forward_passes(net) as counter:
        net.forward([[0.0, 0.0]])
        net.loss([[0.0, 0.0]], [[1.0]])
    net.forward([[0.0, 0.0]])
    assert counter.count == 2
    assert "forward_pass" not in vars(net)


def test_counter_refuses_nesting():
    net = MLP((2, 3, 1), seed=0)
    with count_forward_passes(net):
        with pytest.raises(ValueError, match="already being counted"):
            with count_forward_passes(net):
                pass


def test_multiply_adds_by_hand():
    # 784-100-10, m = 2: forward 2(78400 + 1000); backward adds both dW and one δW.
    assert multiply_adds((784, 100, 10), m=2) == (158_800, 160_800)
    forward, backward = multiply_adds((50,) * 12)
    assert 2.0 < (forward + backward) / forward < 3.0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda net: theta_delta_gradients("net", [[0, 0]], [[0]]), TypeError, "MLP"),
        (lambda net: theta_delta_gradients(net, [[0, 0, 0]], [[0]]), ValueError, "columns"),
        (lambda net: theta_delta_gradients(net, [[0, 0]], [[0]], l2=-1), ValueError, "l2"),
        (lambda net: theta_delta_gradients(net, [[0, 0]], [[0]], "hinge"), ValueError, "loss"),
        (lambda net: backprop_example(net, [[0.0, 0.0]], [0.0]), ValueError, "x must be a 1"),
        (lambda net: backprop_example(net, [0.0, 0.0], [0.0, 1.0]), ValueError, "columns"),
        (lambda net: perturbation_gradients(net, [[0, 0]], [[0]], h=0.0), ValueError, "h must"),
        (lambda net: perturbation_gradients(net, [[0, 0]], [[0]], h=np.nan), ValueError, "h must"),
        (lambda net: adjust_and_retest(net, [[0, 0]], [[0]], step=0), ValueError, "step"),
        (lambda net: adjust_and_retest(net, [[0, 0]], [[0]], shrink=1), ValueError, "shrink"),
        (lambda net: adjust_and_retest(net, [[0, 0]], [[0]], max_passes=0), ValueError,
         "max_passes"),
        (lambda net: deltas_by_paths(net, [[0.0, 0.0]], [0.0]), ValueError, "x must be a 1"),
        (lambda net: multiply_adds((3, 0)), ValueError, "layer_sizes"),
        (lambda net: multiply_adds((3, 2), m=0), ValueError, "m must"),
        (lambda net: count_forward_passes(object()).__enter__(), TypeError, "MLP"),
        (lambda net: symbolic_gradients("net"), TypeError, "SymbolicNetwork"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call(MLP((2, 3, 1), seed=0))


def test_symbolic_delta_recursion_equals_diff_on_2_2_1():
    net = symbolic_network((2, 2, 1), "sigmoid", "sigmoid")
    _, grad_w, grad_b = symbolic_gradients(net)
    parameters = [p for M in net.weights + net.biases for p in M]
    recursion = [g for M in grad_w + grad_b for g in M]
    assert len(parameters) == 9
    for p, g in zip(parameters, recursion, strict=True):
        assert sp.simplify(sp.diff(net.loss, p) - g) == 0, p


def test_symbolic_gradients_match_mlp_numerically():
    sym = symbolic_network((2, 2, 1), "sigmoid", "sigmoid")
    _, grad_w, grad_b = symbolic_gradients(sym)
    net = MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid", seed=7)
    net.biases = [np.array([0.1, -0.2]), np.array([0.3])]
    x, y = np.array([0.5, -1.5]), np.array([1.0])
    values = {s: v for s, v in zip(sym.x, x, strict=True)} | {sym.y[0]: y[0]}
    for M, W in zip(sym.weights + sym.biases, list(net.weights) + list(net.biases), strict=True):
        values |= {s: v for s, v in zip(M, np.ravel(W), strict=True)}
    _, gw, gb = net.gradients(x[None, :], y[None, :], "mse")
    for symbolic_grad, numeric in zip(grad_w + grad_b, gw + gb, strict=True):
        evaluated = np.array(symbolic_grad.subs(values).evalf(), dtype=np.float64)
        np.testing.assert_allclose(evaluated.reshape(numeric.shape), numeric, rtol=1e-12)


@pytest.mark.parametrize("activation, output", [("tanh", "identity"), ("sigmoid", "tanh")])
def test_symbolic_deeper_network_at_random_points(activation, output):
    # simplify() on two hidden layers takes minutes; evaluating the difference with
    # 40-digit arithmetic at random points tells the same story in well under a second.
    mpmath = pytest.importorskip("mpmath")
    net = symbolic_network((1, 2, 2, 1), activation, output)
    _, grad_w, grad_b = symbolic_gradients(net)
    symbols = sorted(net.loss.free_symbols, key=str)
    differences = [
        sp.diff(net.loss, p) - g
        for M, G in zip(net.weights + net.biases, grad_w + grad_b, strict=True)
        for p, g in zip(M, G, strict=True)
    ]
    evaluate = sp.lambdify(symbols, differences, "mpmath")
    rng = np.random.default_rng(0)
    with mpmath.workdps(40):
        for _ in range(5):
            point = [mpmath.mpf(v) for v in rng.uniform(-3, 3, len(symbols))]
            assert max(abs(d) for d in evaluate(*point)) < 1e-30
