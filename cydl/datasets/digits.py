"""Handwritten digits (UCI), 1,797 8x8 images: small, real, and shipped with cydl."""
import gzip
from importlib import resources

import numpy as np

from cydl._checks import integer, number


def load_data(test_split=0.25, seed=42):
    """((x_train, y_train), (x_test, y_test)): float32 images (n, 8, 8) with pixel
    values 0..16 and int64 labels 0..9, split at random with `seed`.

    Example:
    >>> (X_train, y_train), (X_test, y_test) = cydl.datasets.digits.load_data()
    """
    # a fraction outside [0, 1) would silently swap or empty the two parts
    number(test_split, "test_split", low=0.0, high=1.0, high_open=True, owner="load_data")
    integer(seed, "seed", low=0, owner="load_data")
    with resources.files("cydl.datasets").joinpath("data/digits.csv.gz").open("rb") as f:
        raw = np.loadtxt(gzip.open(f, "rt"), delimiter=",")
    X = raw[:, :64].astype(np.float32).reshape(-1, 8, 8)
    y = raw[:, 64].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_split))
    test, train = order[:n_test], order[n_test:]
    return (X[train], y[train]), (X[test], y[test])
