"""Utilities: seeding and label encoding."""
import numpy as np

from cydl._config import set_random_seed


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels.

    Example:
    >>> cydl.utils.to_categorical([0, 2], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f"Labels must be non-negative. Received {y.min()}")
    n = int(num_classes) if num_classes is not None else int(y.max()) + 1
    if y.size and y.max() >= n:
        raise ValueError(f"Label {y.max()} is out of range for num_classes={n}")
    out = np.zeros((y.size, n), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


__all__ = ["set_random_seed", "to_categorical"]
