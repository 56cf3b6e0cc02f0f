import numpy as np
import pytest

from bpbook import datasets


def test_digits_pair_is_relabelled_scaled_and_split():
    split = datasets.digits((3, 7), test_fraction=0.25, seed=0)
    assert split.X_train.shape[1] == 64
    assert set(np.unique(split.y_train)) == {0, 1}
    assert split.X_train.min() >= 0 and split.X_train.max() <= 1
    total = len(split.y_train) + len(split.y_val) + len(split.y_test)
    assert len(split.y_test) == round(0.25 * total)
    assert len(split.y_val) == round(0.2 * total)


def test_split_parts_are_disjoint_and_cover_the_data():
    X = np.arange(40, dtype=float).reshape(20, 2)
    parts = datasets.split(X, np.arange(20), validation_fraction=0.25, test_fraction=0.25,
                           seed=1)
    rows = np.concatenate([parts.X_train, parts.X_val, parts.X_test])[:, 0]
    assert sorted(rows.tolist()) == sorted(X[:, 0].tolist())
    assert (len(parts.y_train), len(parts.y_val), len(parts.y_test)) == (10, 5, 5)
    np.testing.assert_array_equal(parts.X_val[:, 0] / 2, parts.y_val)  # rows keep labels


def test_digits_split_is_seeded():
    a, b = datasets.digits(seed=3), datasets.digits(seed=3)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.y_test, datasets.digits(seed=4).y_test)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="classes must be at least two distinct digits"):
        datasets.digits((3, 3))
    with pytest.raises(ValueError, match="test_fraction must lie strictly between 0 and 1"):
        datasets.digits(test_fraction=1.0)
    with pytest.raises(ValueError, match="validation_fraction must lie in"):
        datasets.digits(validation_fraction=0.8)
    with pytest.raises(ValueError, match="X has 3 rows but y has 2 labels"):
        datasets.split(np.zeros((3, 1)), np.zeros(2, dtype=np.int64))


def test_xor_and_moons():
    X, Y = datasets.xor()
    np.testing.assert_array_equal(Y[:, 0], np.logical_xor(X[:, 0], X[:, 1]))
    Xm, ym = datasets.moons(51, noise=0.0, seed=1)
    assert Xm.shape == (51, 2) and ym.sum() == 26
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        datasets.moons(1)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        datasets.moons(10, noise=-1)


def test_standardize_uses_training_statistics_for_every_set():
    rng = np.random.default_rng(0)
    X_train = rng.normal(3.0, 2.0, size=(50, 3))
    X_train[:, 2] = 7.0  # a constant column: centred, not scaled
    X_other = rng.normal(size=(5, 3))
    Z_train, Z_other = datasets.standardize(X_train, X_other)
    np.testing.assert_allclose(Z_train[:, :2].mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(Z_train[:, :2].std(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(Z_train[:, 2], 0.0)
    mean, std = X_train[:, :2].mean(axis=0), X_train[:, :2].std(axis=0)
    np.testing.assert_allclose(Z_other[:, :2], (X_other[:, :2] - mean) / std, rtol=1e-14)
    np.testing.assert_allclose(Z_other[:, 2], X_other[:, 2] - 7.0)
    with pytest.raises(ValueError, match="others\\[0\\]"):
        datasets.standardize(X_train, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="X_train"):
        datasets.standardize(np.zeros(3))


def test_digits_are_read_exactly_as_scikit_learn_loads_them():
    from sklearn.datasets import load_digits

    from bpbook.datasets import _digits_arrays

    pixels, labels = _digits_arrays()
    bunch = load_digits()
    np.testing.assert_array_equal(pixels, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)
    assert pixels.dtype == np.float64 and labels.dtype == np.int64
