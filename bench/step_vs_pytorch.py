"""Is bpbook's training step as fast as PyTorch's on the CPU?

One training step is the loss, its gradient by backpropagation and a gradient-descent
update of every weight and bias, for an MLP with sigmoid hidden layers and a softmax
cross-entropy output. The same networks, minibatches and learning rate run in bpbook
(float64, NumPy) and in PyTorch (float64 and float32), one thread each, and the steps
are **interleaved** (bpbook, torch float64, torch float32, bpbook, …) so that a change
in the machine's load hits all three alike. The script prints the median time of each
and the ratio bpbook / PyTorch-float64, the like-for-like comparison.

The comparison runs twice, each in a fresh process: with glibc's default allocator,
which hands large freed arrays back to the operating system so that the next step's
arrays are fresh pages the kernel must zero and map again, and with glibc told to keep
freed memory (``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised), which
is what PyTorch's own caching allocator does for its tensors. NumPy allocates each
step's arrays anew, so the first setting charges bpbook for page faults that PyTorch
avoids; the second compares the arithmetic.

PyTorch is not a dependency of the book. Install its CPU build into the environment to
run this::

    .venv/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cpu

(on the machines this book is developed on, ``pip install torch==2.13.0`` takes a CPU
wheel from local disk). Run: ``.venv/bin/python bench/step_vs_pytorch.py``.
"""

from __future__ import annotations

import os

# One BLAS thread for NumPy, one intra-op thread for PyTorch: the comparison is of the
# work each library does, not of how it parallelises on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from bpbook import MLP  # noqa: E402
from bpbook.optim import GradientDescent  # noqa: E402

CASES = [
    # (layer sizes, minibatch size)
    ((64, 30, 10), 32),
    ((64, 100, 10), 64),
    ((64, 256, 256, 10), 128),
    ((64, 256, 256, 10), 256),
    ((784, 512, 512, 10), 128),
    ((784, 512, 512, 10), 256),
]
LEARNING_RATE = 0.1

#: glibc settings under which freed memory is kept for reuse instead of returned to the
#: operating system (256 MiB thresholds: larger than any array of these networks).
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(2**28), "MALLOC_TRIM_THRESHOLD_": str(2**28)}
CHILD = "BPBOOK_BENCH_CHILD"


def bpbook_step(sizes: tuple[int, ...], X: np.ndarray, labels: np.ndarray) -> Callable[[], float]:
    """One training step of bpbook: loss, backpropagation, gradient-descent update."""
    net = MLP(sizes, activation="sigmoid", output_activation="softmax", seed=0)
    optimizer = GradientDescent(LEARNING_RATE)
    parameters = list(net.weights) + list(net.biases)

    def step() -> float:
        loss, grad_w, grad_b = net.gradients(X, labels, loss="softmax_cross_entropy")
        optimizer.step(parameters, grad_w + grad_b)
        return loss

    return step


def torch_step(torch, sizes: tuple[int, ...], X: np.ndarray, labels: np.ndarray, dtype):
    """The same step in PyTorch: the same initial weights, data and learning rate."""
    net = MLP(sizes, activation="sigmoid", seed=0)
    layers = []
    for l in range(1, len(sizes)):
        linear = torch.nn.Linear(sizes[l - 1], sizes[l], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(net.weights[l - 1]))
            linear.bias.zero_()
        layers += [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers[:-1])  # logits: the loss applies the softmax
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs = torch.from_numpy(X).to(dtype)
    targets = torch.from_numpy(labels)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def interleaved_medians(steps: list[Callable[[], float]], repeats: int) -> list[float]:
    """Run the steps round-robin ``repeats`` times; the median seconds of each."""
    for step in steps:  # warm-up: allocation, BLAS start-up, PyTorch's first dispatch
        step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for step, record in zip(steps, times, strict=True):
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def compare() -> float:
    """Time the three steps on every case; print the table; return the largest ratio."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'layers':<17}{'batch':>6}{'bpbook ms':>11}{'torch64 ms':>12}"
          f"{'torch32 ms':>12}{'bpbook/torch64':>16}")
    ratios = []
    for sizes, m in CASES:
        X = rng.normal(size=(m, sizes[0]))
        labels = rng.integers(0, sizes[-1], m)
        steps = [
            bpbook_step(sizes, X, labels),
            torch_step(torch, sizes, X, labels, torch.float64),
            torch_step(torch, sizes, X, labels, torch.float32),
        ]
        macs = m * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        repeats = 400 if macs < 1e6 else 100 if macs < 3e7 else 30
        ours, t64, t32 = interleaved_medians(steps, repeats)
        ratios.append(ours / t64)
        name = "-".join(map(str, sizes))
        print(f"{name:<17}{m:>6}{1e3 * ours:>11.3f}{1e3 * t64:>12.3f}{1e3 * t32:>12.3f}"
              f"{ours / t64:>16.2f}")
    print(f"largest ratio bpbook/torch64: {max(ratios):.2f}", flush=True)
    return max(ratios)


def main() -> int:
    try:
        import torch
    except ImportError:
        print(__doc__)
        print("PyTorch is not installed in this environment: nothing to compare with.")
        return 0
    if os.environ.get(CHILD):
        compare()
        return 0
    print(f"PyTorch {torch.__version__}, NumPy {np.__version__}; one thread each; "
          "median over interleaved repeats")
    default = {k: v for k, v in os.environ.items() if k not in KEEP_FREED_MEMORY}
    for title, env in [
        ("glibc's default allocator (freed memory returned to the system)", default),
        ("glibc keeping freed memory, as PyTorch's caching allocator does",
         {**default, **KEEP_FREED_MEMORY}),
    ]:
        print(f"\n{title}:", flush=True)
        result = subprocess.run([sys.executable, __file__], env={**env, CHILD: "1"})
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
