"""How much more does a gradient cost than a forward pass?

For a dense layer the forward pass is one matrix product (A Wᵀ); the backward pass is
two (δᵀ A for ∂E/∂W and δ W for the next delta). So loss + gradient should cost about
three forward passes, whatever the size of the network: the cheap-gradient principle.
This script measures the ratio median(time of MLP.gradients) / median(time of MLP.forward)
in one run, on the same inputs, for a few network and minibatch sizes.

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


def median_time(call, repeats: int) -> float:
    call()  # warm-up: first calls pay for allocation and BLAS thread start-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}")
    print(
        f"{'layers':<22}{'batch':>6}{'params':>10}"
        f"{'forward ms':>12}{'gradient ms':>13}{'ratio':>8}"
    )
    for sizes, m in CASES:
        net = MLP(sizes, activation="sigmoid", output_activation="identity", seed=0)
        X = rng.normal(size=(m, sizes[0]))
        labels = rng.integers(0, sizes[-1], m)
        repeats = 200 if net.n_parameters * m < 5e7 else 20
        t_forward = median_time(lambda: net.forward(X), repeats)
        t_gradient = median_time(
            lambda: net.gradients(X, labels, loss="softmax_cross_entropy"), repeats
        )
        name = "-".join(map(str, sizes))
        print(
            f"{name:<22}{m:>6}{net.n_parameters:>10}{1e3 * t_forward:>12.3f}"
            f"{1e3 * t_gradient:>13.3f}{t_gradient / t_forward:>8.2f}"
        )


if __name__ == "__main__":
    main()
