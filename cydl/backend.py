"""tf.keras.backend compatibility: floatx, set_floatx, clear_session, get/set_value."""
import numpy as np

from cydl._config import epsilon, floatx, set_floatx
from cydl.layers.base import clear_session as _clear_names


def clear_session():
    """Reset the automatic layer names (dense, dense_1, ...)."""
    _clear_names()


def get_value(x):
    """The value of a Variable (e.g. optimizer.learning_rate) as NumPy."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def set_value(x, value):
    """Assign to a Variable, e.g. set_value(model.optimizer.learning_rate, 1e-3)."""
    if not hasattr(x, "assign"):
        raise TypeError(f"set_value needs a Variable, received {type(x).__name__}")
    x.assign(np.asarray(value, dtype=x.dtype))


__all__ = ["floatx", "set_floatx", "epsilon", "clear_session", "get_value", "set_value"]
