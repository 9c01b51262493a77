"""Utilities: seeding, label encoding, model plots and training diagnostics."""
import numpy as np

from cydl._checks import as_array
from cydl._config import set_random_seed
from cydl._registry import positive_int
from cydl.utils.plot import model_to_dot, plot_model
from cydl.utils.diagnostics import check_gradients, find_learning_rate, sanity_check


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels.

    Example:
    >>> cydl.utils.to_categorical([0, 2], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    a = as_array(y, "y")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`y` must hold integer class labels. Received an array of dtype "
                        f"{a.dtype}")
    # a cast to int64 would truncate 1.7 to 1 and turn NaN into a huge negative label
    if a.dtype.kind == "f" and a.size and not np.array_equal(a, np.floor(a)):
        bad = a.reshape(-1)[np.flatnonzero(a.reshape(-1) != np.floor(a.reshape(-1)))[0]]
        raise ValueError(f"`y` must hold integer class labels. Received the value {bad.item()!r}")
    y = a.astype(np.int64).reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f"Labels must be non-negative. Received {y.min()}")
    n = positive_int(num_classes, "num_classes") if num_classes is not None \
        else int(y.max()) + 1
    if y.size and y.max() >= n:
        raise ValueError(f"Label {y.max()} is out of range for num_classes={n}")
    out = np.zeros((y.size, n), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


__all__ = ["set_random_seed", "to_categorical", "plot_model", "model_to_dot",
           "check_gradients", "sanity_check", "find_learning_rate"]
