"""How many more loss evaluations does evolution need than backpropagation?

For a growing number of parameters n, this script trains the same model from the same
start by full-batch gradient descent (each gradient charged ``GRADIENT_COST`` = 3 loss
evaluations, see :mod:`bpbook.evolution`) and by evolution strategies (antithetic
sampling, population 20), each with its best learning rate from a grid, until the loss
reaches a target. It prints the loss evaluations and the wall time each needed, and their
ratios ES / GD, measured in one run. Theory (Nesterov & Spokoiny 2017) predicts that
the evaluation ratio grows about linearly with n; the cheap-gradient principle keeps the
cost of a gradient at a constant number of loss evaluations whatever n.

Two families of models:

* a linear neuron fitted by least squares, with d inputs whose scales spread over a
  factor of 10, so that every n is equally hard for gradient descent; the target is a
  loss 0.002 above the least possible;
* a 64-h-10 network of tanh units on 600 of the 8×8 digits (softmax cross-entropy), for
  growing widths h; the target is a loss of 0.3.

Each ES run stops at 40,000 evaluations (or at the count of a faster learning rate).
Wall times include, for both methods, one monitoring loss evaluation per step; on tiny
problems Python's per-call overhead dominates them, and ES, which evaluates a generation
in one batched call, can even be faster in seconds.

Run: ``.venv/bin/python bench/es_vs_backprop.py`` (about 2 to 3 minutes).
"""

from __future__ import annotations

import os

# One BLAS thread, as in backward_vs_forward.py: timings on a shared 2-core machine swing
# too much otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from bpbook import MLP, datasets  # noqa: E402
from bpbook.evolution import (  # noqa: E402
    GRADIENT_COST,
    EvolutionStrategy,
    NetworkObjective,
    evaluations_to_target,
    flatten,
    optimize,
)
from bpbook.optim import minimize  # noqa: E402

GD_RATES = 2.0 ** np.arange(-3, 4)
ES_RATES = 2.0 ** np.arange(-5, 3)


def linear_problem(d: int) -> tuple[NetworkObjective, float]:
    """Least squares with d inputs of scales from 1 down to 1/√10, and a little noise.

    There are at least 4d examples, so the problem stays well determined as d grows.
    Returns the objective and its target: the least loss (by ``lstsq``) plus 0.002.
    """
    m = max(400, 4 * d)
    rng = np.random.default_rng(d)
    X = rng.normal(size=(m, d)) * np.geomspace(1.0, 10**-0.5, d)
    w = rng.normal(0.0, 1.0, d) / np.sqrt(d)
    Y = (X @ w + 0.1 * rng.normal(size=m))[:, None]
    X1 = np.column_stack([X, np.ones(m)])
    least = float(np.sum((X1 @ np.linalg.lstsq(X1, Y, rcond=None)[0] - Y) ** 2) / m)
    f = NetworkObjective(MLP([d, 1], activation="identity", seed=0), X, Y, "mse")
    return f, least + 0.002


def digits_problem(h: int) -> tuple[NetworkObjective, float]:
    """A 64-h-10 tanh network on 600 training digits (softmax cross-entropy), target 0.3."""
    split = datasets.digits(seed=0)
    net = MLP([64, h, 10], activation="tanh", output_activation="identity", seed=0)
    f = NetworkObjective(net, split.X_train[:600], split.y_train[:600],
                         "softmax_cross_entropy")
    return f, 0.3


def best_gradient_descent(f: NetworkObjective, target: float, steps: int):
    """(evaluations, seconds) of the best learning rate of GD_RATES to reach ``target``."""
    best = (np.inf, np.inf)
    for rate in GD_RATES:
        start = time.perf_counter()
        path = minimize(f.value, f.gradient, flatten(f.net), rate, steps)
        seconds = time.perf_counter() - start
        evaluations = evaluations_to_target(
            GRADIENT_COST * np.arange(len(path.values)), path.values, target
        )
        if evaluations < best[0]:
            reached = int(evaluations // GRADIENT_COST)
            best = (evaluations, seconds * reached / max(path.steps, 1))
    return best


def best_evolution_strategy(f: NetworkObjective, target: float, budget: int):
    """(evaluations, seconds) of the best learning rate of ES_RATES to reach ``target``."""
    best = (np.inf, np.inf)
    # Largest rates first: they diverge or finish quickly, and once one has reached the
    # target, slower rates are stopped at its count.
    for rate in ES_RATES[::-1]:
        es = EvolutionStrategy(flatten(f.net), sigma=0.05, population=20,
                               learning_rate=float(rate), rank_shaping=False, seed=0)
        budget_now = int(min(budget, best[0]))  # no need to beat a slower rate's record
        run = optimize(es, f, budget_now, target=target)
        if run.reached_target and run.evaluations[-1] < best[0]:
            best = (float(run.evaluations[-1]), float(run.seconds[-1]))
    return best


def report(name: str, problems, steps: int, budget: int) -> None:
    print(f"\n{name}")
    print(f"{'n':>6}{'GD evals':>10}{'ES evals':>10}{'ratio':>8}"
          f"{'GD ms':>9}{'ES ms':>9}{'ratio':>8}")
    sizes, ratios = [], []
    for f, target in problems:
        gd_evals, gd_s = best_gradient_descent(f, target, steps)
        es_evals, es_s = best_evolution_strategy(f, target, budget)
        ratio = es_evals / gd_evals
        print(f"{f.n_parameters:>6}{gd_evals:>10.0f}{es_evals:>10.0f}{ratio:>8.1f}"
              f"{1e3 * gd_s:>9.1f}{1e3 * es_s:>9.1f}{es_s / gd_s:>8.1f}")
        if np.isfinite(ratio):
            sizes.append(f.n_parameters)
            ratios.append(ratio)
    slope = np.polyfit(np.log(sizes), np.log(ratios), 1)[0]
    print(f"fitted slope of log(evaluation ratio) against log(n): {slope:.2f}")


def main() -> None:
    start = time.perf_counter()
    report("linear neuron, least squares",
           [linear_problem(d) for d in (4, 8, 16, 32, 64, 128, 256, 512)],
           steps=300, budget=40_000)
    report("64-h-10 tanh network, 600 digits, target loss 0.3",
           [digits_problem(h) for h in (4, 8, 16, 32)],
           steps=600, budget=40_000)
    print(f"\ntotal time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
