"""How many more loss evaluations does evolution need than backpropagation, as n grows?

The protocol is chapter 6's. For each model size, every method has its settings chosen
from a grid by the median, over three tuning seeds (100, 101, 102), of the loss
evaluations it needs to reach a training-loss target (:func:`bpbook.evolution.tune`,
which stops a setting as soon as it can no longer win); the chosen settings then run on
five other seeds (0 to 4), and the script prints the median and range of those five.
A gradient is charged ``GRADIENT_COST`` = 3 evaluations; since every ratio scales with
3/c for a charge c, the ratios at other charges follow by one division.

Two families of models:

* a linear neuron fitted by least squares, with d inputs whose scales spread over a
  factor of sqrt(10), so that every n = d + 1 is equally hard for gradient descent; the
  target is a loss 0.002 above the least possible. Gradient descent against ES with raw
  losses (rank shaping off: an unbiased estimate of the smoothed gradient), M = 20,
  sigma = 0.05;
* a 64-h-10 network of tanh units on 300 of the 8x8 digits (softmax cross-entropy) for
  growing widths h, target loss 0.3. Gradient descent against the (1+1) hill climber
  with the 1/5 rule and ES with centred ranks, M = 20.

A chosen setting on the edge of its grid is marked "(edge)" (for gradient descent, "*"):
the grid should then be widened, except along one ridge: a rank-shaped ES step has a
length of about eta * sqrt(n / 12M) / sigma whatever the gradient, so settings with the
same eta / sigma cost about the same, and the choice among them can drift to an edge.
For each family the script fits the slope of log(median evaluation ratio) against log(n)
by least squares, over the sizes where all five runs of both methods reached the target,
and prints which sizes (if any) were left out and why. Wall-clock seconds are printed
too, as one run's values on this machine: they depend on the machine, its load and the
implementation (at small n mostly the fixed cost per Python call), not only on the work.

Run: ``.venv/bin/python bench/es_vs_backprop.py`` (two to three minutes of CPU on one
core, more wall time on a busy machine; it prints its own total at the end; ``--quick``
runs the smaller half of each family).
"""

from __future__ import annotations

import os

# One BLAS thread, as in backward_vs_forward.py: timings on a shared 2-core machine swing
# too much otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from bpbook import MLP, datasets  # noqa: E402
from bpbook.evolution import (  # noqa: E402
    GRADIENT_COST,
    EvolutionStrategy,
    HillClimber,
    NetworkObjective,
    Run,
    Strategy,
    descend,
    flatten,
    optimize_many,
    tune,
    tune_descent,
)

TUNING_SEEDS = (100, 101, 102)
SEEDS = (0, 1, 2, 3, 4)


class Problem:
    """An objective, a start for every seed, a target and a budget of evaluations."""

    def __init__(self, f: NetworkObjective, start: Callable[[int], np.ndarray],
                 target: float, budget: int) -> None:
        self.f, self.start, self.target, self.budget = f, start, target, budget


def least_squares(d: int) -> Problem:
    """Least squares with d inputs of scales from 1 down to 1/sqrt(10), and a little noise.

    There are at least 4d examples, so the problem stays well determined as d grows.
    The target is the least loss (by ``lstsq``) plus 0.002.
    """
    m = max(400, 4 * d)
    rng = np.random.default_rng(d)
    X = rng.normal(size=(m, d)) * np.geomspace(1.0, 10**-0.5, d)
    w = rng.normal(0.0, 1.0, d) / np.sqrt(d)
    Y = (X @ w + 0.1 * rng.normal(size=m))[:, None]
    X1 = np.column_stack([X, np.ones(m)])
    least = float(np.sum((X1 @ np.linalg.lstsq(X1, Y, rcond=None)[0] - Y) ** 2) / m)
    f = NetworkObjective(MLP([d, 1], activation="identity"), X, Y, "mse")

    def start(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).normal(size=d + 1) / np.sqrt(d + 1)

    return Problem(f, start, least + 0.002, 400_000)


def digits(h: int) -> Problem:
    """A 64-h-10 tanh network on 300 training digits (softmax cross-entropy), target 0.3."""
    split = datasets.digits(seed=0)
    f = NetworkObjective(MLP([64, h, 10], activation="tanh"), split.X_train[:300],
                         split.y_train[:300], "softmax_cross_entropy")

    def start(seed: int) -> np.ndarray:
        return flatten(MLP([64, h, 10], activation="tanh", seed=seed))

    return Problem(f, start, 0.3, 100_000)


#: Per family: gradient descent's rates, and per evolutionary method a grid and a maker
#: ``make(problem)(setting, seed) -> Strategy``.
GD_RATES = {"least squares": 2.0 ** np.arange(-3, 3), "digits": 2.0 ** np.arange(-1, 5)}
METHODS: dict[str, dict[str, tuple[list, Callable[[Problem], Callable[..., Strategy]]]]] = {
    "least squares": {
        "ES (raw)": (list(2.0 ** np.arange(-7, 2)), lambda p: lambda eta, seed:
                     EvolutionStrategy(p.start(seed), 0.05, 20, eta, rank_shaping=False,
                                       seed=seed)),
    },
    "digits": {
        "hill climber": ([0.003, 0.01, 0.03, 0.1, 0.3], lambda p: lambda sigma, seed:
                         HillClimber(p.start(seed), sigma, adapt_sigma=True, seed=seed)),
        "ES (ranks)": ([(s, eta) for s in (0.025, 0.05, 0.1, 0.2, 0.4)
                        for eta in (0.0125, 0.025, 0.05, 0.1, 0.2, 0.4)],
                       lambda p: lambda setting, seed: EvolutionStrategy(
                           p.start(seed), setting[0], 20, setting[1], seed=seed)),
    },
}


def costs(runs: list[Run]) -> np.ndarray:
    return np.array([run.cost for run in runs])


def text(values: np.ndarray) -> str:
    missed = int(np.sum(~np.isfinite(values)))
    if missed:
        finite = values[np.isfinite(values)]
        rest = f", others {finite.min():.0f}-{finite.max():.0f}" if len(finite) else ""
        return f"{missed} of {len(values)} missed{rest}"
    return f"{np.median(values):.0f} ({values.min():.0f}-{values.max():.0f})"


def seconds(runs: list[Run]) -> float:
    """Median wall time to the target of runs made one at a time (this machine, this run)."""
    return float(np.median([run.seconds[-1] for run in runs]))


def on_edge(grid: list, best: object) -> bool:
    """Whether a component of the chosen setting lies on the edge of its grid."""
    values = np.array([np.atleast_1d(g) for g in grid], dtype=float)
    chosen = np.atleast_1d(best).astype(float)
    return any(len(np.unique(values[:, j])) > 1
               and chosen[j] in (values[:, j].min(), values[:, j].max())
               for j in range(values.shape[1]))


def run_family(family: str, problems: list[Problem]) -> None:
    print(f"\n{family}: evaluations to the target, median (range) of seeds {SEEDS}; "
          f"a gradient counts {GRADIENT_COST}")
    methods = METHODS[family]
    header = f"{'n':>6}{'GD: eta':>9}{'GD evaluations':>20}"
    for name in methods:
        header += f"{name + ': setting':>26}{name + ' evaluations':>26}{'ratio':>7}"
    print(header)
    ratios: dict[str, list[tuple[int, float, bool]]] = {name: [] for name in methods}
    wall: list[str] = []
    for p in problems:
        n = p.f.n_parameters
        gd_tuning = tune_descent(p.f, p.start, GD_RATES[family], TUNING_SEEDS, p.budget,
                                 target=p.target)
        gd_runs = [descend(p.f, p.start(s), gd_tuning.best, p.budget, target=p.target)[0]
                   for s in SEEDS]
        gd = costs(gd_runs)
        edge = "*" if on_edge(list(GD_RATES[family]), gd_tuning.best) else ""
        line = f"{n:>6}{gd_tuning.best:>8g}{edge:1}{text(gd):>20}"
        times = f"{n:>6}  GD {1e3 * seconds(gd_runs):8.1f} ms"
        for name, (grid, maker) in methods.items():
            make = maker(p)
            tuning = tune(make, grid, p.f, TUNING_SEEDS, p.budget, target=p.target)
            runs = [optimize_many([make(tuning.best, s)], p.f, p.budget,
                                  target=p.target)[0] for s in SEEDS]
            evo = costs(runs)
            complete = bool(np.all(np.isfinite(evo)) and np.all(np.isfinite(gd)))
            ratio = float(np.median(evo) / np.median(gd)) if complete else float("inf")
            ratios[name].append((n, ratio, complete))
            setting = ", ".join(f"{v:g}" for v in np.atleast_1d(tuning.best))
            setting += " (edge)" if on_edge(grid, tuning.best) else ""
            line += f"{setting:>26}{text(evo):>26}{ratio:>7.1f}"
            times += f"   {name} {1e3 * seconds(runs):9.1f} ms"
        print(line, flush=True)
        wall.append(times)
    print("wall time to the target, median of the five seeds (this run, this machine):")
    print("\n".join(wall))
    for name, rows in ratios.items():
        used = [(n, r) for n, r, complete in rows if complete]
        left_out = [n for n, _, complete in rows if not complete]
        if len(used) >= 2:
            sizes, values = np.array(used).T
            slope = np.polyfit(np.log(sizes), np.log(values), 1)[0]
            print(f"{name}: slope of log(median ratio) on log(n), least squares over "
                  f"n = {[int(n) for n in sizes]}: {slope:.2f}")
        print(f"{name}: sizes left out of the fit because a run missed the target: "
              f"{left_out or 'none'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smaller half of each family")
    args = parser.parse_args(argv)
    sizes = (4, 8, 16, 32) if args.quick else (4, 8, 16, 32, 64, 128, 256, 512)
    widths = (4, 8) if args.quick else (4, 8, 16, 32)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    run_family("least squares", [least_squares(d) for d in sizes])
    run_family("digits", [digits(h) for h in widths])
    print(f"\ntotal: {time.process_time() - start_cpu:.0f} s of CPU, "
          f"{time.perf_counter() - start_wall:.0f} s of wall time")


if __name__ == "__main__":
    main()
