import numpy as np
import pytest

from bpbook import MLP, datasets
from bpbook.evolution import (
    CMAES,
    GRADIENT_COST,
    EvolutionStrategy,
    GeneticAlgorithm,
    HillClimber,
    NetworkObjective,
    centred_ranks,
    descend,
    es_gradient,
    evaluations_to_target,
    flatten,
    optimize,
    optimize_many,
    tune,
    tune_descent,
    unflatten,
)
from bpbook.optim import minimize


def quadratic(a):
    """f(X) = (1/2) Σ_j a_j x_j² for every row of X, and its gradient at a vector."""
    a = np.asarray(a, dtype=np.float64)
    return (lambda X: 0.5 * np.sum(a * np.atleast_2d(X) ** 2, axis=1)), (lambda x: a * x)


X0 = np.array([3.0, -2.0, 1.0, 0.5, -1.5])
F_QUAD, GRAD_QUAD = quadratic([1.0, 2.0, 3.0, 4.0, 5.0])

STRATEGIES = {
    "hill climber": lambda seed=0: HillClimber(X0, sigma=0.3, adapt_sigma=True, seed=seed),
    "(1+10) climber": lambda seed=0: HillClimber(X0, sigma=0.3, population=10, seed=seed),
    "GA truncation": lambda seed=0: GeneticAlgorithm(X0, sigma=0.1, population=30, seed=seed),
    "GA tournament + crossover": lambda seed=0: GeneticAlgorithm(
        X0, sigma=0.1, population=30, selection="tournament", crossover=0.7, elite=3,
        seed=seed),
    "ES ranks": lambda seed=0: EvolutionStrategy(X0, sigma=0.1, population=20,
                                                 learning_rate=0.05, seed=seed),
    "ES raw": lambda seed=0: EvolutionStrategy(X0, sigma=0.1, population=20,
                                               learning_rate=0.1, rank_shaping=False,
                                               seed=seed),
    "ES Adam": lambda seed=0: EvolutionStrategy(X0, sigma=0.1, population=20,
                                                learning_rate=0.05, optimizer="adam",
                                                seed=seed),
    "CMA-ES": lambda seed=0: CMAES(X0, sigma=0.5, seed=seed),
}


def xor_objective(seed=3):
    X, Y = datasets.xor()
    net = MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=seed)
    return NetworkObjective(net, X, Y, "binary_cross_entropy"), X, Y


# --- each method learns --------------------------------------------------------------

@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_minimises_a_convex_quadratic(name):
    run = optimize(STRATEGIES[name](), F_QUAD, max_evaluations=6000)
    assert not run.diverged
    assert run.losses[-1] < 1e-2 * run.losses[0]
    assert run.evaluations[0] == 0 and np.all(np.diff(run.evaluations) > 0)


@pytest.mark.parametrize("make", [
    lambda th: HillClimber(th, 0.5, adapt_sigma=True, seed=0),
    lambda th: GeneticAlgorithm(th, 0.3, population=40, crossover=0.5, elite=2, seed=0),
    lambda th: EvolutionStrategy(th, 0.1, population=40, learning_rate=0.5, seed=0),
])
def test_every_strategy_trains_xor(make):
    f, X, Y = xor_objective()
    run = optimize(make(flatten(f.net)), f, max_evaluations=20_000, target=0.05)
    assert run.reached_target and run.losses[-1] <= 0.05
    assert np.array_equal(unflatten(f.net, run.solution).predict(X), Y[:, 0])


def test_elitist_strategies_never_get_worse():
    for name in ("hill climber", "(1+10) climber", "GA truncation", "GA tournament + crossover"):
        run = optimize(STRATEGIES[name](), F_QUAD, 2000)
        assert np.all(np.diff(run.losses) <= 0), name


def test_one_fifth_rule_update_is_exact():
    """Success: σ · e^{0.8/d}; failure: σ e^{−0.2/d}, d = √(n+1); (1+M): share s."""
    climber = HillClimber([0.0], sigma=1.0, adapt_sigma=True, seed=0)
    d = np.sqrt(2.0)
    assert climber.damping == d
    climber.tell(np.ones(len(climber.ask())))  # the parent's loss: 1
    climber.ask(), climber.tell([0.5])
    assert climber.sigma == pytest.approx(np.exp(0.8 / d), rel=1e-14)
    climber.ask(), climber.tell([2.0])
    assert climber.sigma == pytest.approx(np.exp(0.6 / d), rel=1e-14)
    assert climber.solution_loss == 0.5
    # Four failures undo one success: the rule is in balance at a success rate of 1/5.
    for _ in range(3):
        climber.ask(), climber.tell([2.0])
    assert climber.sigma == pytest.approx(1.0, rel=1e-14)
    wide = HillClimber(np.zeros(8), sigma=1.0, population=5, adapt_sigma=True, seed=0)
    wide.tell([1.0] * len(wide.ask()))
    wide.ask(), wide.tell([0.5, 2.0, 0.9, 3.0, 1.0])  # 2 of 5 strictly better
    assert wide.sigma == pytest.approx(np.exp((0.4 - 0.2) / 3.0), rel=1e-14)


def test_strict_acceptance_refuses_ties_and_the_classic_rule_takes_them():
    for accept_ties in (True, False):
        climber = HillClimber([0.0], sigma=1.0, accept_ties=accept_ties, seed=0)
        climber.tell([1.0] * len(climber.ask()))
        tweak = climber.ask()[0]
        climber.tell([1.0])  # as good as the parent, not better
        kept = climber.solution
        np.testing.assert_array_equal(kept, tweak if accept_ties else [0.0])
        climber.ask(), climber.tell([0.5])  # a strict improvement is kept either way
        assert climber.solution_loss == 0.5


def test_one_fifth_rule_grows_timid_steps_and_shrinks_bold_ones():
    f, _ = quadratic(np.ones(5))
    timid = HillClimber(np.full(5, 10.0), sigma=1e-3, adapt_sigma=True, seed=0)
    optimize(timid, f, 100)
    assert timid.sigma > 100 * 1e-3
    bold = HillClimber(np.full(5, 1e-3), sigma=10.0, adapt_sigma=True, seed=0)
    optimize(bold, f, 100)
    assert bold.sigma < 10.0 / 100


def test_fixed_sigma_stays_fixed():
    climber = HillClimber(X0, sigma=0.3, seed=0)
    optimize(climber, F_QUAD, 100)
    assert climber.sigma == 0.3


# --- the ES estimator ----------------------------------------------------------------

def smoothed_quartic_gradient(theta, sigma):
    """d/dθ E[F(θ + σε)] for F(θ) = θ⁴ − 3θ² + θ, worked out by hand (the chapter checks
    it with SymPy): F_σ = θ⁴ + 6σ²θ² + 3σ⁴ − 3θ² − 3σ² + θ."""
    return 4 * theta**3 + 12 * sigma**2 * theta - 6 * theta + 1


@pytest.mark.parametrize("theta, sigma", [(0.7, 0.5), (-1.2, 0.1), (0.0, 1.5)])
@pytest.mark.parametrize("antithetic", [True, False])
def test_es_estimate_is_unbiased_for_the_smoothed_gradient(theta, sigma, antithetic):
    """Monte Carlo: the mean of k independent estimates is within 4 standard errors."""
    F = lambda t: t**4 - 3 * t**2 + t  # noqa: E731
    rng = np.random.default_rng(1)
    k, per = 20_000, 10
    estimates = np.empty(k)
    for i in range(0, k, 1000):
        half = rng.normal(size=(1000, per // 2 if antithetic else per))
        eps = np.concatenate([half, -half], axis=1) if antithetic else half
        losses = F(theta + sigma * eps)
        # es_gradient on one population per row (vectorised by hand: N = per).
        estimates[i : i + 1000] = np.sum(losses * eps, axis=1) / (per * sigma)
    # es_gradient itself on the first population must equal the row formula:
    np.testing.assert_allclose(
        es_gradient(losses[0], eps[0][:, None], sigma), [estimates[k - 1000]], rtol=1e-12)
    error = abs(estimates.mean() - smoothed_quartic_gradient(theta, sigma))
    assert error < 4 * estimates.std(ddof=1) / np.sqrt(k)


def test_es_gradient_of_a_linear_function_is_exact_with_mirrored_pairs():
    a = np.array([1.0, -2.0, 0.5])
    eps = np.random.default_rng(0).normal(size=(50_000, 3))
    eps = np.vstack([eps, -eps])
    losses = (2.0 + 0.1 * eps) @ a + 7.0
    g = es_gradient(losses, eps, 0.1)
    # Mirrored pairs cancel the constant: g = (1/k) Σ ε εᵀ a, whose mean is a.
    np.testing.assert_allclose(g, a, atol=0.05)


def test_antithetic_sampling_halves_the_directions_drawn_per_evaluation():
    es = EvolutionStrategy(np.zeros(4), sigma=0.5, population=10, seed=0)
    candidates = es.ask()
    assert candidates.shape == (10, 4)
    np.testing.assert_array_equal(candidates[:5], -candidates[5:])  # 5 directions, 10 losses
    plain = EvolutionStrategy(np.zeros(4), sigma=0.5, population=10, antithetic=False, seed=0)
    assert np.linalg.matrix_rank(plain.ask()) == 4 and np.linalg.matrix_rank(candidates) == 4
    assert len(np.unique(np.abs(candidates).round(12), axis=0)) == 5


def test_antithetic_estimate_has_smaller_variance_for_the_same_evaluations():
    f, grad = quadratic([1.0, 4.0, 9.0])
    theta = np.array([2.0, -1.0, 1.0])
    spread = {}
    for antithetic in (True, False):
        es = EvolutionStrategy(theta, sigma=0.1, population=10, learning_rate=1e-9,
                               antithetic=antithetic, rank_shaping=False, seed=0)
        estimates = []
        for _ in range(400):
            es.tell(f(es.ask()))
            estimates.append(es.last_gradient)
        spread[antithetic] = np.mean(np.sum((np.array(estimates) - grad(theta)) ** 2, axis=1))
    # Mirrored pairs on a quadratic give exactly (∇·ε)ε per direction, whose squared
    # error has mean (n + 1)‖∇‖²; 5 directions here. The plain estimate also carries
    # F(θ)ε/σ, with squared error F(θ)² n/σ² per probe: about 30 times more here.
    assert spread[True] == pytest.approx(4 * np.sum(grad(theta) ** 2) / 5, rel=0.15)
    assert spread[True] < 0.1 * spread[False]


# --- rank shaping ----------------------------------------------------------------------

def test_centred_ranks_are_centred_evenly_spaced_and_order_preserving():
    losses = np.random.default_rng(0).normal(size=11)
    ranks = centred_ranks(losses)
    assert abs(ranks.sum()) < 1e-14
    np.testing.assert_allclose(np.sort(ranks), np.linspace(-0.5, 0.5, 11))
    assert np.array_equal(np.argsort(ranks), np.argsort(losses))


@pytest.mark.parametrize("transform", [np.exp, lambda x: x**3, lambda x: 5 * x - 2,
                                       lambda x: np.arctan(x) + 100])
def test_centred_ranks_ignore_monotone_transformations(transform):
    losses = np.random.default_rng(1).normal(size=20)
    np.testing.assert_array_equal(centred_ranks(transform(losses)), centred_ranks(losses))


def test_ties_share_their_mean_rank():
    np.testing.assert_array_equal(centred_ranks([1.0, 1.0, 1.0]), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(centred_ranks([2.0, 0.0, 2.0, 1.0]), [1 / 3, -0.5, 1 / 3, -1 / 6])


# --- networks as vectors -------------------------------------------------------------------

def test_flatten_unflatten_round_trip():
    net = MLP([3, 4, 2], activation="relu", seed=5)
    theta = flatten(net)
    assert theta.shape == (net.n_parameters,)
    twin = unflatten(net, theta)
    for a, b in zip([*net.weights, *net.biases], [*twin.weights, *twin.biases], strict=True):
        np.testing.assert_array_equal(a, b)
    v = np.random.default_rng(0).normal(size=net.n_parameters)
    np.testing.assert_array_equal(flatten(unflatten(net, v)), v)
    # The order is that of the optimiser: weights row by row, then biases.
    np.testing.assert_array_equal(theta[:12], net.weights[0].ravel())
    np.testing.assert_array_equal(theta[-2:], net.biases[1])


def test_unflatten_leaves_the_original_untouched():
    net = MLP([2, 2, 1], seed=0)
    before = flatten(net)
    unflatten(net, np.zeros(net.n_parameters))
    np.testing.assert_array_equal(flatten(net), before)


@pytest.mark.parametrize("loss, output, targets", [
    ("mse", "identity", "real"),
    ("mse", "softmax", "onehot"),
    ("binary_cross_entropy", "sigmoid", "binary"),
    ("softmax_cross_entropy", "identity", "labels"),
    ("softmax_cross_entropy", "softmax", "labels"),
])
def test_population_loss_equals_the_network_loss(loss, output, targets):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    K = 1 if targets == "binary" else 3
    Y = {"real": rng.normal(size=(30, K)), "binary": rng.integers(0, 2, (30, 1)) * 1.0,
         "labels": rng.integers(0, 3, 30), "onehot": np.eye(3)[rng.integers(0, 3, 30)]}[targets]
    net = MLP([4, 5, 6, K], activation="tanh", output_activation=output, seed=2)
    f = NetworkObjective(net, X, Y, loss)
    thetas = flatten(net) + rng.normal(size=(7, net.n_parameters))
    expected = [unflatten(net, t).loss(X, Y, loss) for t in thetas]
    np.testing.assert_allclose(f(thetas), expected, rtol=1e-12)
    assert f(thetas[0]) == pytest.approx(expected[0], rel=1e-12)


def test_population_loss_in_chunks_equals_all_at_once(monkeypatch):
    f, _, _ = xor_objective()
    thetas = np.random.default_rng(0).normal(size=(9, f.n_parameters))
    whole = f(thetas)
    monkeypatch.setattr(NetworkObjective, "CHUNK_FLOATS", 10)  # 3 networks per chunk
    np.testing.assert_array_equal(f(thetas), whole)


def test_objective_gradient_is_backpropagation():
    f, X, Y = xor_objective()
    theta = np.random.default_rng(0).normal(size=f.n_parameters)
    _, gw, gb = unflatten(f.net, theta).gradients(X, Y, "binary_cross_entropy")
    np.testing.assert_array_equal(f.gradient(theta), np.concatenate(
        [g.ravel() for g in (*gw, *gb)]))


def test_error_rate_objective_and_its_refused_gradient():
    X, y = datasets.moons(50, 0.1, seed=0)
    net = MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    f = NetworkObjective(net, X, y, "error_rate")
    assert f.value(flatten(net)) == pytest.approx(np.mean(net.predict(X) != y))
    with pytest.raises(ValueError, match="piecewise constant"):
        f.gradient(flatten(net))
    run = optimize(EvolutionStrategy(flatten(net), 0.1, 50, 0.5, seed=0), f, 3000)
    assert run.losses[-1] < 0.5 * run.losses[0]


# --- the driver ----------------------------------------------------------------------------

def test_every_evaluation_is_counted_including_monitoring():
    calls = []

    def f(X):
        calls.append(len(X))
        return F_QUAD(X)

    run = optimize(EvolutionStrategy(X0, 0.1, 10, 0.05, seed=0), f, 100)
    # the start (not charged), then per generation 10 candidates + 1 for the mean
    assert calls[0] == 1 and set(calls[1:]) == {10, 1}
    assert run.evaluations[-1] == sum(calls[1:]) == 11 * run.generations
    assert 100 <= run.evaluations[-1] < 100 + 11


def test_target_stops_the_run_early():
    run = optimize(STRATEGIES["ES raw"](), F_QUAD, 100_000, target=1e-3)
    assert run.reached_target and run.losses[-1] <= 1e-3 and np.all(run.losses[:-1] > 1e-3)
    assert run.evaluations[-1] < 100_000


def test_divergence_is_detected_and_reported_without_warnings():
    es = EvolutionStrategy(X0, sigma=0.1, population=10, learning_rate=1e3,
                           rank_shaping=False, seed=0)
    run = optimize(es, lambda X: np.exp(np.sum(X**2, axis=1)), 10_000)
    assert run.diverged and not run.reached_target
    assert np.all(np.isfinite(run.losses))
    # The solution returned is the last one recorded, not the one that blew up.
    assert np.exp(np.sum(run.solution**2)) == run.losses[-1]


def test_evaluations_to_target():
    assert evaluations_to_target([0, 3, 6], [1.0, 0.5, 0.1], 0.5) == 3.0
    assert evaluations_to_target([0, 3, 6], [1.0, 0.5, 0.1], 0.01) == np.inf
    # Gradient descent's records are charged GRADIENT_COST per step.
    assert evaluations_to_target(GRADIENT_COST * np.arange(3), [1.0, 0.5, 0.1], 0.2) == 6.0


# --- seeds -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", STRATEGIES)
def test_seeds_reproduce_and_differ(name):
    a = optimize(STRATEGIES[name](seed=7), F_QUAD, 500)
    b = optimize(STRATEGIES[name](seed=7), F_QUAD, 500)
    c = optimize(STRATEGIES[name](seed=8), F_QUAD, 500)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.solution, b.solution)
    assert not np.array_equal(a.solution, c.solution)


# --- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: GeneticAlgorithm(X0, 0.1, population=1), ValueError, "population must be at least 2"),
    (lambda: EvolutionStrategy(X0, 0.1, population=1), ValueError, "population must be at least 2"),
    (lambda: HillClimber(X0, 0.1, population=0), ValueError, "population must be at least 1"),
    (lambda: EvolutionStrategy(X0, 0.1, population=7), ValueError, "must be\\s+even"),
    (lambda: EvolutionStrategy(X0, 0.0), ValueError, "sigma must be a finite number > 0"),
    (lambda: HillClimber(X0, -1.0), ValueError, "sigma must be a finite number > 0"),
    (lambda: GeneticAlgorithm(X0, np.nan), ValueError, "sigma"),
    (lambda: EvolutionStrategy(X0, 0.1, learning_rate=0), ValueError, "learning_rate"),
    (lambda: GeneticAlgorithm(X0, 0.1, selection="roulette"), ValueError, "unknown selection"),
    (lambda: GeneticAlgorithm(X0, 0.1, crossover=1.5), ValueError, "crossover"),
    (lambda: GeneticAlgorithm(X0, 0.1, population=10, elite=10), ValueError, "elite"),
    (lambda: GeneticAlgorithm(X0, 0.1, population=10, parents=11), ValueError, "parents"),
    (lambda: HillClimber(X0, 0.1, population=2.5), TypeError, "population must be an integer"),
    (lambda: HillClimber(X0, 0.1, adapt_sigma="yes"), TypeError, "adapt_sigma"),
    (lambda: HillClimber(X0, 0.1, seed=1.5), TypeError, "seed"),
    (lambda: HillClimber([1.0, np.nan], 0.1), ValueError, "x0 contains NaN"),
    (lambda: HillClimber(np.ones((2, 2)), 0.1), ValueError, "x0 must be a 1-dimensional"),
    (lambda: HillClimber(np.ones(3, dtype=np.float32), 0.1), TypeError, "float64"),
])
def test_bad_settings_are_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_tell_checks_its_losses():
    es = EvolutionStrategy(X0, 0.1, population=4, seed=0)
    with pytest.raises(RuntimeError, match="before ask"):
        es.tell([1.0, 2.0, 3.0, 4.0])
    es.ask()
    with pytest.raises(RuntimeError, match="twice"):
        es.ask()
    with pytest.raises(ValueError, match="losses has 3 values but ask\\(\\) returned 4"):
        es.tell([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="losses contains NaN"):
        es.tell([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(TypeError, match="losses must contain real numbers"):
        es.tell(["a", "b", "c", "d"])
    es.tell([1.0, 2.0, 3.0, 4.0])  # still usable after the refusals
    assert es.evaluations == 4 and es.generation == 1


def test_optimize_and_helpers_check_their_arguments():
    es = EvolutionStrategy(X0, 0.1, seed=0)
    with pytest.raises(TypeError, match="strategy must be"):
        optimize("es", F_QUAD, 10)
    with pytest.raises(TypeError, match="f must be callable"):
        optimize(es, 3, 10)
    with pytest.raises(ValueError, match="max_evaluations must be at least 1"):
        optimize(es, F_QUAD, 0)
    with pytest.raises(ValueError, match="target must be a finite number"):
        optimize(es, F_QUAD, 10, target=np.nan)
    with pytest.raises(ValueError, match="f returned 1 losses for 50 candidates"):
        optimize(es, lambda X: [1.0], 10)
    with pytest.raises(ValueError, match="vector must have length 13"):
        unflatten(MLP([2, 3, 1]), np.zeros(12))
    with pytest.raises(TypeError, match="net must be a bpbook MLP"):
        flatten("net")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        NetworkObjective(MLP([2, 1]), np.zeros((3, 2)), np.zeros(3), "hinge")
    with pytest.raises(ValueError, match="thetas has 2 columns"):
        NetworkObjective(MLP([2, 1]), np.zeros((3, 2)), np.zeros(3))(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2 values"):
        centred_ranks([1.0])
    with pytest.raises(ValueError, match="epsilons has 3 rows but losses has 2"):
        es_gradient([1.0, 2.0], np.zeros((3, 2)), 0.1)


# --- the batched gradient ------------------------------------------------------------------

@pytest.mark.parametrize("loss, hidden, output, targets", [
    ("mse", "tanh", "identity", "real"),
    ("mse", "sigmoid", "sigmoid", "binary"),
    ("mse", "relu", "softmax", "onehot"),
    ("binary_cross_entropy", "tanh", "sigmoid", "binary"),
    ("softmax_cross_entropy", "sigmoid", "identity", "labels"),
    ("softmax_cross_entropy", "tanh", "softmax", "labels"),
])
def test_batched_value_and_gradient_equal_backpropagation_network_by_network(
        loss, hidden, output, targets):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    K = 1 if targets in ("binary", "real") else 3
    Y = {"real": rng.normal(size=(25, 1)), "binary": rng.integers(0, 2, (25, 1)) * 1.0,
         "labels": rng.integers(0, 3, 25), "onehot": np.eye(3)[rng.integers(0, 3, 25)]}[targets]
    net = MLP([4, 6, 5, K], activation=hidden, output_activation=output, seed=1)
    f = NetworkObjective(net, X, Y, loss)
    thetas = flatten(net) + 0.5 * rng.normal(size=(6, net.n_parameters))
    values, gradients = f.value_and_gradient(thetas)
    for theta, value, gradient in zip(thetas, values, gradients, strict=True):
        E, gw, gb = unflatten(net, theta).gradients(X, Y, loss)
        np.testing.assert_allclose(value, E, rtol=1e-12)
        np.testing.assert_allclose(
            gradient, np.concatenate([g.ravel() for g in (*gw, *gb)]), rtol=1e-10, atol=1e-14)
    one_value, one_gradient = f.value_and_gradient(thetas[2])
    assert isinstance(one_value, float) and one_gradient.shape == (net.n_parameters,)
    np.testing.assert_allclose(f.gradient(thetas[2]), gradients[2], rtol=1e-13)


def test_gradient_checks_the_data_once_at_construction(monkeypatch):
    f, X, Y = xor_objective()
    theta = flatten(f.net)
    expected = f.gradient(theta)

    def refuse(*args, **kwargs):
        raise AssertionError("data checked again on a gradient call")

    monkeypatch.setattr(MLP, "check_data", refuse)
    monkeypatch.setattr(MLP, "check_inputs", refuse)
    np.testing.assert_array_equal(f.gradient(theta), expected)
    with pytest.raises(ValueError, match="thetas has 12 columns"):
        f.gradient(theta[:-1])


# --- gradient descent on many rows ----------------------------------------------------------

def test_descend_is_minimize_row_by_row_and_charges_every_gradient():
    f, _, _ = xor_objective()
    theta = flatten(f.net)
    rates = [0.25, 1.0, 2.0]  # larger rates are chaotic on XOR: rounding would decide
    runs = descend(f, np.tile(theta, (3, 1)), rates, 600)
    for run, rate in zip(runs, rates, strict=True):
        path = minimize(f.value, f.gradient, theta, rate, 200)
        np.testing.assert_allclose(run.losses, path.values, rtol=1e-10)
        np.testing.assert_array_equal(run.evaluations, GRADIENT_COST * np.arange(201))
    cheap = descend(f, theta, 2.0, 600, gradient_cost=2)[0]
    assert cheap.evaluations[-1] == 600 and len(cheap.losses) == 301


def test_descend_stops_each_row_at_its_target_or_divergence():
    f, _, _ = xor_objective()
    theta = flatten(f.net)
    slow, fast = descend(f, np.tile(theta, (2, 1)), [0.5, 4.0], 30_000, target=0.1)
    X = np.random.default_rng(0).normal(size=(20, 3))
    least_squares = NetworkObjective(MLP([3, 1], seed=0), X, X @ [[1.0], [2.0], [3.0]], "mse")
    start = flatten(least_squares.net)
    calm, wild = descend(least_squares, np.tile(start, (2, 1)), [0.1, 10.0], 30_000,
                         target=1e-6)
    assert fast.reached_target and slow.reached_target and calm.reached_target
    assert wild.diverged and not wild.reached_target
    assert fast.cost < slow.cost < np.inf and wild.cost == np.inf
    assert np.all(fast.losses[:-1] > 0.1) and fast.losses[-1] <= 0.1
    assert np.all(np.isfinite(wild.losses))


# --- many strategies at once ---------------------------------------------------------------

def test_optimize_many_equals_separate_runs():
    names = ["hill climber", "GA tournament + crossover", "ES ranks", "CMA-ES"]
    together = optimize_many([STRATEGIES[name](seed=5) for name in names], F_QUAD, 800,
                             target=1e-2)
    for name, run in zip(names, together, strict=True):
        alone = optimize(STRATEGIES[name](seed=5), F_QUAD, 800, target=1e-2)
        np.testing.assert_array_equal(run.evaluations, alone.evaluations)
        np.testing.assert_allclose(run.losses, alone.losses, rtol=1e-13)
        assert run.reached_target == alone.reached_target


def test_optimize_many_evaluates_a_generation_in_one_call():
    calls = []

    def f(X):
        calls.append(len(X))
        return F_QUAD(X)

    strategies = [EvolutionStrategy(X0, 0.1, 10, 0.05, seed=s) for s in range(3)]
    runs = optimize_many(strategies, f, 110)
    # the starts, then per generation 3 × 10 probes and 3 monitoring evaluations
    assert calls[0] == 3 and set(calls[1:]) == {30, 3}
    assert [run.evaluations[-1] for run in runs] == [110, 110, 110]
    with pytest.raises(ValueError, match="repeats an object"):
        optimize_many([strategies[0], strategies[0]], f, 10)
    with pytest.raises(ValueError, match="strategies is empty"):
        optimize_many([], f, 10)


def test_run_cost_is_the_evaluations_to_the_target():
    run = optimize(STRATEGIES["ES raw"](), F_QUAD, 100_000, target=1e-3)
    assert run.cost == run.evaluations[-1]
    assert optimize(STRATEGIES["ES raw"](), F_QUAD, 50, target=1e-30).cost == np.inf


# --- Adam on the ES estimate ---------------------------------------------------------------

def test_adam_first_step_moves_every_coordinate_by_about_eta():
    es = EvolutionStrategy(X0, sigma=0.1, population=20, learning_rate=0.01,
                           optimizer="adam", rank_shaping=False, seed=0)
    es.tell(F_QUAD(es.ask()))
    g = es.last_gradient
    # v̂ = g and ŝ = g² after one step, so the step is η g / (|g| + τ).
    np.testing.assert_allclose(es.solution, X0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)


def test_adam_settings_are_checked():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        EvolutionStrategy(X0, 0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="beta2 must be a number in"):
        EvolutionStrategy(X0, 0.1, optimizer="adam", beta2=1.0)


# --- CMA-ES from pycma -------------------------------------------------------------------

def test_cmaes_learns_the_inverse_hessian_of_an_ill_conditioned_quadratic():
    curvatures = 10.0 ** np.arange(5)  # κ = 10⁴
    f, _ = quadratic(curvatures)
    cmaes = CMAES(np.ones(5), sigma=0.5, seed=1)
    run = optimize(cmaes, f, 3000)
    assert run.losses[-1] < 1e-8 * run.losses[0]
    # Σ H has a condition number near 1 where H alone has 10⁴: Σ ≈ c H⁻¹.
    eigenvalues = np.linalg.eigvals(cmaes.covariance @ np.diag(curvatures)).real
    assert eigenvalues.max() / eigenvalues.min() < 20
    np.testing.assert_allclose(np.diag(cmaes.covariance), cmaes._es.stds ** 2, rtol=1e-10)


def test_cmaes_diagonal_covariance_and_population():
    f, _ = quadratic(10.0 ** np.arange(5))
    cmaes = CMAES(np.ones(5), sigma=0.5, population=12, diagonal=True, seed=0)
    assert cmaes.population == 12 and len(cmaes.ask()) == 12
    cmaes.tell(f(cmaes._asked))
    Sigma = cmaes.covariance
    np.testing.assert_array_equal(Sigma, np.diag(np.diag(Sigma)))
    with pytest.raises(ValueError, match="population must be at least 2"):
        CMAES(X0, 0.5, population=1)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        CMAES(X0, 0.0)


# --- tuning by a race ----------------------------------------------------------------------

def test_tune_picks_the_setting_with_the_least_median_and_stops_hopeless_ones():
    def make(eta, seed):
        return EvolutionStrategy(X0, 0.1, 10, eta, rank_shaping=False, seed=seed)

    spent = []

    def f(X):
        spent.append(len(X))
        return F_QUAD(X)

    rates = [0.003, 0.03, 0.1, 0.3]
    tuning = tune(make, rates, f, [1, 2, 3], 5000, target=1e-2)
    raced = sum(spent)
    # The same grid, every run to the end:
    spent.clear()
    full = np.array([[optimize(make(eta, s), f, 5000, target=1e-2).cost
                      for s in (1, 2, 3)] for eta in rates])
    best = rates[int(np.argmin(np.median(full, axis=1)))]
    assert tuning.best == best
    np.testing.assert_array_equal(tuning.costs[rates.index(best)], full[rates.index(best)])
    # Losers are reported as missed (inf), and stopping them saved evaluations.
    assert np.all(tuning.medians >= tuning.medians[rates.index(best)])
    assert raced < 0.5 * sum(spent)


def test_tune_descent_matches_descend_run_to_the_end():
    f, _, _ = xor_objective()
    rates = [0.25, 1.0, 4.0]
    tuning = tune_descent(f, lambda seed: flatten(MLP([2, 3, 1], "tanh", "sigmoid",
                                                     seed=seed)),
                          rates, [0, 1, 2], 6000, target=0.1)
    full = np.array([[descend(f, flatten(MLP([2, 3, 1], "tanh", "sigmoid", seed=s)), eta,
                              6000, target=0.1)[0].cost for s in (0, 1, 2)]
                     for eta in rates])
    assert tuning.best == rates[int(np.argmin(np.median(full, axis=1)))]
    winner = rates.index(tuning.best)
    np.testing.assert_array_equal(tuning.costs[winner], full[winner])


def test_groups_must_be_odd_and_equal():
    strategies = [EvolutionStrategy(X0, 0.1, 10, 0.1, seed=s) for s in range(4)]
    with pytest.raises(ValueError, match="odd number"):
        optimize_many(strategies, F_QUAD, 100, target=1e-3, groups=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="3 labels for 4 runs"):
        optimize_many(strategies, F_QUAD, 100, target=1e-3, groups=[0, 0, 0])
