"""California housing (StatLib, 1990 census): 20,640 block groups, 8 features."""
import gzip

import numpy as np

from cydl._checks import integer, number
from cydl.datasets._files import find

FEATURE_NAMES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                 "Latitude", "Longitude"]


def load_arrays(path=None):
    """(X (20640, 8) float64, y (20640,) float64) with scikit-learn's features and
    target (median house value in units of $100,000)."""
    from pathlib import Path
    d = Path(path) if path is not None else find("california-housing", ["cal_housing.data.gz"])
    with gzip.open(d / "cal_housing.data.gz", "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    lon, lat, age, rooms, bedrooms, pop, households, income, value = raw.T
    X = np.column_stack([income, age, rooms / households, bedrooms / households, pop,
                         pop / households, lat, lon])
    return X, value / 100000.0


def load_data(path=None, test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)), shuffled with `seed`, as Keras'
    california_housing.load_data (but with scikit-learn's 8 derived features).

    Example:
    >>> (X_train, y_train), (X_test, y_test) = cydl.datasets.california_housing.load_data()
    """
    # a fraction outside [0, 1) would silently swap or empty the two parts
    number(test_split, "test_split", low=0.0, high=1.0, high_open=True, owner="load_data")
    integer(seed, "seed", low=0, owner="load_data")
    X, y = load_arrays(path)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_test = int(len(X) * test_split)
    return (X[n_test:], y[n_test:]), (X[:n_test], y[:n_test])
