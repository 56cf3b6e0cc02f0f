"""The grader's checks of assignment ``evolution_strategies`` (private, like the master).

The estimate is random, so the formula is checked statistically (with enough probes that
a correct estimate is within a few per cent) and the constant it is off by names the
mistake. The cosines of question 2 are recomputed from the student's own estimates, so a
wrong factor in question 1 (which leaves a cosine unchanged) does not cost twice. Inputs
are drawn for each student (``ctx.rng`` and ``student_data`` are seeded by the student id).
"""

from __future__ import annotations

import hashlib

import numpy as np
from grading_checks import CheckFailed, Fn, Question, Rng, array, check, close, expect

from bpbook import MLP, datasets
from bpbook.evolution import GRADIENT_COST, NetworkObjective, flatten

ASSIGNMENT = "evolution_strategies"
VALUES = ("cosines", "M_for_cosine_09", "cost_ratio")
QUESTIONS = {
    "q1": Question(tripwires=("evolution.es_gradient", "evolution.EvolutionStrategy._update",
                              "evolution.NetworkObjective.gradient",
                              "gradcheck.numerical_gradient")),
    "q2": Question(tripwires=("evolution.es_gradient",)),
    "q3": Question(manual=True, points=3),
}


def student_data(student_id):
    """Your network for question 2, its width and first weights chosen by your student id.

    Returns the network (64-h-1, tanh hidden units, a sigmoid output) and the training
    inputs and 0/1 targets (shape (m, 1)) of the digits 0 and 1.
    """
    if not isinstance(student_id, str) or not student_id.strip():
        raise ValueError("set STUDENT_ID to your student id, as a string")
    digest = hashlib.sha256(("evolution_strategies/" + student_id.strip()).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    width = int(rng.integers(4, 13))
    net = MLP([64, width, 1], activation="tanh", output_activation="sigmoid",
              seed=int(rng.integers(0, 10_000)))
    split = datasets.digits(classes=(0, 1), seed=0)
    return net, split.X_train, split.y_train.astype(float)[:, None]


# --- question 1 -----------------------------------------------------------------------------

@check("q1", points=1, public=True)
def shape(student, ctx):
    theta = ctx.rng.normal(size=3)
    out = yield student.es_estimate(Fn("rows_quadratic", {"a": np.ones(3)}), theta, 1.0, 10,
                                    Rng(0))
    got = array(out.value, "es_estimate", (3,))
    expect(bool(np.all(np.isfinite(got))), "es_estimate returned inf or nan")


@check("q1", points=3)
def formula(student, ctx):
    c = ctx.rng.normal(size=4)
    c /= np.linalg.norm(c)
    sigma, M = 0.05, 20_000
    a = np.array([1.0, 2.0, 3.0])
    theta = ctx.rng.uniform(-1, 1, size=3)
    linear, quadratic = yield [
        student.es_estimate(Fn("rows_linear", {"c": c}), np.zeros(4), sigma, M,
                            Rng(int(ctx.rng.integers(1 << 30)))),
        student.es_estimate(Fn("rows_quadratic", {"a": a}), theta, 0.5, 40_000,
                            Rng(int(ctx.rng.integers(1 << 30)))),
    ]
    g = array(linear.value, "es_estimate for a linear loss", (4,))
    factor = float(g @ c)  # the estimate is about factor · c, since |c| = 1
    if np.linalg.norm(g - factor * c) > 0.1 * max(abs(factor), 1e-12):
        raise CheckFailed("For a linear loss E(θ) = c·θ the estimate does not point along c "
                          "(or against it): it should average E(θ + σε_r) ε_r over the probes.")
    if not 0.9 < factor < 1.1:
        for value, message in [
            (sigma, "the division by σ is missing"),
            (1 / sigma, "it is divided by σ twice (σ²)"),
            (M, "it is a sum over the probes, not an average (the 1/M is missing)"),
            (M * sigma, "both the 1/M and the 1/σ are missing"),
            (-1.0, "it has the wrong sign: it estimates ∇E, and E(θ + σε) − E(θ) ≈ σ ∇E·ε"),
        ]:
            if 0.9 < factor / value < 1.1:
                raise CheckFailed(f"The estimate is off by a constant factor: {message}.")
        raise CheckFailed(f"For E(θ) = c·θ the estimate should be about c, but it is about "
                          f"{factor:.3g} c.")
    q = array(quadratic.value, "es_estimate for a quadratic loss", (3,))
    expect(np.linalg.norm(q - a * theta) < 0.1 * np.linalg.norm(a * theta),
           "Wrong on a quadratic, where the smoothed gradient equals the exact gradient a ⊙ θ: "
           "is the loss evaluated at θ + σ ε_r?")


@check("q1", points=1)
def uses_the_generator(student, ctx):
    theta = ctx.rng.normal(size=2)
    seed = int(ctx.rng.integers(1 << 30))
    first, again, other = yield [
        student.es_estimate(Fn("rows_sum_sin"), theta, 0.1, 50, Rng(seed)),
        student.es_estimate(Fn("rows_sum_sin"), theta, 0.1, 50, Rng(seed)),
        student.es_estimate(Fn("rows_sum_sin"), theta, 0.1, 50, Rng(seed + 1)),
    ]
    one, two = array(first.value, "es_estimate", (2,)), array(again.value, "es_estimate", (2,))
    expect(np.array_equal(one, two), "Two generators with the same seed gave different "
                                     "estimates: draw the directions from rng, not from "
                                     "np.random.")
    expect(not np.array_equal(one, array(other.value, "es_estimate", (2,))),
           "Different generators gave the same estimate: the probe directions must be drawn "
           "at random (rng.standard_normal((M, n))).")


@check("q1", points=1)
def evaluations(student, ctx):
    M = int(ctx.rng.integers(40, 90))
    out = yield student.es_estimate(Fn("rows_quadratic", {"a": np.ones(3)}), np.ones(3), 0.1,
                                    M, Rng(4))
    array(out.value, "es_estimate", (3,))
    rows = out.functions[0]["rows"] if out.functions else 0
    expect(rows in (M, M + 1),
           f"es_estimate evaluated the loss on {rows} parameter vectors; it should take {M} "
           f"probes (M = {M}), or {M + 1} with a baseline E(θ).")


# --- question 2 -----------------------------------------------------------------------------

PROBES = (50, 500, 5000)


def _objective_function(net, X, Y, theta0, baseline: bool) -> Fn:
    return Fn("network_objective", {
        "layer_sizes": list(net.layer_sizes), "activation": net.activation.name,
        "output_activation": net.output_activation, "loss": "binary_cross_entropy",
        "X": X, "Y": Y, "baseline": theta0 if baseline else None})


@check("q2", points=1, public=True)
def cosines_defined(student, ctx):  # noqa: ARG001 - a check of the notebook's values
    cosines = ctx.value("cosines")
    expect(isinstance(cosines, dict) and sorted(cosines) == list(PROBES),
           "cosines must be a dict with the keys 50, 500 and 5000")
    expect(all(isinstance(v, (int, float)) and -1.0 <= v <= 1.0 for v in cosines.values()),
           "every cosine must be a number between −1 and 1")


@check("q2", points=2)
def cosines_from_your_estimates(student, ctx):
    net, X, Y = ctx.data
    theta0 = flatten(net)
    shifted = _objective_function(net, X, Y, theta0, baseline=True)
    outcomes = yield [student.es_estimate(shifted, theta0, 1e-4, M, Rng(M)) for M in PROBES] + [
        student.es_estimate(_objective_function(net, X, Y, theta0, False), theta0, 1e-4, 50,
                            Rng(50)),
        student.es_estimate(shifted, theta0, 1e-4, 50, Rng(50))]
    exact = NetworkObjective(net, X, Y, "binary_cross_entropy").gradient(theta0)
    cosines = ctx.value("cosines")
    expect(isinstance(cosines, dict), "cosines must be a dict")

    def cosine(outcome) -> float:
        g = array(outcome.value, "es_estimate at theta0", theta0.shape)
        return float(g @ exact / (np.linalg.norm(g) * np.linalg.norm(exact)))

    reproducible = np.array_equal(np.asarray(outcomes[0].value), np.asarray(outcomes[-1].value))
    if not reproducible:
        # An estimate that ignores its generator (question 1 judges that) cannot be repeated:
        # judge the cosines by what √(M/(M + n)) predicts instead.
        n = theta0.size
        for M in PROBES:
            claimed = cosines.get(M)
            expect(isinstance(claimed, (int, float)) and abs(claimed - np.sqrt(M / (M + n)))
                   < 0.25, f"cosines[{M}] is far from √(M/(M + n)) = "
                           f"{np.sqrt(M / (M + n)):.2f}.")
        return
    for M, outcome in zip(PROBES, outcomes, strict=False):
        claimed = cosines.get(M)
        expected = cosine(outcome)
        if isinstance(claimed, (int, float)) and abs(claimed - expected) < 1e-6:
            continue
        if M == 50 and isinstance(claimed, (int, float)) and abs(
                claimed - cosine(outcomes[-2])) < 1e-6:
            raise CheckFailed("cosines come from the loss itself: pass the loss minus its "
                              "value at theta0, as the question says.")
        raise CheckFailed(f"cosines[{M}] is not the cosine between es_estimate(…, theta0, "
                          f"1e-4, {M}, np.random.default_rng({M})) and the exact gradient "
                          f"(it should be {expected:.4f} with your es_estimate).")


@check("q2", points=2)
def cost(student, ctx):  # noqa: ARG001
    net, _, _ = ctx.data
    n = net.n_parameters
    wanted = int(np.ceil(0.81 / 0.19 * n))
    got = ctx.value("M_for_cosine_09")
    expect(isinstance(got, (int, float)) and abs(got - wanted) <= 1,
           f"M_for_cosine_09 solves √(M/(M + n)) = 0.9 for your n = {n} parameters: "
           "M = 0.81 n / 0.19, rounded up.")
    expect(close(ctx.value("cost_ratio"), got / GRADIENT_COST),
           "cost_ratio should be M_for_cosine_09 / GRADIENT_COST.")
