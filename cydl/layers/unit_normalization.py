"""UnitNormalization: each sample scaled to unit L2 norm over the given axes."""
from cydl import ops
from cydl.layers.base import Layer

_EPSILON = 1e-12      # Keras': the norm is taken as at least this


class UnitNormalization(Layer):
    """Divides each input by its L2 norm over `axis`, so that the result has norm
    1 there. As in Keras 3, norms below 1e-12 count as 1e-12 (an all-zero input
    stays zero): `x / max(sqrt(sum(x^2)), 1e-12)`.

    Args:
        axis: int or list/tuple of ints, the axes to normalize over (default -1).

    Example:
    >>> cydl.layers.UnitNormalization()(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(_is_int(a) for a in axis) and axis:
            self.axis = [int(a) for a in axis]
        elif _is_int(axis):
            self.axis = int(axis)
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a "
                            f"list/tuple of ints. Received: axis={axis!r}")

    def build(self, input_shape):
        self.compute_output_shape(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        rank = len(input_shape)
        for a in (self.axis if isinstance(self.axis, list) else [self.axis]):
            if not -rank <= a < rank:
                raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                                 f"{tuple(input_shape)}.")
        return tuple(input_shape)

    def call(self, inputs, training=None):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        square_sum = ops.sum(ops.square(inputs), axis=axis, keepdims=True)
        # the floor goes on the squared sum, before the square root: sqrt's gradient
        # at an all-zero input is then finite (0), where max(norm, eps) would give NaN
        return ops.divide(inputs, ops.sqrt(ops.maximum(square_sum, _EPSILON ** 2)))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _is_int(value):
    import numbers
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
