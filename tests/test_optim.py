import warnings

import numpy as np
import pytest

from bpbook import MLP, datasets
from bpbook.gradcheck import numerical_gradient
from bpbook.optim import (
    Adam,
    CosineDecay,
    GradientDescent,
    InverseTimeDecay,
    RMSProp,
    StepDecay,
    Warmup,
    largest_curvature,
    minimize,
    train,
)


def quadratic(a):
    """f(x) = (1/2) Σ a_i x_i², its gradient, for curvatures a (a number or an array)."""
    a = np.asarray(a, dtype=np.float64)
    return (lambda x: 0.5 * float(np.sum(a * x**2))), (lambda x: a * x)


# --- minimize: the theory of the quadratic ---------------------------------------------

@pytest.mark.parametrize("eta", [0.05, 0.3, 0.5, 0.7, 0.95])
def test_quadratic_iterates_follow_the_predicted_rate(eta):
    """x_k = (1 − η a)^k x_0 for f = a x²/2, in the monotone and oscillating regimes."""
    a = 2.0
    f, grad = quadratic(a)
    path = minimize(f, grad, 3.0, learning_rate=eta, steps=40)
    predicted = 3.0 * (1.0 - eta * a) ** np.arange(41)
    np.testing.assert_allclose(path.points, predicted, rtol=1e-12, atol=1e-300)
    assert not path.diverged and path.diverged_at is None and path.steps == 40
    signs = np.sign(path.points[1:6])
    assert np.all(signs == 1) if eta * a < 1 else np.all(signs[1:] == -signs[:-1])


def test_learning_rate_one_over_a_reaches_the_minimum_in_one_step():
    f, grad = quadratic(4.0)
    path = minimize(f, grad, -1.5, learning_rate=0.25, steps=3)
    assert path.points.tolist() == [-1.5, 0.0, 0.0, 0.0]


def test_two_dimensional_quadratic_each_axis_at_its_own_rate():
    a = np.array([1.0, 10.0])
    f, grad = quadratic(a)
    eta = 0.15
    path = minimize(f, grad, [1.0, 1.0], learning_rate=eta, steps=30)
    assert path.points.shape == (31, 2)
    predicted = (1.0 - eta * a) ** np.arange(31)[:, None]
    np.testing.assert_allclose(path.points, predicted, rtol=1e-12)


def test_divergence_above_two_over_a_is_detected_without_warnings():
    a, eta, x0 = 1.0, 2.5, 1.0
    f, grad = quadratic(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = minimize(f, grad, x0, learning_rate=eta, steps=1000)
    # |x_k| = 1.5^k, f = 1.5^(2k)/2 first exceeds the bound 1e6 · max(f(x0), 1) = 1e6 at:
    k = int(np.argmax(0.5 * 1.5 ** (2 * np.arange(100)) > 1e6))
    assert path.diverged and path.diverged_at == k
    assert len(path.values) == k and np.all(np.isfinite(path.points))
    np.testing.assert_allclose(path.points, (-1.5) ** np.arange(k))


def test_exactly_two_over_a_oscillates_forever_without_diverging():
    f, grad = quadratic(1.0)
    path = minimize(f, grad, 1.0, learning_rate=2.0, steps=500)
    assert not path.diverged
    np.testing.assert_array_equal(np.abs(path.points), 1.0)


def test_overflow_to_infinity_is_reported_not_warned():
    """A bound so large that the iterates overflow float64 first: inf is caught too."""
    f, grad = lambda x: float(x**4), lambda x: 4 * x**3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = minimize(f, grad, 2.0, learning_rate=1.0, steps=50, divergence_factor=1e300)
    assert path.diverged and 0 < path.diverged_at < 50
    assert np.all(np.isfinite(path.values))


def test_momentum_matches_the_hand_computed_sequence():
    # v1 = −0.1·1 = −0.1, x1 = 0.9; v2 = 0.9·(−0.1) − 0.1·0.9 = −0.18, x2 = 0.72;
    # v3 = 0.9·(−0.18) − 0.1·0.72 = −0.234, x3 = 0.486.
    f, grad = quadratic(1.0)
    path = minimize(f, grad, 1.0, learning_rate=0.1, steps=3, momentum=0.9)
    np.testing.assert_allclose(path.points, [1.0, 0.9, 0.72, 0.486], rtol=1e-14)


def test_gradient_descent_step_updates_in_place_and_keeps_velocity():
    theta = np.array([1.0, 2.0])
    opt = GradientDescent(0.5, momentum=0.5)
    opt.step([theta], [np.array([1.0, 0.0])])
    np.testing.assert_allclose(theta, [0.5, 2.0])
    opt.step([theta], [np.array([0.0, 0.0])])  # no gradient: the velocity carries on, halved
    np.testing.assert_allclose(theta, [0.25, 2.0])
    opt.reset()
    opt.step([theta], [np.array([0.0, 0.0])])
    np.testing.assert_allclose(theta, [0.25, 2.0])


# --- train ------------------------------------------------------------------------------

def regression_problem(seed=0, m=40, n=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = X @ rng.normal(size=n) + 0.1 * rng.normal(size=m)
    return X, y


def test_full_batch_training_is_plain_gradient_descent():
    X, y = regression_problem()
    net = MLP([3, 4, 1], activation="tanh", seed=1)
    twin = net.copy()
    history = train(net, X, y, optimizer=GradientDescent(0.05), epochs=5)
    for _ in range(5):
        _, gw, gb = twin.gradients(X, y)
        for p, g in zip([*twin.weights, *twin.biases], [*gw, *gb], strict=True):
            p -= 0.05 * g
    for W, V in zip([*net.weights, *net.biases], [*twin.weights, *twin.biases], strict=True):
        np.testing.assert_array_equal(W, V)
    assert history.steps == 5 and history.epochs == 5
    assert history.examples.tolist() == [0, 40, 80, 120, 160, 200]
    assert history.train_accuracy is None  # regression targets are not classes


def test_momentum_in_training_matches_the_update_rule():
    X, y = regression_problem(1)
    net = MLP([3, 1], activation="identity")
    twin = net.copy()
    train(net, X, y, optimizer=GradientDescent(0.1, momentum=0.8), epochs=4)
    v = [np.zeros_like(p) for p in [*twin.weights, *twin.biases]]
    for _ in range(4):
        _, gw, gb = twin.gradients(X, y)
        for p, g, vel in zip([*twin.weights, *twin.biases], [*gw, *gb], v, strict=True):
            vel[...] = 0.8 * vel - 0.1 * g
            p += vel
    np.testing.assert_allclose(net.weights[0], twin.weights[0], rtol=1e-14)


def test_linear_model_converges_below_and_diverges_above_two_over_largest_curvature():
    """For a linear model with MSE, the Hessian is (2/m) [X 1]ᵀ[X 1]: theory predicts 2/λmax."""
    X, y = regression_problem(2)
    X1 = np.column_stack([X, np.ones(len(X))])
    lam_max = np.linalg.eigvalsh(2.0 / len(X) * X1.T @ X1).max()
    results = {}
    for factor in (1.9, 2.1):
        net = MLP([3, 1], activation="identity")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results[factor] = train(net, X, y, optimizer=GradientDescent(factor / lam_max),
                                    epochs=2000)
    assert not results[1.9].diverged
    assert results[1.9].train_loss[-1] < 0.02
    assert results[2.1].diverged and results[2.1].diverged_at < 2000


def test_divergence_stops_training_and_leaves_finite_parameters():
    data = datasets.digits(classes=(3, 7))
    net = MLP([64, 10, 1], activation="relu", output_activation="identity", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train(net, data.X_train, data.y_train.astype(float),
                        optimizer=GradientDescent(50.0), epochs=100, batch_size=16)
    assert history.diverged and history.epochs < 100
    assert len(history.step_loss) == history.diverged_at
    assert np.all(np.isfinite(history.step_loss)) and np.all(np.isfinite(history.train_loss))
    assert all(np.all(np.isfinite(p)) for p in [*net.weights, *net.biases])
    assert "DIVERGED" in str(history)


def test_seeded_shuffling_is_reproducible_and_depends_on_the_seed():
    X, y = regression_problem(3)

    def run(seed):
        net = MLP([3, 5, 1], activation="tanh", seed=0)
        return train(net, X, y, optimizer=GradientDescent(0.05), epochs=3, batch_size=7,
                     seed=seed).step_loss

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


class RecordingMLP(MLP):
    """An MLP that notes which examples (identified by their first input) each step sees."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def gradients(self, X, Y, loss="mse", l2=0.0):
        self.batches.append(np.asarray(X)[:, 0].astype(int).tolist())
        return super().gradients(X, Y, loss=loss, l2=l2)


@pytest.mark.parametrize("batch_size", [1, 4, 7, 23, None])
def test_minibatches_cover_every_example_once_per_epoch(batch_size):
    m = 23
    X = np.column_stack([np.arange(m), np.zeros(m)])
    net = RecordingMLP([2, 1], activation="identity")
    history = train(net, X, np.zeros(m), optimizer=GradientDescent(1e-4), epochs=3,
                    batch_size=batch_size, seed=1)
    size = batch_size or m
    per_epoch = -(-m // size)
    assert history.steps == 3 * per_epoch
    epochs = [sum(net.batches[e * per_epoch:(e + 1) * per_epoch], []) for e in range(3)]
    for seen in epochs:
        assert sorted(seen) == list(range(m))
    assert [len(b) for b in net.batches[:per_epoch]] == [size] * (m // size) + (
        [m % size] if m % size else [])
    if size < m:
        assert epochs[0] != epochs[1]  # reshuffled every epoch
    assert history.examples.tolist() == [0, m, 2 * m, 3 * m]
    assert history.step_examples[-1] == 3 * m - len(net.batches[-1])


def test_digits_three_versus_seven_reach_high_test_accuracy():
    data = datasets.digits(classes=(3, 7))
    net = MLP([64, 20, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    history = train(net, data.X_train, data.y_train, loss="binary_cross_entropy",
                    optimizer=GradientDescent(0.5), epochs=20, batch_size=16,
                    X_test=data.X_test, Y_test=data.y_test)
    assert history.test_accuracy[-1] >= 0.98
    assert history.test_accuracy[0] < 0.9  # it learned; it did not start there
    assert history.test_loss.shape == history.train_loss.shape == (21,)


def test_l2_adds_the_penalty_to_the_recorded_objective():
    X, y = regression_problem(4)
    net = MLP([3, 2, 1], activation="tanh", seed=2)
    history = train(net.copy(), X, y, optimizer=GradientDescent(0.01), epochs=1, l2=3.0)
    assert history.train_loss[0] == pytest.approx(net.loss(X, y, l2=3.0))
    assert history.train_loss[0] > net.loss(X, y)


@pytest.mark.parametrize("batch_size", [1, 3, 7, None])
def test_minibatch_gradients_with_l2_average_to_the_reported_objective(batch_size):
    """With the penalty (α/2)‖W‖², whatever the batch size, the minibatch gradients of an
    epoch average to the gradient of the objective that train records (batches of equal
    size partition the data), so SGD descends the objective it reports."""
    X, y = regression_problem(21, m=42)  # 1, 3, 7 and 42 divide 42
    net = MLP([3, 4, 1], activation="tanh", seed=5)
    B = len(X) if batch_size is None else batch_size
    batches = [slice(start, start + B) for start in range(0, len(X), B)]
    mean_grad = [np.zeros_like(W) for W in net.weights]
    for batch in batches:
        _, grad_w, _ = net.gradients(X[batch], y[batch], l2=0.3)
        for total, g in zip(mean_grad, grad_w, strict=True):
            total += g / len(batches)
    objective = lambda W0: _with_first_weights(net, W0).loss(X, y, l2=0.3)  # noqa: E731
    full = numerical_gradient(objective, net.weights[0].copy())
    np.testing.assert_allclose(mean_grad[0], full, rtol=1e-6, atol=1e-9)


def _with_first_weights(net, W0):
    twin = net.copy()
    twin.weights[0] = W0
    return twin


def test_no_output_without_progress_bar(capsys):
    X, y = regression_problem()
    train(MLP([3, 1]), X, y, optimizer=GradientDescent(0.1), epochs=3)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_counts_epochs(capsys):
    X, y = regression_problem()
    train(MLP([3, 1]), X, y, optimizer=GradientDescent(0.1), epochs=3, progress=True)
    assert "3/3" in capsys.readouterr().err


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(learning_rate=-0.1), ValueError, "learning_rate"),
        (dict(learning_rate=np.inf), ValueError, "learning_rate"),
        (dict(learning_rate="0.1"), TypeError, "learning_rate"),
        (dict(learning_rate=0.1, momentum=1.0), ValueError, "momentum"),
        (dict(learning_rate=0.1, momentum=-0.5), ValueError, "momentum"),
    ],
)
def test_gradient_descent_rejects_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words):
        GradientDescent(**kwargs)


def test_step_rejects_mismatched_arrays():
    opt = GradientDescent(0.1, momentum=0.5)
    with pytest.raises(ValueError, match="grads"):
        opt.step([np.zeros(2)], [])
    with pytest.raises(ValueError, match=r"grads\[0\]"):
        opt.step([np.zeros(2)], [np.zeros(3)])
    with pytest.raises(TypeError, match=r"params\[0\]"):
        opt.step([[0.0, 0.0]], [np.zeros(2)])
    opt.step([np.zeros(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="reset"):
        opt.step([np.zeros(3)], [np.zeros(3)])


@pytest.mark.parametrize(
    "change, error, words",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(epochs=2.5), TypeError, "epochs"),
        (dict(epochs=True), TypeError, "epochs"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=41), ValueError, "batch_size.*40"),
        (dict(batch_size=8.0), TypeError, "batch_size"),
        (dict(optimizer=0.1), TypeError, "optimizer"),
        (dict(l2=-1.0), ValueError, "l2"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(progress="yes"), TypeError, "progress"),
        (dict(loss="hinge"), ValueError, "loss"),
        (dict(X_test=np.zeros((3, 3))), ValueError, "Y_test"),
        (dict(Y_test=np.zeros(3)), ValueError, "X_test"),
        (dict(X_test=np.zeros((3, 2)), Y_test=np.zeros(3)), ValueError, "X_test.*columns"),
        (dict(X_test=np.zeros((3, 3)), Y_test=np.zeros(4)), ValueError, "Y_test.*rows"),
        (dict(divergence_factor=1.0), ValueError, "divergence_factor"),
    ],
)
def test_train_rejects_bad_input_by_name(change, error, words):
    X, y = regression_problem()
    kwargs = dict(optimizer=GradientDescent(0.1), epochs=2) | change
    with pytest.raises(error, match=words):
        train(MLP([3, 1]), X, y, **kwargs)


def test_train_rejects_a_non_network():
    with pytest.raises(TypeError, match="net"):
        train("net", np.zeros((2, 1)), np.zeros(2), optimizer=GradientDescent(0.1), epochs=1)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((1.0, 0.1, -1), {}, ValueError, "steps"),
        ((1.0, 0.1, 2.0), {}, TypeError, "steps"),
        ((1.0, 0.0, 5), {}, ValueError, "learning_rate"),
        ((np.nan, 0.1, 5), {}, ValueError, "x0"),
        (("a", 0.1, 5), {}, TypeError, "x0"),
        ((1.0, 0.1, 5), dict(momentum=2.0), ValueError, "momentum"),
    ],
)
def test_minimize_rejects_bad_input_by_name(args, kwargs, error, words):
    f, grad = quadratic(1.0)
    with pytest.raises(error, match=words):
        minimize(f, grad, *args, **kwargs)


def test_minimize_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match="grad returned shape"):
        minimize(lambda x: float(np.sum(x**2)), lambda x: np.zeros(3), [1.0, 2.0], 0.1, 5)


def test_minimize_rejects_non_callables_and_infinite_start():
    with pytest.raises(TypeError, match="grad"):
        minimize(lambda x: 0.0, None, 1.0, 0.1, 5)
    with pytest.raises(ValueError, match="f\\(x0\\)"):
        minimize(lambda x: np.inf, lambda x: x, 1.0, 0.1, 5)


# --- largest_curvature -------------------------------------------------------------------

def test_largest_curvature_of_a_linear_model_is_the_top_eigenvalue_of_its_hessian():
    X, y = regression_problem(5)
    net = MLP([3, 1], activation="identity", seed=3)
    X1 = np.column_stack([X, np.ones(len(X))])
    expected = np.linalg.eigvalsh(2.0 / len(X) * X1.T @ X1).max()
    before = [p.copy() for p in [*net.weights, *net.biases]]
    assert largest_curvature(net, X, y, iterations=200) == pytest.approx(expected, rel=1e-6)
    for p, q in zip([*net.weights, *net.biases], before, strict=True):
        np.testing.assert_array_equal(p, q)  # parameters restored exactly


def test_largest_curvature_matches_a_finite_difference_hessian_of_a_network():
    """Independent reference: the whole Hessian by differences of the loss, then eigvalsh."""
    X, y = regression_problem(6, m=10, n=2)
    net = MLP([2, 2, 1], activation="tanh", seed=4)
    params = [*net.weights, *net.biases]
    n, h = net.n_parameters, 1e-4

    def loss_at(delta):
        offset = 0
        saved = [p.copy() for p in params]
        for p in params:
            p += delta[offset:offset + p.size].reshape(p.shape)
            offset += p.size
        value = net.loss(X, y)
        for p, s in zip(params, saved, strict=True):
            np.copyto(p, s)
        return value

    E = np.eye(n) * h
    H = np.array([[(loss_at(E[i] + E[j]) - loss_at(E[i] - E[j]) - loss_at(E[j] - E[i])
                    + loss_at(-E[i] - E[j])) / (4 * h * h) for j in range(n)] for i in range(n)])
    expected = np.linalg.eigvalsh((H + H.T) / 2).max()
    assert largest_curvature(net, X, y, iterations=300) == pytest.approx(expected, rel=1e-4)


def dense_hessian(net, X, y):
    """The Hessian of the MSE, column by column, from differences of backprop gradients."""
    params, h, columns = [*net.weights, *net.biases], 1e-5, []
    for p in params:
        for j in range(p.size):
            grads = []
            for sign in (1.0, -1.0):
                p.flat[j] += sign * h
                _, gw, gb = net.gradients(X, y)
                p.flat[j] -= sign * h
                grads.append(np.concatenate([g.ravel() for g in (*gw, *gb)]))
            columns.append((grads[0] - grads[1]) / (2 * h))
    H = np.array(columns)
    return (H + H.T) / 2


def test_largest_curvature_finds_the_largest_eigenvalue_when_a_negative_one_dominates():
    """Saturated tanh units far from the targets: H has a large negative eigenvalue."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(10, 2))
    y = X @ rng.normal(size=2)
    net = MLP([2, 3, 1], activation="tanh", seed=9)
    net.weights[1] = net.weights[1] * 8.0
    net.biases[1] = [5.0]
    eigenvalues = np.linalg.eigvalsh(dense_hessian(net, X, y))
    assert eigenvalues.min() < -2 * eigenvalues.max() < 0  # the case this test is about
    value = largest_curvature(net, X, y, iterations=1000)
    assert value == pytest.approx(eigenvalues.max(), rel=1e-3)


def test_largest_curvature_rejects_bad_input():
    with pytest.raises(TypeError, match="net"):
        largest_curvature(None, np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="iterations"):
        largest_curvature(MLP([1, 1]), np.zeros((2, 1)), np.zeros(2), iterations=0)


# --- schedules ---------------------------------------------------------------------------

def test_step_decay_drops_by_its_factor_every_period():
    schedule = StepDecay(0.5, factor=0.2, every=3)
    expected = [0.5 * 0.2 ** (t // 3) for t in range(10)]
    np.testing.assert_allclose(schedule.values(10), expected, rtol=1e-15)


def test_cosine_decay_is_half_a_cosine_wave_then_constant():
    schedule = CosineDecay(2.0, steps=8, final=0.5)
    t = np.arange(12)
    expected = 0.5 + 1.5 * (1 + np.cos(np.pi * np.minimum(t, 8) / 8)) / 2
    np.testing.assert_allclose(schedule.values(12), expected, rtol=1e-15)
    assert schedule(0) == 2.0 and schedule(8) == schedule(100) == 0.5
    assert schedule(4) == pytest.approx(1.25)  # halfway down


def test_inverse_time_decay_meets_the_robbins_monro_conditions():
    """η_t = η0 / (1 + t/h): partial sums of η_t grow like h·η0·ln t without bound, while
    the sums of η_t² converge (to less than η0² (1 + h))."""
    schedule = InverseTimeDecay(0.3, half_life=10)
    eta = schedule.values(200_000)
    assert eta[10] == pytest.approx(0.15)
    partial = np.cumsum(eta)
    assert partial[-1] > 0.3 * 10 * np.log(200_000 / 10) * 0.9  # still growing like ln t
    assert np.sum(eta**2) < 0.3**2 * (1 + 10)


def test_warmup_rises_linearly_then_hands_over_to_the_schedule():
    after = StepDecay(1.0, factor=0.5, every=2)
    np.testing.assert_allclose(Warmup(after, steps=4).values(8),
                               [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5])
    np.testing.assert_allclose(Warmup(0.2, steps=2).values(4), [0.1, 0.2, 0.2, 0.2])


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: StepDecay(0.0), "initial"),
        (lambda: StepDecay(1.0, factor=1.5), "factor"),
        (lambda: StepDecay(1.0, every=0), "every"),
        (lambda: CosineDecay(1.0, steps=0), "steps"),
        (lambda: CosineDecay(1.0, steps=5, final=2.0), "final"),
        (lambda: InverseTimeDecay(1.0, half_life=-1.0), "half_life"),
        (lambda: Warmup("fast", steps=3), "after"),
        (lambda: Warmup(0.1, steps=0), "steps"),
    ],
)
def test_schedules_reject_bad_arguments_by_name(make, words):
    with pytest.raises((TypeError, ValueError), match=words):
        make()


def test_an_optimizer_follows_its_schedule_step_by_step():
    """On f = x²/2 each step multiplies x by (1 − η_t): the product of the schedule."""
    schedule = StepDecay(0.5, factor=0.1, every=2)
    path = minimize(lambda x: x**2 / 2, lambda x: x, 1.0, learning_rate=schedule, steps=6)
    expected = np.cumprod([1.0] + [1 - schedule(t) for t in range(6)])
    np.testing.assert_allclose(path.points, expected, rtol=1e-14)
    opt = GradientDescent(schedule)
    theta = np.zeros(1)
    for _ in range(3):
        opt.step([theta], [np.zeros(1)])
    assert opt.t == 3 and opt.rate() == schedule(3)
    opt.reset()
    assert opt.t == 0 and opt.rate() == 0.5


def test_a_schedule_that_returns_a_bad_rate_is_reported_by_name():
    opt = GradientDescent(lambda t: 0.1 - 0.1 * t)
    theta = np.ones(2)
    opt.step([theta], [np.ones(2)])
    opt.step([theta], [np.ones(2)])  # η_1 = 0 is allowed: no move
    with pytest.raises(ValueError, match="learning_rate schedule.*step 2"):
        opt.step([theta], [np.ones(2)])


def test_train_counts_steps_for_the_schedule():
    X, y = regression_problem(7)
    opt = GradientDescent(CosineDecay(0.05, steps=20))
    history = train(MLP([3, 1]), X, y, optimizer=opt, epochs=3, batch_size=8)
    assert opt.t == history.steps == 15


# --- Nesterov, RMSProp and Adam against independent reference implementations -----------

def gradient_sequence(seed=0, steps=25, shapes=((3, 2), (2,))):
    """A fixed, reproducible stream of 'gradients' for optimisers that do not look at θ."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) * rng.uniform(0.1, 10) for s in shapes] for _ in range(steps)]


def test_rmsprop_matches_tieleman_and_hinton_coordinate_by_coordinate():
    """Reference: lecture 6.5, 'MeanSquare(w, t) = 0.9 MeanSquare(w, t−1) + 0.1 (∂E/∂w)²',
    divide the gradient by sqrt(MeanSquare(w, t)), written one scalar at a time."""
    eta, beta2, eps = 0.01, 0.9, 1e-8
    grads = gradient_sequence(1)
    params = [np.ones((3, 2)), np.zeros(2)]
    reference = [p.copy().ravel().tolist() for p in params]
    mean_square = [[0.0] * len(r) for r in reference]
    opt = RMSProp(eta, beta2=beta2, eps=eps)
    for g in grads:
        opt.step(params, g)
        for k, gk in enumerate(g):
            for j, value in enumerate(gk.ravel()):
                mean_square[k][j] = beta2 * mean_square[k][j] + (1 - beta2) * value**2
                reference[k][j] -= eta * value / (mean_square[k][j] ** 0.5 + eps)
    for p, r in zip(params, reference, strict=True):
        np.testing.assert_allclose(p.ravel(), r, rtol=1e-13, atol=1e-15)


def test_adam_matches_kingma_and_ba_algorithm_1():
    """Reference: Algorithm 1 of Kingma & Ba (2015), one scalar at a time, t from 1:
    m_t = β1 m + (1−β1) g; v_t = β2 v + (1−β2) g²; m̂ = m_t/(1−β1^t); v̂ = v_t/(1−β2^t);
    θ_t = θ − α m̂ / (√v̂ + ε)."""
    alpha, beta1, beta2, eps = 0.05, 0.8, 0.99, 1e-6
    grads = gradient_sequence(2)
    params = [np.full((3, 2), 0.5), np.zeros(2)]
    theta = [p.copy().ravel().tolist() for p in params]
    m = [[0.0] * len(r) for r in theta]
    v = [[0.0] * len(r) for r in theta]
    opt = Adam(alpha, beta1=beta1, beta2=beta2, eps=eps)
    for t, g in enumerate(grads, start=1):
        opt.step(params, g)
        for k, gk in enumerate(g):
            for j, value in enumerate(gk.ravel()):
                m[k][j] = beta1 * m[k][j] + (1 - beta1) * value
                v[k][j] = beta2 * v[k][j] + (1 - beta2) * value * value
                m_hat = m[k][j] / (1 - beta1**t)
                v_hat = v[k][j] / (1 - beta2**t)
                theta[k][j] -= alpha * m_hat / (v_hat**0.5 + eps)
    for p, r in zip(params, theta, strict=True):
        np.testing.assert_allclose(p.ravel(), r, rtol=1e-12, atol=1e-15)
    assert opt.t == len(grads)


def test_adam_first_step_has_length_eta_in_every_coordinate():
    """Bias correction: after one step m̂ = g and v̂ = g², so the step is η g/|g|."""
    theta = np.zeros(4)
    Adam(0.1, eps=1e-300).step([theta], [np.array([1e-4, -3.0, 250.0, -0.02])])
    np.testing.assert_allclose(theta, [-0.1, 0.1, -0.1, 0.1], rtol=1e-12)


def test_adam_path_does_not_change_when_one_coordinate_is_rescaled():
    """A diagonal preconditioner: on f = (x² + κ y²)/2 the path is the same for every κ."""
    paths = []
    for kappa in (1.0, 10.0, 1e4):
        scale = np.array([1.0, kappa])
        paths.append(minimize(lambda v, s=scale: 0.5 * float(v @ (s * v)),
                              lambda v, s=scale: s * v, [-2.0, 1.0],
                              optimizer=Adam(0.1, eps=1e-300), steps=60).points)
    np.testing.assert_allclose(paths[1], paths[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(paths[2], paths[0], rtol=1e-10, atol=1e-12)


def test_nesterov_matches_the_look_ahead_form():
    """Reference: v_{t+1} = μ v_t − η ∇E(θ_t + μ v_t), θ_{t+1} = θ_t + v_{t+1}.
    The optimiser holds the look-ahead point φ_t = θ_t + μ v_t."""
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    grad = lambda x: A @ x + np.sin(x)  # noqa: E731  (not a quadratic: no shortcut)
    eta, mu = 0.1, 0.7
    theta, v = np.array([1.0, -2.0]), np.zeros(2)
    phi = theta.copy()
    opt = GradientDescent(eta, momentum=mu, nesterov=True)
    for _ in range(30):
        opt.step([phi], [grad(phi)])
        v = mu * v - eta * grad(theta + mu * v)
        theta = theta + v
        np.testing.assert_allclose(phi, theta + mu * v, rtol=1e-12, atol=1e-14)


def test_nesterov_beats_plain_gradient_descent_on_an_ill_conditioned_quadratic():
    """With η = 1/λmax and μ = (√κ−1)/(√κ+1), the error shrinks like (1 − 1/√κ)^t."""
    kappa = 100.0
    f, grad = quadratic([1.0, kappa])
    mu = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    nag = minimize(f, grad, [1.0, 1.0], 1 / kappa, 300, momentum=mu, nesterov=True)
    gd = minimize(f, grad, [1.0, 1.0], 2 / (1 + kappa), 300)
    assert nag.values[-1] < 1e-20 < gd.values[-1]
    assert nag.values[-1] <= 10 * (1 - 1 / np.sqrt(kappa)) ** (2 * 300) * nag.values[0]


@pytest.mark.parametrize("make", [lambda: RMSProp(0.01), lambda: Adam(0.01),
                                  lambda: GradientDescent(0.1, momentum=0.9, nesterov=True)])
def test_train_accepts_every_optimizer(make):
    data = datasets.digits(classes=(3, 7))
    net = MLP([64, 10, 1], activation="tanh", output_activation="sigmoid", seed=0)
    history = train(net, data.X_train, data.y_train, loss="binary_cross_entropy",
                    optimizer=make(), epochs=5, batch_size=16)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: RMSProp(0.1, beta2=1.0), ValueError, "beta2"),
        (lambda: Adam(0.1, beta1=-0.1), ValueError, "beta1"),
        (lambda: Adam(0.1, eps=0.0), ValueError, "eps"),
        (lambda: Adam(-1.0), ValueError, "learning_rate"),
        (lambda: GradientDescent(0.1, momentum=0.5, nesterov=1), TypeError, "nesterov"),
    ],
)
def test_optimizers_reject_bad_settings(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_optimizer_state_resets():
    theta = np.zeros(2)
    opt = Adam(0.1)
    opt.step([theta], [np.ones(2)])
    with pytest.raises(ValueError, match="reset"):
        opt.step([np.zeros(3)], [np.ones(3)])
    opt.reset()
    opt.step([np.zeros(3)], [np.ones(3)])
    assert opt.t == 1


def test_minimize_takes_an_optimizer_or_a_learning_rate_not_both():
    f, grad = quadratic(1.0)
    path = minimize(f, grad, 1.0, optimizer=Adam(0.1), steps=3)
    assert path.steps == 3
    with pytest.raises(ValueError, match="either"):
        minimize(f, grad, 1.0, 0.1, 3, optimizer=Adam(0.1))
    with pytest.raises(ValueError, match="learning_rate"):
        minimize(f, grad, 1.0, steps=3)
    with pytest.raises(ValueError, match="steps"):
        minimize(f, grad, 1.0, 0.1)
    with pytest.raises(TypeError, match="optimizer"):
        minimize(f, grad, 1.0, steps=3, optimizer="adam")


# --- validation sets, early stop at a target, the recorder's shortcut ---------------------

def test_train_records_the_validation_set_apart_from_the_test_set():
    data = datasets.digits(classes=(3, 7))
    net = MLP([64, 8, 1], activation="tanh", output_activation="sigmoid", seed=1)
    twin = net.copy()
    history = train(net, data.X_train, data.y_train, loss="binary_cross_entropy",
                    optimizer=GradientDescent(0.5), epochs=2, batch_size=32,
                    X_val=data.X_val, Y_val=data.y_val, X_test=data.X_test, Y_test=data.y_test)
    assert history.val_loss.shape == history.test_loss.shape == (3,)
    assert history.val_loss[0] == pytest.approx(
        twin.loss(data.X_val, data.y_val, loss="binary_cross_entropy"), rel=1e-14)
    assert history.val_accuracy[-1] == np.mean(net.predict(data.X_val) == data.y_val)
    assert history.test_accuracy[-1] == np.mean(net.predict(data.X_test) == data.y_test)
    assert "validation accuracy" in str(history) and "test accuracy" in str(history)
    with pytest.raises(ValueError, match="Y_val"):
        train(net, data.X_train, data.y_train, optimizer=GradientDescent(0.1), epochs=1,
              X_val=data.X_val)


def test_train_stops_at_the_target_loss():
    X, y = regression_problem(8)
    history = train(MLP([3, 1], activation="identity"), X, y, optimizer=GradientDescent(0.1),
                    epochs=500, target_loss=0.05)
    assert history.train_loss[-1] <= 0.05 < history.train_loss[-2]
    assert history.epochs < 500
    with pytest.raises(ValueError, match="target_loss"):
        train(MLP([3, 1]), X, y, optimizer=GradientDescent(0.1), epochs=1, target_loss=-1.0)


@pytest.mark.parametrize(
    "sizes, output, loss",
    [([3, 4, 1], "sigmoid", "binary_cross_entropy"), ([3, 4, 1], "tanh", "mse"),
     ([3, 4, 1], "identity", "mse"), ([3, 4, 5], "softmax", "softmax_cross_entropy")],
)
def test_recorded_loss_and_accuracy_equal_what_the_network_says(sizes, output, loss):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, sizes[-1] if sizes[-1] > 1 else 2, size=30)
    net = MLP(sizes, activation="tanh", output_activation=output, seed=3)
    history = train(net, X, y, loss=loss, optimizer=GradientDescent(0.01), epochs=1, l2=0.1)
    assert history.train_loss[-1] == pytest.approx(net.loss(X, y, loss=loss, l2=0.1), rel=1e-14)
    assert history.train_accuracy[-1] == np.mean(net.predict(X) == y)
