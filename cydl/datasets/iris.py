"""Fisher's iris data (1936): 150 flowers, 4 measurements, 3 species. Ships with cydl.

`data/iris.csv` is scikit-learn's bundled copy (`sklearn/datasets/data/iris.csv`,
scikit-learn 1.9.1 wheel; 2,734 bytes, md5 d69a16ea6136ccb02a7c37c66375ebba):
Fisher's values, as in R, which differ from the UCI file in two rows. License:
CC BY 4.0 (UCI Machine Learning Repository, https://doi.org/10.24432/C56C76). Its
first line is a header: the row and column counts, then the three class names.
"""
from importlib import resources

import numpy as np

from cydl._checks import integer, number

FEATURE_NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                 "petal width (cm)"]
TARGET_NAMES = ["setosa", "versicolor", "virginica"]

DESCR = """Iris plants dataset
--------------------

150 samples (50 of each of 3 classes), 4 numeric attributes: sepal length, sepal
width, petal length and petal width, in cm. Classes: Iris-Setosa, Iris-Versicolour,
Iris-Virginica. No missing values. Setosa is linearly separable from the other two;
versicolor and virginica are not linearly separable from each other.

Creator: R.A. Fisher, "The use of multiple measurements in taxonomic problems",
Annual Eugenics, 7, Part II, 179-188 (1936). These are Fisher's values (as in R),
which differ from the UCI Machine Learning Repository's file in two data points.
"""


class Bunch(dict):
    """A dict whose keys are also attributes, as scikit-learn's Bunch."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __dir__(self):
        return list(self.keys())


def load_arrays():
    """(X, y): X (150, 4) float64 in FEATURE_NAMES order, y (150,) int64 in 0..2."""
    with resources.files("cydl.datasets").joinpath("data/iris.csv").open("r") as f:
        header = f.readline().strip().split(",")
        raw = np.loadtxt(f, delimiter=",")
    n, n_features = int(header[0]), int(header[1])
    if raw.shape != (n, n_features + 1):      # a damaged install, not a user error
        raise ValueError(f"iris.csv holds {raw.shape}, its header says ({n}, "
                         f"{n_features + 1})")
    return raw[:, :n_features].copy(), raw[:, n_features].astype(np.int64)


def load_data(test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)), shuffled with `seed`, in the style of
    the other cydl (and Keras) datasets' load_data.

    Args:
        test_split: the fraction of the 150 samples held out as the test part.
        seed: the seed of the shuffle.

    Example:
    >>> (X_train, y_train), (X_test, y_test) = cydl.datasets.iris.load_data()
    """
    # a fraction outside [0, 1) would silently swap or empty the two parts
    number(test_split, "test_split", low=0.0, high=1.0, high_open=True, owner="load_data")
    integer(seed, "seed", low=0, owner="load_data")
    X, y = load_arrays()
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_test = int(len(X) * test_split)
    return (X[n_test:], y[n_test:]), (X[:n_test], y[:n_test])


def load_iris(*, return_X_y=False, as_frame=False):
    """The iris data as scikit-learn's `sklearn.datasets.load_iris` gives it.

    Args:
        return_X_y: return `(data, target)` instead of a Bunch.
        as_frame: data as a pandas DataFrame (columns FEATURE_NAMES), target as a
            Series named "target", and `frame` the two side by side (needs pandas).

    Returns:
        A Bunch (a dict with attribute access) with `data`, `target`, `frame` (None
        unless as_frame), `target_names`, `DESCR`, `feature_names` and `filename`;
        or `(data, target)` with return_X_y.

    Example:
    >>> iris = load_iris(as_frame=True)
    >>> X = iris.data[["petal length (cm)", "petal width (cm)"]].values
    >>> y = (iris.target == 0)
    """
    for name, value in (("return_X_y", return_X_y), ("as_frame", as_frame)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"load_iris: `{name}` must be a bool. Received: "
                            f"{name}={value!r}")
    data, target = load_arrays()
    frame = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("load_iris(as_frame=True) needs pandas: "
                              "pip install pandas") from e
        frame = pd.concat([pd.DataFrame(data, columns=FEATURE_NAMES),
                           pd.DataFrame(target, columns=["target"])], axis=1)
        data, target = frame[FEATURE_NAMES], frame["target"]
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, frame=frame,
                 target_names=np.array(TARGET_NAMES), DESCR=DESCR,
                 feature_names=list(FEATURE_NAMES), filename="iris.csv")
