"""How much more does a gradient cost than a forward pass?

For a dense layer the forward pass is one matrix product (A Wᵀ); the backward pass is
two (δᵀ A for ∂E/∂W and δ W for the next delta). So loss + gradient should cost about
three forward passes, whatever the size of the network: the cheap-gradient principle.
This script measures, in one run and on the same inputs, the median time of
``MLP.forward`` (the forward pass), ``MLP.loss`` (forward pass and loss, what an
evolution strategy pays per evaluation) and ``MLP.gradients`` (loss and gradient), calls
interleaved so that a change in the machine's load affects all three alike, and prints
the ratios gradient / forward and gradient / loss for a few network and minibatch sizes.

Run: ``make bench`` or ``.venv/bin/python bench/backward_vs_forward.py``.
"""

from __future__ import annotations

import os

# One BLAS thread: on a shared 2-core machine, multithreaded timings swing by 3x from
# run to run, and the ratio is about operation counts, not parallel speed-up.
# Set OPENBLAS_NUM_THREADS yourself to measure otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

from bpbook import MLP  # noqa: E402

CASES = [
    # (layer sizes, minibatch size)
    ((64, 30, 10), 32),
    ((64, 30, 10), 256),
    ((64, 256, 256, 10), 256),
    ((784, 512, 512, 10), 128),
    ((784, 1024, 1024, 10), 512),
]


def interleaved_medians(calls: list[Callable[[], object]], repeats: int) -> list[float]:
    """Run the calls round-robin ``repeats`` times; the median seconds of each."""
    for call in calls:  # warm-up: first calls pay for allocation and BLAS start-up
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, record in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}")
    print(
        f"{'layers':<22}{'batch':>6}{'params':>10}{'forward ms':>12}{'loss ms':>10}"
        f"{'gradient ms':>13}{'grad/fwd':>10}{'grad/loss':>11}"
    )
    worst = 0.0
    for sizes, m in CASES:
        net = MLP(sizes, activation="sigmoid", output_activation="softmax", seed=0)
        X = rng.normal(size=(m, sizes[0]))
        labels = rng.integers(0, sizes[-1], m)
        repeats = 300 if net.n_parameters * m < 5e7 else 30
        t_forward, t_loss, t_gradient = interleaved_medians(
            [
                partial(net.forward, X),
                partial(net.loss, X, labels, loss="softmax_cross_entropy"),
                partial(net.gradients, X, labels, loss="softmax_cross_entropy"),
            ],
            repeats,
        )
        worst = max(worst, t_gradient / t_forward)
        name = "-".join(map(str, sizes))
        print(
            f"{name:<22}{m:>6}{net.n_parameters:>10}{1e3 * t_forward:>12.3f}"
            f"{1e3 * t_loss:>10.3f}{1e3 * t_gradient:>13.3f}"
            f"{t_gradient / t_forward:>10.2f}{t_gradient / t_loss:>11.2f}"
        )
    print(f"largest gradient/forward ratio: {worst:.2f}")


if __name__ == "__main__":
    main()
