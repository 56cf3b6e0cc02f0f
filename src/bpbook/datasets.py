"""Small, bundled data sets, split and scaled the same way in every chapter.

Nothing here downloads: the handwritten digits ship with scikit-learn (1,797 images of
8×8 pixels, each an integer from 0 to 16, so 17 grey levels), and XOR and the two moons
are generated from a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["Split", "digits", "moons", "xor"]


class Split(NamedTuple):
    """Training and test data. Inputs are rows of ``X``; ``y`` holds integer labels."""

    X_train: NDArray[np.float64]
    y_train: NDArray[np.int64]
    X_test: NDArray[np.float64]
    y_test: NDArray[np.int64]


def _split(X, y, test_fraction: float, seed: int) -> Split:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return Split(X[train], y[train], X[test], y[test])


def digits(
    classes: Sequence[int] | None = None, test_fraction: float = 0.25, seed: int = 0
) -> Split:
    """The handwritten digits of scikit-learn, pixels scaled to [0, 1].

    Parameters
    ----------
    classes : sequence of int, optional
        Digits to keep, e.g. ``(3, 7)``; labels are renumbered ``0 .. len(classes) − 1``
        in the given order (so for ``(3, 7)`` a 3 is 0 and a 7 is 1). Default: all ten.
    test_fraction : float
        Share of the examples held out for testing.
    seed : int
        Seed of the shuffle that splits training from test data.

    Returns
    -------
    Split
        ``X_*`` of shape ``(m, 64)`` (an image is ``X[i].reshape(8, 8)``), ``y_*`` of
        shape ``(m,)``.
    """
    from sklearn.datasets import load_digits  # imported here: only this loader needs it

    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    if classes is not None:
        classes = list(classes)
        unknown = [c for c in classes if c not in range(10)]
        if unknown or len(set(classes)) != len(classes) or len(classes) < 2:
            raise ValueError(f"classes must be at least two distinct digits 0-9, got {classes}")
        keep = np.isin(y, classes)
        X, y = X[keep], np.array([classes.index(v) for v in y[keep]], dtype=np.int64)
    return _split(X, y, test_fraction, seed)


def xor() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The four XOR examples: ``X`` of shape (4, 2) and targets ``Y`` of shape (4, 1)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, Y


def moons(
    n: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Two interleaving half circles (``n`` points, labels 0 and 1), with Gaussian noise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    angle_upper = rng.uniform(0.0, np.pi, n_upper)
    angle_lower = rng.uniform(0.0, np.pi, n - n_upper)
    upper = np.column_stack([np.cos(angle_upper), np.sin(angle_upper)])
    lower = np.column_stack([1.0 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)])
    X = np.vstack([upper, lower]) + rng.normal(0.0, noise, (n, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n - n_upper, np.int64)])
    return X, y
