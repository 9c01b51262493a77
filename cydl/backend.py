"""tf.keras.backend compatibility: floatx, set_floatx, clear_session, get/set_value."""
import numpy as np

from cydl._config import epsilon, floatx, set_floatx
from cydl.layers.base import clear_session as _clear_names


def clear_session(free_memory=True):
    """Reset the state cydl keeps between models: the automatic layer names, so
    the next model's layers are again "dense", "dense_1", ...

    Args:
        free_memory: accepted for Keras compatibility; cydl holds no global
            buffers, so there is nothing more to free.

    Example:

    >>> cydl.backend.clear_session()
    >>> cydl.layers.Dense(3).name
    'dense'
    """
    _clear_names()


def get_value(x):
    """The value of a Variable (or of anything array-like) as NumPy.

    Args:
        x: a Variable, e.g. `model.optimizer.learning_rate`, or an array or number.

    Returns:
        A NumPy array (0-d for a scalar variable such as the learning rate).

    Example:

    >>> K = cydl.backend
    >>> K.get_value(model.optimizer.learning_rate)
    array(0.001)
    """
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def set_value(x, value):
    """Assign `value` to the Variable `x`, in place.

    The book's idiom for changing the learning rate from a callback:
    `K.set_value(model.optimizer.learning_rate, lr)`; the next training step uses
    the new rate.

    Args:
        x: a Variable (e.g. `model.optimizer.learning_rate` or a layer's weight).
        value: a number or an array of x's shape; it is cast to x's dtype.

    Example:

    >>> K = cydl.backend
    >>> lr = model.optimizer.learning_rate
    >>> K.set_value(lr, K.get_value(lr) * 1.1)
    """
    if not hasattr(x, "assign") or not hasattr(x, "dtype"):
        raise TypeError(f"set_value needs a Variable (e.g. model.optimizer.learning_rate). "
                        f"Received: {x!r} of type {type(x).__name__}")
    try:
        array = np.asarray(value, dtype=x.dtype)
    except (TypeError, ValueError):
        raise TypeError(f"set_value: cannot assign {value!r} of type {type(value).__name__} "
                        f"to a Variable of dtype {x.dtype}") from None
    x.assign(array)


__all__ = ["floatx", "set_floatx", "epsilon", "clear_session", "get_value", "set_value"]
