"""Elementwise comparisons with Keras 3's `keras.ops` names.

They give boolean arrays and carry no gradient. On concrete values (arrays,
Variables, taped Tensors) the result is a NumPy bool array; on the symbolic inputs
of the functional API they record a graph node, like every other op. A Tensor's
`==` stays identity (see cydl.autodiff.Tensor): `equal` is the elementwise one.
"""
import numpy as np

from cydl.autodiff import apply, value_of


def _comparison(name, np_fn):
    def prim(values, need, **_):
        out = np_fn(*values)
        # a bool result has no gradient; under a tape the node is still a valid one
        return out, None if need is None else (lambda g: (None, None))

    def op(x1, x2):
        if getattr(x1, "_is_symbolic", False) or getattr(x2, "_is_symbolic", False):
            return apply(prim, (x1, x2))
        return np_fn(value_of(x1), value_of(x2))
    op.__name__ = name
    op.__doc__ = (f"Elementwise `{name}` with NumPy broadcasting: a bool array, no "
                  f"gradient.\n\n    Example:\n    >>> mask = cydl.ops.{name}(h, 0.0)\n    ")
    return op


equal = _comparison("equal", np.equal)
not_equal = _comparison("not_equal", np.not_equal)
less = _comparison("less", np.less)
less_equal = _comparison("less_equal", np.less_equal)
greater = _comparison("greater", np.greater)
greater_equal = _comparison("greater_equal", np.greater_equal)
