"""Small, bundled data sets, split and scaled the same way in every chapter.

Nothing here downloads: the handwritten digits ship with scikit-learn (1,797 images of
8×8 pixels, each an integer from 0 to 16, so 17 grey levels), and XOR and the two moons
are generated from a seed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Split", "digits", "moons", "split", "standardize", "xor"]


class Split(NamedTuple):
    """Training, validation and test data. Inputs are rows of ``X``; ``y`` holds labels.

    Fit on the training part, choose settings (learning rates, widths, stopping times) by
    their loss or accuracy on the validation part, and report the test part once, for the
    settings already chosen: a test set used to choose settings no longer measures
    how well they generalise.
    """

    X_train: NDArray[np.float64]
    y_train: NDArray[np.int64]
    X_val: NDArray[np.float64]
    y_val: NDArray[np.int64]
    X_test: NDArray[np.float64]
    y_test: NDArray[np.int64]


def split(
    X: NDArray[np.float64],
    y: NDArray[np.int64],
    *,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Split:
    """Shuffle the examples with ``seed`` and split them into training, validation and test.

    Parameters
    ----------
    X : ndarray, shape (N, n_0)
    y : ndarray, shape (N,)
    validation_fraction, test_fraction : float
        Shares of all examples held out for validation and for testing; each lies in
        [0, 1), the test share above 0, and together they leave some training examples.
    seed : int
        Seed of the shuffle.

    Examples
    --------
    >>> parts = split(np.zeros((10, 2)), np.arange(10), validation_fraction=0.2,
    ...               test_fraction=0.3)
    >>> [len(parts.y_train), len(parts.y_val), len(parts.y_test)]
    [5, 2, 3]
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    if not 0.0 <= validation_fraction < 1.0 - test_fraction:
        raise ValueError(
            f"validation_fraction must lie in [0, 1 - test_fraction) = [0, {1 - test_fraction:g}),"
            f" got {validation_fraction!r}"
        )
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    n_val = int(round(validation_fraction * len(y)))
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return Split(X[train], y[train], X[val], y[val], X[test], y[test])


def digits(
    classes: Sequence[int] | None = None,
    test_fraction: float = 0.25,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """The handwritten digits of scikit-learn, pixels scaled to [0, 1], split three ways.

    Parameters
    ----------
    classes : sequence of int, optional
        Digits to keep, e.g. ``(3, 7)``; labels are renumbered ``0 .. len(classes) − 1``
        in the given order (so for ``(3, 7)`` a 3 is 0 and a 7 is 1). Default: all ten.
    test_fraction, validation_fraction : float
        Shares of the examples held out for testing and for validation (see :func:`split`).
    seed : int
        Seed of the shuffle that splits the data.

    Returns
    -------
    Split
        ``X_*`` of shape ``(m, 64)`` (an image is ``X[i].reshape(8, 8)``), ``y_*`` of
        shape ``(m,)``.
    """
    pixels, labels = _digits_arrays()
    X = pixels / 16.0
    y = labels
    if classes is not None:
        classes = list(classes)
        unknown = [c for c in classes if c not in range(10)]
        if unknown or len(set(classes)) != len(classes) or len(classes) < 2:
            raise ValueError(f"classes must be at least two distinct digits 0-9, got {classes}")
        keep = np.isin(y, classes)
        X, y = X[keep], np.array([classes.index(v) for v in y[keep]], dtype=np.int64)
    return split(X, y, validation_fraction=validation_fraction, test_fraction=test_fraction,
                 seed=seed)


def standardize(
    X_train: ArrayLike, *others: ArrayLike
) -> tuple[NDArray[np.float64], ...]:
    """Centre and scale every input column with the mean and standard deviation of the
    *training* data, and apply the same transformation to the other data sets.

    Standardised inputs make the Hessian of a linear model (and of a network's first
    layer) far better conditioned: centring removes the large curvature along the mean
    input, scaling lifts the small curvatures of rarely varying columns. The statistics
    come from the training data only, so that validation and test data stay unseen.
    A column that is constant in the training data is centred and left unscaled.

    Parameters
    ----------
    X_train : array_like, shape (N, n_0)
    *others : array_like, shape (m, n_0)
        Validation, test or any other inputs.

    Returns
    -------
    tuple of ndarray
        ``(X_train, *others)`` transformed, in the order given.

    Examples
    --------
    >>> Z_train, Z_test = standardize([[0.0, 5.0], [2.0, 5.0]], [[1.0, 6.0]])
    >>> Z_train
    array([[-1.,  0.],
           [ 1.,  0.]])
    >>> Z_test
    array([[0., 1.]])
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    if X_train.ndim != 2 or len(X_train) < 2:
        raise ValueError(f"X_train must be a 2-D array with at least two rows, got shape "
                         f"{X_train.shape}")
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    result = [(X_train - mean) / std]
    for i, X in enumerate(others):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != X_train.shape[1]:
            raise ValueError(f"others[{i}] must have shape (m, {X_train.shape[1]}), got "
                             f"{X.shape}")
        result.append((X - mean) / std)
    return tuple(result)


def _digits_arrays() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The 1,797 digit images (pixel values 0 to 16) and their labels, as shipped with
    scikit-learn.

    The data are read from the file scikit-learn keeps them in, without importing
    scikit-learn: the import takes about a second, far longer than reading the file, and
    every chapter that uses the digits would pay it. If the file is not where this
    version of scikit-learn keeps it, ``sklearn.datasets.load_digits`` reads it instead.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # the slow, official way

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


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
