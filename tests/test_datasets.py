import numpy as np
import pytest

from bpbook import datasets


def test_digits_pair_is_relabelled_scaled_and_split():
    split = datasets.digits((3, 7), test_fraction=0.25, seed=0)
    assert split.X_train.shape[1] == 64
    assert set(np.unique(split.y_train)) == {0, 1}
    assert split.X_train.min() >= 0 and split.X_train.max() <= 1
    total = len(split.y_train) + len(split.y_test)
    assert len(split.y_test) == round(0.25 * total)


def test_digits_split_is_seeded():
    a, b = datasets.digits(seed=3), datasets.digits(seed=3)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.y_test, datasets.digits(seed=4).y_test)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="classes must be at least two distinct digits"):
        datasets.digits((3, 3))
    with pytest.raises(ValueError, match="test_fraction must lie strictly between 0 and 1"):
        datasets.digits(test_fraction=1.0)


def test_xor_and_moons():
    X, Y = datasets.xor()
    np.testing.assert_array_equal(Y[:, 0], np.logical_xor(X[:, 0], X[:, 1]))
    Xm, ym = datasets.moons(51, noise=0.0, seed=1)
    assert Xm.shape == (51, 2) and ym.sum() == 26
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        datasets.moons(1)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        datasets.moons(10, noise=-1)
